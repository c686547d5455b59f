"""Bad input, generated: every failure is a clear domain error, never another exception, and writes nothing.

* Organization YAML files (random text, and a valid file with random values put in at random places) through
  `manage.py update_organization`: CommandError or success.
* Users CSV files (random text, and random cells under real column names) through `manage.py make_users`.
* Tracker answers: a proxy in front of the sandbox trackers changes their JSON at random places (or replaces it)
  before the connector sees it; a download ends in success, PermanentError or TransientError, and a failed first
  page writes none of its items (complete pages before a failure are kept on purpose: the retry resumes there).

Each example runs in a savepoint that is rolled back, so examples do not see each other's rows.
"""

from __future__ import annotations

import copy
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import KINDS, SandboxTrackers
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError, TransientError
from siisurit.models import (
    Organization,
    OrganizationProfile,
    Project,
    Task,
    Tracker,
    User,
    UserMapping,
    UserMappingEntry,
    WorkEntry,
    WorkMatch,
)
from siisurit.organization_config.users_csv import COLUMNS
from tests.factories import make_project, make_tracker, make_user
from tests.organization_files import BASE_YAML

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_MODELS = (
    Organization, OrganizationProfile, Project, Tracker, Task, UserMapping, UserMappingEntry, WorkMatch, User,
)  # fmt: skip


class RollbackError(Exception):
    """Leaves the example's savepoint after a success, undoing what it wrote."""


@contextmanager
def rolled_back() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
            raise RollbackError
    except RollbackError:
        pass


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in _MODELS}


# Values YAML and JSON can carry, nested.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "alice", "#1", "2024-05-02T09:00:00Z", "not-a-date", "-1", "999999999999", "${NOPE}"])
)
values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_DELETE = object()
#: (where: an index into all places of the document, what: a new value or _DELETE)
mutations = st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), values | st.just(_DELETE)), max_size=3)


