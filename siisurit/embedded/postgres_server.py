"""Embedded PostgreSQL: the binaries of the `pgserver` wheel, listening only on a unix socket.

The cluster lives in `<data_dir>/postgres` and keeps running after the starting process exits, so the next
process finds it through `postmaster.pid` and connects in about a millisecond. `pgserver`'s own Python API is not
used: it stops the server when the last Python process using it exits, and we want a server that outlives them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siisurit.embedded.errors import EmbeddedServiceError, log_tail
from siisurit.embedded.locking import exclusive_lock
from siisurit.embedded.processes import pid_is_alive, process_is_named, run_tool, stop_process
from siisurit.embedded.service_status import ServiceStatus

POSTGRES_USER = "postgres"
POSTGRES_PORT = 5432  # only names the socket file `.s.PGSQL.5432`; no TCP port is opened
# PostgreSQL refuses to run as root. As root we run it as this account, the one the pgserver package also uses.
ROOT_SERVER_ACCOUNT = "pgserver"
_START_TIMEOUT_IN_SECONDS = 60
_STOP_TIMEOUT_IN_SECONDS = 60
_MAX_SOCKET_PATH_LENGTH = 103  # macOS allows 104 bytes including the final NUL, Linux 108
_CONF_FILE_NAME = "siisurit.conf"


@dataclass(frozen=True)
class PostgresAddress:
    """Where the embedded server listens, in the form Django's DATABASES expects."""

    host: str  # the directory holding the unix socket
    port: int
    user: str
    password: str

    def connection_kwargs(self, dbname: str = "postgres") -> dict[str, Any]:
        """Keyword arguments for `psycopg.connect()`."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password, "dbname": dbname}


@dataclass(frozen=True)
class _PostmasterPid:
    pid: int
    port: int
    socket_dir: Path
    status: str


def postgres_data_path(data_dir: Path) -> Path:
    """The PostgreSQL cluster directory (PGDATA) inside the data dir."""
    return Path(data_dir).resolve() / "postgres"


def postgres_log_path(data_dir: Path) -> Path:
    """The server log; read it when the server does not start."""
    return postgres_data_path(data_dir) / "server.log"


def ensure_postgres(data_dir: Path) -> PostgresAddress:
    """Start the embedded PostgreSQL unless it already runs, and return its address.

    Fast when it already runs: reads `postmaster.pid` and probes the socket, nothing else. Racing processes
    serialize on a lock file, so only one starts a server; a `postmaster.pid` left behind by a crash is removed.
    """
    pgdata = postgres_data_path(data_dir)
    address = _running_address(pgdata)
    if address is not None:
        return address
    with exclusive_lock(pgdata.parent / "postgres.lock"):
        address = _running_address(pgdata)
        if address is not None:
            return address
        account = _server_account(pgdata)
        if not (pgdata / "PG_VERSION").exists():
            _initialize_cluster(pgdata, account)
        address = _await_or_clear_previous_server(pgdata)
        if address is not None:
            return address
        _start_server(pgdata, account)
        address = _running_address(pgdata)
        if address is None:
            raise EmbeddedServiceError(
                f"PostgreSQL in {pgdata} started but does not accept connections; see {pgdata / 'server.log'}"
            )
        return address


def ensure_database(address: PostgresAddress, name: str) -> bool:
    """Create the database `name` unless it exists; True if it was created."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(**address.connection_kwargs(), autocommit=True) as connection:
        if connection.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            return False
        try:
            connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:  # another process created it meanwhile
            return False
    return True


def stop_postgres(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL (fast shutdown: open sessions end, data is saved); True if it ran."""
    pgdata = postgres_data_path(data_dir)
    if not pgdata.parent.exists():
        return False
    with exclusive_lock(pgdata.parent / "postgres.lock"):
        postmaster = _read_postmaster_pid(pgdata)
        if postmaster is None or not process_is_named(postmaster.pid, "postgres"):
            return False
        stop_process(postmaster.pid, signal_number=signal.SIGINT, timeout=_STOP_TIMEOUT_IN_SECONDS, what="PostgreSQL")
        return True


def postgres_status(data_dir: Path) -> ServiceStatus:
    """Whether the embedded PostgreSQL runs, its pid and socket directory."""
    pgdata = postgres_data_path(data_dir)
    address = _running_address(pgdata)
    postmaster = _read_postmaster_pid(pgdata) if address is not None else None
    return ServiceStatus(
        name="postgres",
        running=address is not None,
        pid=postmaster.pid if postmaster is not None else None,
        address=f"unix socket in {address.host} (port {address.port})" if address is not None else "",
        data_path=pgdata,
        log_path=postgres_log_path(data_dir),
    )


def _running_address(pgdata: Path) -> PostgresAddress | None:
    postmaster = _read_postmaster_pid(pgdata)
    if postmaster is None or postmaster.status != "ready" or not pid_is_alive(postmaster.pid):
        return None
    if not _socket_accepts(postmaster.socket_dir / f".s.PGSQL.{postmaster.port}"):
        return None
    return PostgresAddress(host=str(postmaster.socket_dir), port=postmaster.port, user=POSTGRES_USER, password="")


def _read_postmaster_pid(pgdata: Path) -> _PostmasterPid | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return _PostmasterPid(
            pid=int(lines[0]),
            port=int(lines[3]),
            socket_dir=Path(lines[4].strip()),
            status=lines[7].strip() if len(lines) > 7 else "",
        )
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _socket_accepts(socket_path: Path) -> bool:
    # Connecting without sending anything is not even logged by PostgreSQL.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
    return True


def _await_or_clear_previous_server(pgdata: Path) -> PostgresAddress | None:
    """Wait for a server that is still starting or stopping; remove the files of one that crashed."""
    postmaster = _read_postmaster_pid(pgdata)
    if postmaster is None:
        return None
    if process_is_named(postmaster.pid, "postgres"):
        deadline = time.monotonic() + _START_TIMEOUT_IN_SECONDS
        while time.monotonic() < deadline and process_is_named(postmaster.pid, "postgres"):
            address = _running_address(pgdata)
            if address is not None:
                return address
            time.sleep(0.05)
        if process_is_named(postmaster.pid, "postgres"):
            raise EmbeddedServiceError(
                f"PostgreSQL (pid {postmaster.pid}) for {pgdata} runs but does not accept connections; "
                f"see {pgdata / 'server.log'}"
            )
    # The pid may since belong to another process, which would make PostgreSQL refuse to start.
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    (postmaster.socket_dir / f".s.PGSQL.{postmaster.port}.lock").unlink(missing_ok=True)
    return None


def _server_account(pgdata: Path) -> tuple[int, int] | None:
    """The (uid, gid) to run PostgreSQL as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    if pgdata.exists() and pgdata.stat().st_uid != 0:
        owner = pwd.getpwuid(pgdata.stat().st_uid)
        return owner.pw_uid, owner.pw_gid
    try:
        entry = pwd.getpwnam(ROOT_SERVER_ACCOUNT)
    except KeyError:
        run_tool(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ROOT_SERVER_ACCOUNT],
            what=f"Creating the account {ROOT_SERVER_ACCOUNT} to run PostgreSQL as (it refuses to run as root)",
            cwd=Path("/"),
            timeout=30,
        )
        entry = pwd.getpwnam(ROOT_SERVER_ACCOUNT)
    _allow_traversal(pgdata.parent)
    return entry.pw_uid, entry.pw_gid


