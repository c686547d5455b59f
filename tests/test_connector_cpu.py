"""What keeps a download's client CPU low changes nothing else: the garbage collector paused while a page is mapped,
requests prepared once with the environment read once per origin, records checked in one expression with the same
messages on failure."""

from __future__ import annotations

import gc
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
import requests

from sandbox import SandboxTrackers
from siisurit.connectors import http
from siisurit.connectors.gc_pause import gc_paused
from siisurit.connectors.http import USER_AGENT, HttpClient
from siisurit.connectors.kimai import KimaiConnector
from siisurit.connectors.records import TaskRecord, WorkRecord
from siisurit.retry_policy import NO_RETRIES
from tests.processes import QuietHandler, loopback_http_server
from tests.test_connector_base import client_for, issues_url

STARTED = datetime(2024, 5, 2, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox():
    with SandboxTrackers(seed=5, task_count=30, entry_count=1200, other_entry_count=0) as trackers:
        yield trackers


# --- garbage collector pause -----------------------------------------------------------------------------------------


def test_gc_paused_nests_across_threads_and_restores_the_collector():
    assert gc.isenabled()
    inner_started, outer_may_end = threading.Event(), threading.Event()

    def other_thread():
        with gc_paused():
            inner_started.set()
            outer_may_end.wait(5)
            assert not gc.isenabled()

    with gc_paused():
        thread = threading.Thread(target=other_thread)
        thread.start()
        inner_started.wait(5)
    assert not gc.isenabled()  # the other thread's pause goes on
    outer_may_end.set()
    thread.join()
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_ends_on_an_error():
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def _kimai_connector(sandbox) -> KimaiConnector:
    credentials = sandbox.credentials()["kimai"]
    tracker = SimpleNamespace(
        api_kind="kimai",
        name="cpu",
        api_location=credentials["api_location"],
        api_base_url="",
        api_token=SimpleNamespace(reveal=lambda: credentials["token"]),
    )
    return KimaiConnector(tracker)


def test_pages_are_mapped_with_the_collector_paused_and_released_before_it_runs(sandbox):
    seen_pages, collector_states = [], []
    with _kimai_connector(sandbox) as connector:
        original = connector._work_record

        def to_record(timesheet):
            collector_states.append(gc.isenabled())
            return original(timesheet)

        with mock.patch.object(connector, "_work_record", to_record):
            pages = connector.record_pages(_remembered(connector, seen_pages), connector._work_record)
            records = [record for page in pages for record in page.records if gc.isenabled()]
    assert len(records) == len(collector_states) == 1200 and not any(collector_states)
    assert len(seen_pages) == 3 and all(page.items == [] and page.response.data is None for page in seen_pages)
    assert gc.isenabled()


def _remembered(connector: KimaiConnector, seen_pages: list):
    from siisurit.connectors.pagination import numbered_pages

    params = {"project": connector.location.id, "user": "all", "full": "true"}
    for page in numbered_pages(connector.client, f"{connector.api_base()}/timesheets", params, per_page=500,
                               size_param="size", conditional=False):  # fmt: skip
        seen_pages.append(page)
        yield page


def test_a_consumer_stopping_early_leaves_the_collector_running(sandbox):
    with _kimai_connector(sandbox) as connector:
        pages = connector.download()
        next(pages)
        pages.close()
    assert gc.isenabled()


# --- environment ---------------------------------------------------------------------------------------------------


@pytest.fixture
def environment_unread(monkeypatch):
    """The process has not read the environment for any origin yet (it reads it once per origin and process)."""
    monkeypatch.setattr(http, "_origin_environments", {})


def test_proxies_and_ca_bundle_of_the_environment_are_read_once_per_origin(sandbox, monkeypatch, environment_unread):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/bundle.pem")
    client = client_for(sandbox, "github")
    with mock.patch.object(requests.sessions, "get_environ_proxies", wraps=requests.utils.get_environ_proxies) as read:
        for page in (1, 2, 3):
            client.get(issues_url(sandbox), {"state": "all", "page": page})
        client_for(sandbox, "github").get(issues_url(sandbox), {"state": "all", "page": 1})  # the next download
    assert read.call_count == 1
    assert client._environment("https://api.github.com/repos") == {
        "proxies": {"https": "http://proxy.example:3128", "no": "127.0.0.1,localhost"},
        "verify": "/etc/ssl/certs/bundle.pem",
        "cert": None,
        "netrc_auth": None,
    }
    assert client._environment(issues_url(sandbox))["proxies"] == {}  # NO_PROXY: the sandbox is reached directly


@pytest.fixture
def echo_server():
    """A loopback server answering every GET with the request's headers as JSON, setting a cookie on /login."""

    class Handler(QuietHandler):
        def do_GET(self):
            headers = {"Content-Type": "application/json"}
            if self.path == "/login":
                headers["Set-Cookie"] = "session=s1; Path=/"
            self.answer(200, json.dumps(dict(self.headers.items())).encode(), headers)

    with loopback_http_server(Handler) as base_url:
        yield base_url


def test_a_request_carries_what_session_request_would_send(echo_server):
    client = HttpClient(label="x", headers={"Authorization": "Bearer t0ken"}, policy=NO_RETRIES)
    client.get(f"{echo_server}/login")
    sent = client._send("GET", f"{echo_server}/issues", headers={"If-None-Match": 'W/"1"'}).json()
    expected = requests.Session()
    expected.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json", "Authorization": "Bearer t0ken"})
    expected.cookies.set("session", "s1")
    wanted = expected.get(f"{echo_server}/issues", headers={"If-None-Match": 'W/"1"'}).json()
    assert sent == wanted
    assert sent["Cookie"] == "session=s1" and sent["If-None-Match"] == 'W/"1"'


@pytest.fixture
def peer_echo_server():
    """A loopback HTTP/1.1 server answering every GET with the client's port (one per connection) and Authorization."""

    class Handler(QuietHandler):
        def do_GET(self):
            body = json.dumps({"port": self.client_address[1], "authorization": self.headers["Authorization"]})
            self.answer(200, body.encode(), {"Content-Type": "application/json"})

    with loopback_http_server(Handler) as base_url:
        yield base_url


def test_downloads_one_after_another_reuse_the_connection_each_with_its_own_credentials(peer_echo_server):
    answers = []
    for token in ("first-t0ken", "second-t0ken"):
        client = HttpClient(label=token, headers={"Authorization": f"Bearer {token}"}, policy=NO_RETRIES)
        answers.append(client.get(f"{peer_echo_server}/issues").data)
        client.close()
    assert answers[0]["port"] == answers[1]["port"]  # no new connection for the second download
    assert [answer["authorization"] for answer in answers] == ["Bearer first-t0ken", "Bearer second-t0ken"]


def test_netrc_credentials_apply_as_requests_applies_them(sandbox, tmp_path, monkeypatch, environment_unread):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine ghe.example.com login alice password s3cret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    client = client_for(sandbox, "github")
    assert client._environment("https://ghe.example.com/api/v3/repos")["netrc_auth"] == ("alice", "s3cret")
    assert client._environment(issues_url(sandbox))["netrc_auth"] is None


# --- records ---------------------------------------------------------------------------------------------------------


def test_records_keep_their_values():
    task = TaskRecord("7", "#7", "Title", "open", False, Decimal("1.50"), "https://x/7", STARTED, STARTED, None, ["a"])
    assert (task.code, task.estimate_hours, task.assignees) == ("#7", Decimal("1.50"), ["a"])
    entry = WorkRecord("9", "alice", STARTED, 60, "a@example.com", "text", "A / B", "#7", STARTED)
    assert (entry.started_at, entry.duration_seconds, entry.breadcrumb_trail) == (STARTED, 60, "A / B")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": 5}, "title must be text"),
        ({"state": "open\x00"}, "state contains a NUL character"),
        ({"title": None, "url": "x\x00"}, "title must be text"),  # the first problem
        ({"code": " "}, "a task needs an id and a code"),
        ({"is_closed": 1}, "is_closed must be true or false"),
        ({"estimate_hours": 1.5}, "estimate must be a number"),
        ({"updated_at": datetime(2024, 5, 2)}, "updated_at must be a time with a zone"),
        ({"closed_at": "2024-05-02"}, "closed_at must be a time with a zone"),
        ({"assignees": ("a",)}, "assignees must be names without NUL characters"),
        ({"assignees": ["a", 3]}, "assignees must be names without NUL characters"),
        ({"assignees": ["a\x00"]}, "assignees must be names without NUL characters"),
    ],
)
def test_a_task_record_names_its_first_problem(fields, message):
    with pytest.raises(TypeError, match=f"^{message}$"):
        TaskRecord(**{"external_id": "1", "code": "#1", **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": b"x"}, "text must be text"),
        ({"external_email": "a\x00"}, "external_email contains a NUL character"),
        ({"external_id": ""}, "a work entry needs an id"),
        ({"started_at": None}, "started_at must be a time with a zone"),
        ({"started_at": datetime(2024, 5, 2)}, "started_at must be a time with a zone"),
        ({"updated_at": 5}, "updated_at must be a time with a zone"),
        ({"duration_seconds": 1.5}, "duration must be whole seconds"),
        ({"duration_seconds": True}, "duration must be whole seconds"),
    ],
)
def test_a_work_record_names_its_first_problem(fields, message):
    with pytest.raises(TypeError, match=f"^{message}$"):
        WorkRecord(**{"external_id": "1", "external_username": "a", "started_at": STARTED, "duration_seconds": 60,
                      **fields})  # fmt: skip


def test_a_record_takes_any_zone_and_optional_times():
    moment = datetime(2024, 5, 2, 9, tzinfo=timezone(timedelta(hours=2)))
    assert WorkRecord("1", "a", moment, 0, updated_at=None).started_at == moment
    assert TaskRecord("1", "#1", created_at=moment).updated_at is None