def places(document: Any, path: tuple = ()) -> list[tuple]:
    """Every path into the document (keys and indexes), the document itself first."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += places(value, (*path, index))
    return found


def mutated(document: Any, changes: list[tuple[int, Any]]) -> Any:
    document = copy.deepcopy(document)
    for where, what in changes:
        all_places = places(document)
        path = all_places[where % len(all_places)]
        if not path:
            document = None if what is _DELETE else copy.deepcopy(what)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if what is _DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(what)
    return document


# --- Organization YAML -----------------------------------------------------------------------------------------


def assert_update_organization_fails_cleanly(path: Path) -> None:
    before = row_counts()
    with rolled_back():
        try:
            call_command("update_organization", str(path), stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as error:
            assert str(path) in str(error), "the message names the file"
            assert row_counts() == before, "a failed import wrote something"


@pytest.fixture
def members(db) -> None:
    make_user("alice")
    make_user("bob")


@pytest.mark.django_db
@pytest.mark.usefixtures("token_environment")
@FUZZ
@given(text=st.text(max_size=400) | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")))
def test_organization_file_of_random_text(tmp_path, members, text):
    path = tmp_path / "organization.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    assert_update_organization_fails_cleanly(path)


@pytest.mark.django_db
@pytest.mark.usefixtures("token_environment")
@FUZZ
@given(changes=mutations.filter(bool))
def test_organization_file_with_random_values_in_random_places(tmp_path, members, changes):
    document = mutated(yaml.safe_load(BASE_YAML), changes)
    path = tmp_path / "organization.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    assert_update_organization_fails_cleanly(path)


# --- Users CSV -------------------------------------------------------------------------------------------------


def assert_make_users_fails_cleanly(path: Path) -> None:
    before = row_counts()
    with rolled_back():
        try:
            call_command("make_users", str(path), stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as error:
            assert str(path) in str(error), "the message names the file"
            assert row_counts() == before, "a failed import wrote something"


@pytest.mark.django_db
@FUZZ
@given(raw=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_users_file_of_random_bytes(tmp_path, raw):
    path = tmp_path / "users.csv"
    path.write_bytes(raw)
    assert_make_users_fails_cleanly(path)


_cells = st.text(max_size=20) | st.sampled_from(["", "x", "0", "no", "alice", "a@example.com", "@", "a" * 200])


@pytest.mark.django_db
@FUZZ
@given(
    columns=st.lists(st.sampled_from([*COLUMNS, "unknown", ""]), min_size=1, max_size=6),
    rows=st.lists(st.lists(_cells, max_size=7), max_size=6),
    delimiter=st.sampled_from([",", ";"]),
)
def test_users_file_with_random_cells_under_real_columns(tmp_path, columns, rows, delimiter):
    lines = [delimiter.join(columns), *(delimiter.join(f'"{cell}"' for cell in row) for row in rows)]
    path = tmp_path / "users.csv"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    assert_make_users_fails_cleanly(path)


# --- Tracker JSON ----------------------------------------------------------------------------------------------


class MutatingProxy(ThreadingHTTPServer):
    """Forwards requests to one sandbox tracker and changes the JSON of its answers by `changes`."""

    daemon_threads = True
    #: More requests than any download of the tiny sandbox needs: a changed "next page" cannot loop forever.
    MAX_REQUESTS = 12

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.changes: list[tuple[int, Any]] = []
        self.requests = 0
        self.session = requests.Session()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MutatingProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        proxy = self.server
        proxy.requests += 1
        if proxy.requests > proxy.MAX_REQUESTS:
            self._answer(404, {}, b'{"message": "no more pages in this test"}')
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in ("host", "content-length")
        }
        upstream = proxy.session.request(self.command, proxy.upstream + self.path, headers=headers, data=body or None)
        content = upstream.content.replace(proxy.upstream.encode(), proxy.base_url.encode())
        if content and "json" in upstream.headers.get("Content-Type", ""):
            content = json.dumps(mutated(json.loads(content), proxy.changes)).encode()
        passed = {
            name: value.replace(proxy.upstream, proxy.base_url)
            for name, value in upstream.headers.items()
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
        }
        self._answer(upstream.status_code, passed, content)

    def _answer(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(content)


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=13, task_count=3, entry_count=3, other_entry_count=1, merge_request_count=1) as sandbox:
        yield sandbox


@pytest.fixture
def proxy(request, small_sandbox) -> Iterator[MutatingProxy]:
    server = MutatingProxy(small_sandbox.base_url(request.param))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def download_through(proxy: MutatingProxy, tracker: Tracker, changes: list[tuple[int, Any]]) -> tuple[str, int]:
    """Download the tracker with `changes` applied to every answer; (outcome, requests sent)."""
    proxy.changes, proxy.requests = changes, 0
    try:
        tracker_download(tracker_id=str(tracker.id), full=True)
    except (PermanentError, TransientError) as error:
        assert str(error), "an error says what went wrong"
        return type(error).__name__, proxy.requests
    return "ok", proxy.requests


_BASELINE_REQUESTS: dict[str, int] = {}


@pytest.mark.django_db
@pytest.mark.parametrize("proxy", KINDS, indirect=True)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=mutations)
def test_tracker_answers_with_random_json_give_domain_errors_and_write_no_failed_page(proxy, small_sandbox, changes):
    kind = next(kind for kind in KINDS if small_sandbox.base_url(kind) == proxy.upstream)
    fields = {"api_username": small_sandbox.username(kind)} if kind in ("jira", "clockodo") else {}
    location = small_sandbox.api_location(kind).replace(proxy.upstream, proxy.base_url)
    rows = Task.objects if kind not in ("kimai", "clockodo") else WorkEntry.objects
    with rolled_back():
        if kind not in _BASELINE_REQUESTS:  # what an unchanged download needs, measured once per kind
            tracker = make_tracker(
                make_project(), api_kind=kind, api_location=location, api_token=small_sandbox.token(kind), **fields
            )
            outcome, _BASELINE_REQUESTS[kind] = download_through(proxy, tracker, [])
            assert outcome == "ok"
            assert rows.filter(tracker=tracker).exists()
        tracker = make_tracker(
            make_project(), api_kind=kind, api_location=location, api_token=small_sandbox.token(kind), **fields
        )

        outcome, sent = download_through(proxy, tracker, changes)

        if outcome != "ok" and sent == 1:  # the first answer failed: nothing of it may be written
            assert not rows.filter(tracker=tracker).exists(), "a page that failed was written in part"
