"""Secrets stay secret, everywhere a token could leak; the web admin and Flower require credentials.

One scenario runs real jobs through a real worker process (at DEBUG log level) with Flower watching: one project
whose trackers download fine, one whose tracker answers HTTP 401. Then every place a token could show up is
scanned for the literal token (and for the Basic auth value made of it): the raw broker messages, every key in the
broker's and the cache's Redis databases (results included), Flower's API and task pages, the worker's log, the
waiting command's output, and every row of the tracker table. Further tests scan exception messages and
tracebacks of 401s of every tracker kind, logs of in-process runs at DEBUG, the admin's tracker page and the output
of `explain_work_entry`. Key rotation is tested in tests/test_ids_and_secrets.py.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from sandbox import KINDS, SandboxTrackers
from siisurit.downloads.service import tracker_download
from siisurit.errors import PermanentError
from siisurit.jobs import QUEUES
from siisurit.models import Tracker, WorkEntry
from tests.factories import make_organization, make_project, make_tracker, make_user
from tests.processes import child_environment, free_port, wait_for
from tests.reliability.processes import ChildProcess, Worker
from tests.worker import purge_test_state, redis_test_client
from workers.app import app

_REPO = Path(__file__).resolve().parent.parent
#: Distinctive tokens, so that a hit can only be a leak.
TOKENS = {kind: f"{kind}-SECRET-{secrets.token_hex(12)}" for kind in KINDS}
FLOWER_COMMAND = [sys.executable, "-m", "celery", "-A", "workers", "flower", "--conf=workers/flower_config.py"]
FLOWER_USER, FLOWER_PASSWORD = "admin", f"flower-{secrets.token_hex(8)}"


def basic_auth_value(sandbox: SandboxTrackers, kind: str) -> str:
    return base64.b64encode(f"{sandbox.username(kind)}:{TOKENS[kind]}".encode()).decode()


def secret_strings(sandbox: SandboxTrackers) -> list[str]:
    """What must never be seen: every token, and the Basic auth values built from them."""
    return [*TOKENS.values(), basic_auth_value(sandbox, "jira")]


def assert_no_secret(text: str, sandbox: SandboxTrackers, where: str) -> None:
    for secret in secret_strings(sandbox):
        assert secret not in text, f"a tracker token shows in {where}"


def tracker_row(project, sandbox: SandboxTrackers, kind: str) -> Tracker:
    fields = {"api_username": sandbox.username(kind)} if kind in ("jira", "clockodo") else {}
    return make_tracker(
        project,
        name=f"{kind}-tracker",
        api_kind=kind,
        api_location=sandbox.api_location(kind),
        api_token=TOKENS[kind],
        **fields,
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=9, task_count=15, entry_count=40, tokens=TOKENS) as trackers:
        yield trackers


@pytest.fixture
def clean_sandbox(sandbox: SandboxTrackers) -> SandboxTrackers:
    sandbox.clear_faults()
    sandbox.reset_stats()
    return sandbox


# --- The scenario through the queue ------------------------------------------------------------------------------


def redis_dump(client: redis.Redis) -> str:
    """Every key and value of a Redis database as text (lists, hashes, sets and sorted sets included)."""
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            value = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1)
        else:
            value = kind
        parts.append(f"{key!r} = {value!r}")
    return "\n".join(parts)


def decoded_messages(raw_messages: list[bytes]) -> str:
    """Raw kombu messages, and their base64 bodies decoded (a base64 token would not match the literal)."""
    texts = []
    for raw in raw_messages:
        texts.append(raw.decode(errors="replace"))
        message = json.loads(raw)
        body = message.get("body", "")
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body).decode(errors="replace")
        texts.append(body)
    return "\n".join(texts)


def flower_get(port: int, path: str, *, auth: bool = True) -> requests.Response:
    return requests.get(
        f"http://127.0.0.1:{port}{path}", auth=(FLOWER_USER, FLOWER_PASSWORD) if auth else None, timeout=10
    )


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker, sandbox) -> Iterator[dict]:
    """Run two project updates through a worker at DEBUG with Flower watching; collect what could leak."""
    collected: dict = {}
    with django_db_blocker.unblock():
        purge_test_state()
        organization = make_organization(code="secure")
        good = make_project(organization, code="good")
        for kind in ("kimai", "jira", "youtrack"):
            tracker_row(good, sandbox, kind)
        bad = make_project(organization, code="bad")
        tracker_row(bad, sandbox, "github")
        sandbox.inject("github", status=401, count=None)
        environment = child_environment(SII_LOG_LEVEL="DEBUG", SII_FLOWER_BASIC_AUTH=f"{FLOWER_USER}:{FLOWER_PASSWORD}")
        flower_port = free_port()
        flower_command = [*FLOWER_COMMAND, f"--port={flower_port}", "--address=127.0.0.1", "--persistent=False"]
        flower = ChildProcess(flower_command, env=environment, prefix="flower")
        worker = None
        try:
            wait_for(lambda: _answers(flower_port) or not flower.is_running(), timeout=30, what="Flower answering")
            assert flower.is_running(), flower.output()
            # Enqueue without a worker, so that the raw messages can be read from the queues.
            command = [sys.executable, "manage.py", "update_project", "secure", "--no-wait", "-v", "3"]
            subprocess.run(command, cwd=_REPO, env=environment, capture_output=True, check=True, timeout=60)
            client = redis_test_client()
            raw = [item for queue in QUEUES for item in client.lrange(queue, 0, -1)]
            assert raw, "the jobs should wait in the queue"
            collected["broker messages"] = decoded_messages(raw)

            worker = Worker(loglevel="DEBUG", env={"SII_LOG_LEVEL": "DEBUG"})
            worker.wait_ready(app)
            waiting = subprocess.run(
                [sys.executable, "manage.py", "update_project", "secure", "--timeout", "60", "-v", "3"],
                cwd=_REPO, env=environment, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            collected["command output"] = waiting.stdout + waiting.stderr
            collected["command exit code"] = waiting.returncode
            collected["broker database"] = redis_dump(client)
            collected["cache database"] = redis_dump(redis.Redis.from_url(settings.SII_REDIS_CACHE_URL))
            collected["result keys"] = [key.decode() for key in client.scan_iter(match="celery-task-meta-*")]

            tasks = wait_for(lambda: _flower_tasks(flower_port, minimum=4), timeout=20, what="Flower saw the jobs")
            pages = [flower_get(flower_port, "/api/tasks").text, flower_get(flower_port, "/tasks").text]
            pages += [flower_get(flower_port, f"/task/{task_id}").text for task_id in tasks]
            collected["flower"] = "\n".join(pages)
            collected["flower tasks"] = tasks
            collected["flower without credentials"] = [
                flower_get(flower_port, path, auth=False).status_code for path in ("/", "/api/tasks", "/tasks")
            ]
            collected["flower with wrong password"] = requests.get(
                f"http://127.0.0.1:{flower_port}/api/tasks", auth=(FLOWER_USER, "wrong"), timeout=10
            ).status_code
            collected["tracker rows"] = _tracker_rows_as_text()
        finally:
            if worker is not None:
                worker.close()
                collected["worker log"] = worker.output()
            flower.close()
            collected["flower log"] = flower.output()
            sandbox.clear_faults()
            organization.delete()
            purge_test_state()
    yield collected


def _answers(port: int) -> bool:
    try:
        return flower_get(port, "/api/workers").status_code == 200
    except requests.ConnectionError:
        return False


def _flower_tasks(port: int, *, minimum: int) -> dict | None:
    tasks = flower_get(port, "/api/tasks").json()
    finished = {task_id: task for task_id, task in tasks.items() if task.get("state") in ("SUCCESS", "FAILURE")}
    return tasks if len(finished) >= minimum else None


def _tracker_rows_as_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(tracker)::text FROM siisurit_tracker AS tracker")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_scenario_ran_one_update_ok_and_one_failing_with_http_401(scenario):
    output = scenario["command output"]
    assert scenario["command exit code"] != 0
    assert "update secure/good: done" in output
    assert "update secure/bad: failure" in output
    assert "HTTP 401" in output
    assert len(scenario["result keys"]) >= 2


def test_tokens_are_not_in_the_raw_broker_messages(scenario, sandbox):
    assert "project_id" in scenario["broker messages"]
    assert_no_secret(scenario["broker messages"], sandbox, "broker messages (task args and kwargs)")


@pytest.mark.parametrize("where", ["broker database", "cache database"])
def test_tokens_are_in_no_redis_key_or_value_including_results(scenario, sandbox, where):
    assert "celery-task-meta-" in scenario["broker database"]
    assert_no_secret(scenario[where], sandbox, where)


def test_tokens_are_not_on_flowers_task_pages(scenario, sandbox):
    assert len(scenario["flower tasks"]) >= 2
    assert "HTTP 401" in scenario["flower"]  # the failure and its message are there, only the token is not
    assert_no_secret(scenario["flower"], sandbox, "Flower's task pages")


def test_flower_refuses_requests_without_or_with_wrong_credentials(scenario):
    assert scenario["flower without credentials"] == [401, 401, 401]
    assert scenario["flower with wrong password"] == 401


@pytest.mark.parametrize("where", ["worker log", "command output", "flower log"])
def test_tokens_are_not_in_logs_at_debug_level(scenario, sandbox, where):
    assert scenario[where]
    assert_no_secret(scenario[where], sandbox, where)


def test_tokens_are_encrypted_in_every_tracker_row(scenario, sandbox):
    assert "api_token" in scenario["tracker rows"]
    assert_no_secret(scenario["tracker rows"], sandbox, "the tracker table")


# --- In-process checks -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [401, 403])
def test_refused_tokens_give_messages_and_tracebacks_without_the_token(clean_sandbox, kind, status):
    tracker = tracker_row(make_project(), clean_sandbox, kind)
    clean_sandbox.inject(kind, status=status, count=None)

    with pytest.raises(PermanentError) as caught:
        tracker_download(tracker_id=str(tracker.id))

    text = str(caught.value) + repr(caught.value) + "".join(traceback.format_exception(caught.value))
    assert f"HTTP {status}" in str(caught.value)
    assert_no_secret(text, clean_sandbox, f"the {kind} error")


@pytest.mark.django_db(transaction=True)
def test_in_process_update_logs_no_token_at_debug_level_and_verbosity_3(clean_sandbox, caplog):
    organization = make_organization(code="debuglog")
    project = make_project(organization, code="app")
    for kind in KINDS:
        tracker_row(project, clean_sandbox, kind)
    for name in ("", "urllib3", "requests", "django", "siisurit", "workers"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    stdout, stderr = io.StringIO(), io.StringIO()

    try:
        call_command("update_project", "debuglog", "--sync", "-v", "3", stdout=stdout, stderr=stderr)
    except CommandError as error:
        pytest.fail(f"the update failed: {error}: {stderr.getvalue()}")

    assert "done" in stdout.getvalue()
    assert any("GET" in record.getMessage() for record in caplog.records), "urllib3 should log each request"
    assert_no_secret(caplog.text + stdout.getvalue() + stderr.getvalue(), clean_sandbox, "logs at DEBUG")


@pytest.mark.django_db
def test_admin_tracker_page_never_shows_the_token(client, clean_sandbox):
    tracker = tracker_row(make_project(), clean_sandbox, "jira")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    pages = [
        client.get(f"/admin/siisurit/tracker/{tracker.id}/change/"),
        client.get("/admin/siisurit/tracker/"),
        client.get(f"/admin/siisurit/tracker/{tracker.id}/history/"),
    ]

    assert [page.status_code for page in pages] == [200, 200, 200]
    assert 'name="api_token"' in pages[0].content.decode()
    for page in pages:
        assert_no_secret(page.content.decode(), clean_sandbox, "the admin's tracker pages")


@pytest.mark.django_db
def test_admin_keeps_the_stored_token_when_the_form_leaves_it_empty(client, clean_sandbox):
    tracker = tracker_row(make_project(), clean_sandbox, "kimai")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/siisurit/tracker/{tracker.id}/change/")
    form = page.context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data.update({"project": tracker.project_id, "api_token": "", "api_custom_assignee_fields": "[]"})

    response = client.post(f"/admin/siisurit/tracker/{tracker.id}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert Tracker.objects.get(id=tracker.id).api_token.reveal() == TOKENS["kimai"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/siisurit/tracker/", "/admin/siisurit/workentry/"])
def test_admin_requires_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_admin_refuses_staff_login_with_a_wrong_password(client):
    make_user("staff", password="right-password-4711", is_staff=True)

    response = client.post("/admin/login/", {"username": "staff", "password": "wrong", "next": "/admin/"})

    assert response.status_code == 200  # the login form again, with an error
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db(transaction=True)
def test_explain_work_entry_output_has_no_token(clean_sandbox):
    project = make_project(make_organization(code="explain"), code="app")
    kimai = tracker_row(project, clean_sandbox, "kimai")
    tracker_row(project, clean_sandbox, "github")
    stderr = io.StringIO()
    try:
        call_command("update_project", "explain", "--sync", stdout=io.StringIO(), stderr=stderr)
    except CommandError as error:
        pytest.fail(f"the update failed: {error}: {stderr.getvalue()}")
    assert WorkEntry.objects.filter(tracker=kimai).exists()
    out = io.StringIO()

    call_command("explain_work_entry", "--max-count", "1000", stdout=out)

    assert json.loads(out.getvalue())
    assert_no_secret(out.getvalue(), clean_sandbox, "explain_work_entry output")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "location",
    [
        "http://kimai.example.com/en/admin/project/1/details",
        "http://10.0.0.8/en/admin/project/1/details",
        "ftp://kimai.example.com/en/admin/project/1/details",
    ],
)
def test_plain_http_to_a_remote_tracker_is_refused_before_any_request(location):
    tracker = make_tracker(api_kind="kimai", api_location=location, api_token=TOKENS["kimai"])

    with pytest.raises(PermanentError, match=r"https://") as caught:
        tracker_download(tracker_id=str(tracker.id))

    assert TOKENS["kimai"] not in str(caught.value)


def test_check_deploy_passes_with_production_settings():
    environment = {
        **child_environment(),
        "SII_ENVIRONMENT": "production",
        "SII_SECRET_KEY": secrets.token_urlsafe(45)[:60],
        "SII_FERNET_KEYS": Fernet.generate_key().decode(),
        "SII_POSTGRES_PASSWORD": secrets.token_hex(16),
        "SII_ALLOWED_HOSTS": "siisurit.example.com",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=_REPO, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SII_SECRET_KEY", "SII_FERNET_KEYS", "SII_POSTGRES_PASSWORD"])
def test_production_refuses_to_start_without_its_secrets(missing):
    environment = {
        **child_environment(),
        "SII_ENVIRONMENT": "production",
        "SII_SECRET_KEY": secrets.token_urlsafe(45),
        "SII_FERNET_KEYS": Fernet.generate_key().decode(),
        "SII_POSTGRES_PASSWORD": secrets.token_hex(16),
        "SII_ALLOWED_HOSTS": "siisurit.example.com",
    }
    del environment[missing]

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=_REPO, env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], "one line, no traceback"
    assert missing in result.stderr
