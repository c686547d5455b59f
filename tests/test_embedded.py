"""The embedded PostgreSQL and Redis: start, reuse, stop, crash recovery, racing starts, `embedded_servers`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command

from siisurit.embedded import ensure_database, ensure_postgres, ensure_redis, status, stop_all, stop_postgres
from siisurit.embedded.postgres_server import postgres_data_path
from siisurit.embedded.processes import process_is_named, wait_for_exit
from siisurit.embedded.redis_server import redis_data_path, stop_redis

pytestmark = pytest.mark.embedded

_REPO = Path(__file__).resolve().parent.parent
_REDIS_URL = re.compile(r"^redis://:(?P<password>[0-9a-f]{48})@127\.0\.0\.1:(?P<port>\d+)/(?P<db>\d+)$")


@pytest.fixture
def data_dir():
    """A data dir outside pytest's temporary root: every new pytest session on the machine takes the o+x bit that
    the embedded PostgreSQL's account needs off that root, so a parallel session would lock the server out."""
    parent = Path(tempfile.mkdtemp(prefix="siisurit-embedded-test-"))
    path = parent / "data"
    try:
        yield path
    finally:
        stop_all(path)
        shutil.rmtree(parent, ignore_errors=True)


def _postmaster_pid(data_dir: Path) -> int:
    return int((postgres_data_path(data_dir) / "postmaster.pid").read_text().splitlines()[0])


def _redis_pid(data_dir: Path) -> int:
    return int((redis_data_path(data_dir) / "redis.pid").read_text())


def _select_one(address, dbname: str = "postgres") -> int:
    with psycopg.connect(**address.connection_kwargs(dbname)) as connection:
        return connection.execute("select 1").fetchone()[0]


def _kill_with_children(pid: int) -> None:
    """Simulate a crash (or a reboot): kill -9 the server and everything it forked."""
    process = psutil.Process(pid)
    processes = [process, *process.children(recursive=True)]
    for each in processes:
        each.kill()
    assert all(wait_for_exit(each.pid, timeout=10) for each in processes)


def test_postgres_starts_listens_only_on_a_socket_and_accepts_queries(data_dir):
    address = ensure_postgres(data_dir)

    assert Path(address.host).is_dir()
    assert (address.port, address.user, address.password) == (5432, "postgres", "")
    assert _select_one(address) == 1
    with psycopg.connect(**address.connection_kwargs()) as connection:
        assert connection.execute("show listen_addresses").fetchone()[0] == ""
        assert connection.execute("select pg_encoding_to_char(encoding) from pg_database limit 1").fetchone()[0] == (
            "UTF8"
        )


def test_postgres_is_reused_quickly_by_the_next_call(data_dir):
    first = ensure_postgres(data_dir)
    pid = _postmaster_pid(data_dir)

    started = time.perf_counter()
    second = ensure_postgres(data_dir)
    elapsed = time.perf_counter() - started

    assert second == first
    assert _postmaster_pid(data_dir) == pid
    assert elapsed < 0.1


def test_ensure_database_creates_a_missing_database_once(data_dir):
    address = ensure_postgres(data_dir)

    assert ensure_database(address, "siisurit_local") is True
    assert ensure_database(address, "siisurit_local") is False
    assert _select_one(address, "siisurit_local") == 1


def test_stop_all_stops_postgres_and_keeps_its_data(data_dir):
    address = ensure_postgres(data_dir)
    ensure_database(address, "kept")
    pid = _postmaster_pid(data_dir)

    assert stop_all(data_dir) == ["postgres"]

    assert not process_is_named(pid, "postgres")
    assert [service.running for service in status(data_dir)] == [False, False]
    assert stop_all(data_dir) == []
    restarted = ensure_postgres(data_dir)
    assert _postmaster_pid(data_dir) != pid
    assert ensure_database(restarted, "kept") is False


def test_postgres_recovers_after_a_crash_left_its_pid_file_behind(data_dir):
    ensure_postgres(data_dir)
    crashed_pid = _postmaster_pid(data_dir)
    _kill_with_children(crashed_pid)
    assert (postgres_data_path(data_dir) / "postmaster.pid").exists()

    address = ensure_postgres(data_dir)

    assert _postmaster_pid(data_dir) != crashed_pid
    assert _select_one(address) == 1


def test_postgres_starts_although_its_stale_pid_file_names_a_live_unrelated_process(data_dir):
    ensure_postgres(data_dir)
    pid_file = postgres_data_path(data_dir) / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    stop_postgres(data_dir)
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")  # the pid now belongs to this test

    address = ensure_postgres(data_dir)

    assert _postmaster_pid(data_dir) != os.getpid()
    assert _select_one(address) == 1