def _allow_traversal(directory: Path) -> None:
    """Let the server account reach the data dir: add o+x (search, not read) where a parent lacks it."""
    for path in [directory, *directory.parents]:
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            path.chmod(mode | stat.S_IXOTH)


def _initialize_cluster(pgdata: Path, account: tuple[int, int] | None) -> None:
    """Run initdb into a scratch directory and rename it, so an interrupted initdb never leaves half a cluster."""
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedServiceError(f"{pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION)")
    scratch = pgdata.with_name(pgdata.name + ".initdb")
    errors = []
    for locale in ("C.UTF-8", "C"):
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700, parents=True)
        _give_to(scratch, account)
        try:
            run_tool(
                [
                    _binary("initdb"),
                    *("-D", scratch, "-U", POSTGRES_USER, "--auth=trust", "--encoding=UTF8"),
                    *(f"--locale={locale}", "--no-sync", "--no-instructions"),
                ],
                what="initdb",
                cwd=scratch,
                timeout=120,
                uid=account[0] if account else None,
                gid=account[1] if account else None,
            )
        except EmbeddedServiceError as error:
            errors.append(str(error))
            continue
        with (scratch / "postgresql.conf").open("a") as conf:
            conf.write("\n# Socket settings, written by siisurit.embedded on every start\n")
            conf.write(f"include_if_exists = '{_CONF_FILE_NAME}'\n")
        if pgdata.exists():
            pgdata.rmdir()
        scratch.rename(pgdata)
        return
    shutil.rmtree(scratch, ignore_errors=True)
    raise EmbeddedServiceError("initdb failed:\n" + "\n".join(errors))


def _start_server(pgdata: Path, account: tuple[int, int] | None) -> None:
    socket_dir = _socket_directory(pgdata, account)
    conf_path = pgdata / _CONF_FILE_NAME
    conf_path.write_text(
        "# Written by siisurit.embedded on every start; put your own settings into postgresql.conf.\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{_conf_quoted(str(socket_dir))}'\n"
        "unix_socket_permissions = 0700\n"
        f"port = {POSTGRES_PORT}\n"
    )
    _give_to(conf_path, account)
    log_path = pgdata / "server.log"
    try:
        run_tool(
            [_binary("pg_ctl"), "start", "-D", pgdata, "-l", log_path, "-ws", "-t", f"{_START_TIMEOUT_IN_SECONDS}"],
            what=f"Starting PostgreSQL in {pgdata}",
            cwd=pgdata,
            timeout=_START_TIMEOUT_IN_SECONDS + 30,
            uid=account[0] if account else None,
            gid=account[1] if account else None,
        )
    except EmbeddedServiceError as error:
        raise EmbeddedServiceError(f"{error}\nLast lines of {log_path}:\n{log_tail(log_path)}") from None


def _socket_directory(pgdata: Path, account: tuple[int, int] | None) -> Path:
    """The data directory itself, or a private directory in /tmp when its path is too long for a socket."""
    if len(os.fsencode(pgdata / f".s.PGSQL.{POSTGRES_PORT}")) <= _MAX_SOCKET_PATH_LENGTH:
        return pgdata
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:16]
    directory = Path(tempfile.gettempdir()) / f"siisurit-postgres-{digest}"
    directory.mkdir(mode=0o700, exist_ok=True)
    _give_to(directory, account)
    return directory


def _give_to(path: Path, account: tuple[int, int] | None) -> None:
    if account is not None:
        os.chown(path, *account)


def _binary(name: str) -> Path:
    """A binary from the pgserver wheel, found without importing pgserver (its import has side effects)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("The package pgserver is not installed; run `pip install -r requirements.txt`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _conf_quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "''")