def test_racing_processes_start_a_single_postgres(data_dir):
    script = (
        "import sys; from pathlib import Path; from siisurit.embedded import ensure_postgres; "
        "print(ensure_postgres(Path(sys.argv[1])).host)"
    )
    racers = [
        subprocess.Popen([sys.executable, "-c", script, str(data_dir)], cwd=_REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    hosts = {racer.communicate(timeout=60)[0].strip() for racer in racers}

    assert [racer.returncode for racer in racers] == [0, 0, 0]
    assert hosts == {str(postgres_data_path(data_dir))}
    servers = [
        process
        for process in psutil.process_iter(["cmdline"])
        if process.info["cmdline"] and str(postgres_data_path(data_dir)) in process.info["cmdline"]
    ]
    assert [server.pid for server in servers] == [_postmaster_pid(data_dir)]


def test_redis_starts_on_loopback_with_a_password_and_is_reused(data_dir):
    url = ensure_redis(data_dir)
    pid = _redis_pid(data_dir)

    match = _REDIS_URL.match(url)
    assert match is not None, url
    assert match["db"] == "0"
    client = redis.Redis.from_url(url)
    assert client.ping() is True
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    with socket.create_connection(("127.0.0.1", int(match["port"]))) as without_password:
        without_password.sendall(b"PING\r\n")
        assert without_password.recv(100).startswith(b"-NOAUTH")
    started = time.perf_counter()
    assert ensure_redis(data_dir) == url
    assert time.perf_counter() - started < 0.1
    assert _redis_pid(data_dir) == pid
    assert ensure_redis(data_dir, db=3) == url[: -len("/0")] + "/3"


def test_redis_keeps_its_data_and_url_across_stop_and_start(data_dir):
    url = ensure_redis(data_dir)
    redis.Redis.from_url(url).set("greeting", "hello")
    pid = _redis_pid(data_dir)

    assert stop_all(data_dir) == ["redis"]
    assert not process_is_named(pid, "redis-server")
    assert not status(data_dir)[1].running

    assert ensure_redis(data_dir) == url
    assert redis.Redis.from_url(url).get("greeting") == b"hello"


def test_redis_recovers_after_a_crash(data_dir):
    url = ensure_redis(data_dir)
    crashed_pid = _redis_pid(data_dir)
    _kill_with_children(crashed_pid)

    assert ensure_redis(data_dir) == url
    assert _redis_pid(data_dir) != crashed_pid
    assert redis.Redis.from_url(url).ping() is True


def test_redis_moves_to_another_port_when_a_foreign_server_took_its_port(data_dir):
    old_port = int(_REDIS_URL.match(ensure_redis(data_dir))["port"])
    stop_redis(data_dir)

    with socket.create_server(("127.0.0.1", old_port)):
        url = ensure_redis(data_dir)

    assert int(_REDIS_URL.match(url)["port"]) != old_port
    assert redis.Redis.from_url(url).ping() is True


def test_celery_round_trip_through_the_embedded_redis(data_dir):
    url = ensure_redis(data_dir)
    app = Celery("embedded_round_trip", broker=url, backend=url, set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])

    @app.task(name="tests.embedded.add")
    def add(left: int, right: int) -> int:
        return left + right

    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        assert add.delay(2, 3).get(timeout=20) == 5


def test_services_command_starts_reports_and_stops_the_servers(data_dir):
    def services(*arguments: str) -> str:
        out = StringIO()
        call_command("embedded_servers", *arguments, "--data-dir", str(data_dir), stdout=out)
        return out.getvalue()

    assert services("status") == "postgres: not running\nredis: not running\n"
    started = services("start")
    assert re.search(r"^postgres: running \(pid \d+\), unix socket in ", started, re.MULTILINE)
    assert re.search(r"^redis: running \(pid \d+\), redis://127\.0\.0\.1:\d+$", started, re.MULTILINE)
    assert _REDIS_URL.match(ensure_redis(data_dir))["password"] not in started
    assert services("stop", "--service", "redis") == "redis: stopped\n"
    assert "log: " in services("status", "--verbosity", "2")
    assert services("stop") == "postgres: stopped\nredis: was not running\n"
    assert services("start", "--verbosity", "0") == ""


def test_services_command_reports_an_unusable_data_dir_as_command_error(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    with pytest.raises(CommandError, match="file"):
        call_command("embedded_servers", "start", "--data-dir", str(not_a_folder / "data"), stdout=StringIO())
