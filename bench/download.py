"""Benchmark of tracker downloads (not a test): prints a table.

In a dedicated database (default `siisurit_bench_download`, created and migrated if missing, wiped at start) it
measures:

- big trackers (sandbox in a child process, so this process's peak RSS is the downloader's): a GitHub tracker with
  --tasks issues and a Kimai tracker with --entries entries. In each of --rounds rounds: the fetch-only floor (the
  same pages fetched and parsed into records by the same connector, nothing stored; a warm-up pass first, and a
  sandbox page cache holding every page, so that the floor measures the client, not the sandbox rendering pages),
  then the first (complete) download of a fresh tracker, each round from a settled database (`_settle`: the earlier
  rounds' rows vacuumed and analyzed, a checkpoint written); the median ratio has the goal ≤ 1.5 x floor (each first
  download also names the CPU its PostgreSQL backend spent per item, the cost of storing whatever the load, when
  the server is the embedded one). The client CPU per item of those first downloads (`time.process_time` of this
  process over items) is compared, round by round, with one more first download by the client as before issue #16
  (`_client_as_before`: the standard library's JSON decoder, the garbage collector walking every page,
  `Session.request` for every request): median ratio, printed without a verdict, as it understates the gain (code
  that only got faster stays faster in that baseline); the goal (≤ 0.70 x, at least 30 % lower) is checked against
  the code before the issue by bench/download_cpu.py. Then a second download of the unchanged tracker
  (incremental + conditional requests), goal ≥ 10 x faster, and a second complete download (`full=True`) for
  comparison; peak RSS of this process after each tracker.
- fan-out with real Celery workers: the sandbox runs as `python -m sandbox --latency-ms N` in its own
  process; `celery -A workers worker -Q <queue> -c C` processes (prefork) take --fanout-trackers
  `download_tracker` jobs (half GitHub, half Kimai) sent to that queue, timed until all results are in:
  first download, update of unchanged trackers (incremental), and a complete re-check (`full=True`, GitHub pages
  answer 304); the update, about a second at 8 slots, runs --repeats times and its median counts; each scenario
  starts from a settled database (`_settle`, as the big trackers' rounds). 1 slot versus
  --slots slots (goal speedup ≥ 6.4), and two worker processes versus one (--process-slots slots each; goal
  speedup ≥ 1.7). CPU columns: seconds of CPU used by the worker processes and by the whole machine (all cores;
  steal: what the hypervisor gave other guests) during the scenario, and per tracker by the fan-out's own processes
  (workers, sandbox, this process and the embedded PostgreSQL and Redis servers: what other work on the machine does
  not change); a scenario cannot run faster than the busiest resource allows. Last in each configuration, the
  ceiling: the same fan-out of jobs that only wait --latency-ms under the tracker's lock (bench/fan_out_ceiling.py,
  loaded into the workers with `--include`), run --repeats times like the update, its speedup printed without a goal:
  the most the update of unchanged trackers can reach on the machine at that moment, the queue's own cost per job
  included.
  The last line gives the load average before and after: other work on the machine takes CPU from the scenarios.

The fan-out starts from an empty database, the big trackers' rows wiped. Servers: the project's configuration, as
for every command (the embedded servers in `local`, the configured ones otherwise), with the database named by
--database; the first line of output names them. The fan-out's workers consume a queue of this run only
(`bench-download-<random>`, deleted at the end), never the project's `download` queue; the wipes clear the download
caches of the trackers in the benchmark's database only.

    python bench/download.py                                            # 20,000 tasks, 200,000 entries
    python bench/download.py --tasks 2000 --entries 20000 --rounds 1    # quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from bench.servers import use_project_servers  # noqa: E402

_SANDBOX_CHILD = """
import json, sys
from sandbox import SandboxTrackers
options = json.loads(sys.argv[1])
with SandboxTrackers(**options) as sandbox:
    print(json.dumps(sandbox.credentials()), flush=True)
    sys.stdin.read()
"""
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Fan-out speedups (issue #16): 8 slots over 1 (configuration 1 over 0), two processes over one (3 over 2).
FAN_OUT_GOALS = {1: 6.4, 3: 1.7}
#: The fan-out's jobs go to a queue of this run only: on configured servers the project's workers must not take
#: them, nor the benchmark's workers the project's jobs.
FAN_OUT_QUEUE = f"bench-download-{uuid.uuid4().hex[:8]}"
DOWNLOAD_TASK = "tasks.download.download_tracker"
PAGE_CACHE_MEGABYTES = 1024


def _environment(database: str) -> str:
    os.environ.setdefault("SII_LOG_LEVEL", "WARNING")
    return use_project_servers(database)


class SandboxProcess:
    """SandboxTrackers in a child process; `credentials[kind]` has base_url, api_location, username, token."""

    def __init__(self, **options) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX_CHILD, json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPOSITORY,
            text=True,
        )
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox child process did not start")
        self.credentials = json.loads(line)

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


class SandboxCommand:
    """`python -m sandbox` in its own process (ephemeral ports), as a user would run it."""

    _SERVICE = re.compile(r"^(\w+)\s+(\S+)\s+api_location: (\S+)$")
    _LOGIN = re.compile(r"^\s+username: (\S+)\s+token: (\S+)$")

    def __init__(self, *, seed: int, tasks: int, entries: int, latency_ms: int) -> None:
        command = [sys.executable, "-m", "sandbox", "--ports", "0", "--seed", str(seed), "--tasks",
                   str(tasks), "--entries", str(entries), "--latency-ms", str(latency_ms)]  # fmt: skip
        # Its own process group, so that its CPU time can be read like a worker's.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, cwd=REPOSITORY, text=True, start_new_session=True
        )
        self.credentials: dict[str, dict[str, str]] = {}
        kind = None
        for line in self.process.stdout:
            if line.startswith("Sandbox trackers are running"):
                return
            if match := self._SERVICE.match(line.rstrip()):
                kind = match.group(1)
                self.credentials[kind] = {"base_url": match.group(2), "api_location": match.group(3)}
            elif (match := self._LOGIN.match(line.rstrip())) and kind:
                self.credentials[kind].update(username=match.group(1), token=match.group(2))
        raise RuntimeError("the sandbox command did not start")

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tracker(project, name: str, kind: str, credentials: dict):
    from siisurit.models import Tracker
    from siisurit.secrets import Secret

    return Tracker.objects.create(
        project=project,
        name=name,
        api_kind=kind,
        api_location=credentials[kind]["api_location"],
        api_username=credentials[kind]["username"],
        api_token=Secret(credentials[kind]["token"]),
    )


def _wipe() -> None:
    """Empty the benchmark's database, and the download caches of its trackers (only theirs: the Redis may be the
    project's)."""
    from django.db import connection

    from siisurit.downloads.cache import DownloadCache, download_cache_client
    from siisurit.models import Tracker

    client = download_cache_client()
    for tracker_id in Tracker.objects.values_list("id", flat=True):
        DownloadCache(client, str(tracker_id)).clear()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE siisurit_organization CASCADE")


def _settle() -> None:
    """Let earlier rounds' writes settle before a measured round, so that each round starts from the same state:
    vacuum and analyze the tables downloads write (autovacuum would do it meanwhile, in the middle of the next round)
    and write a checkpoint (the WAL of earlier rounds would start one during it) where the database user may."""
    from django.db import ProgrammingError, connection
    from psycopg.errors import InsufficientPrivilege

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) siisurit_workentry, siisurit_task, siisurit_taskassignee")
        try:
            cursor.execute("CHECKPOINT")
        except ProgrammingError as error:  # a configured server's user without pg_checkpoint: its checkpoints come
            if not isinstance(error.__cause__, InsufficientPrivilege):  # when they come
                raise


def _floor(tracker) -> tuple[float, int, int]:
    """Seconds, requests and records of fetching and parsing every page without storing anything."""
    from siisurit.connectors import connector_for

    started = time.monotonic()
    records = 0
    with connector_for(tracker) as connector:
        for page in connector.download(since=None):
            records += len(page.records)
        return time.monotonic() - started, connector.request_count, records


def _milliseconds_per_item(cpu_seconds: float, items: int) -> float:
    return cpu_seconds * 1000 / max(items, 1)


def _database_cpu_seconds() -> float | None:
    """CPU seconds this connection's PostgreSQL backend used so far: the cost of storing, whatever the machine's load
    (None unless the server is the embedded one, on this machine)."""
    from django.conf import settings
    from django.db import connection

    if not settings.USE_EMBEDDED_POSTGRES:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9  # nanoseconds on a CPU
    except OSError:
        return None


def _request_as_before(client, method: str, url: str, *, headers, json_body, timeout):
    """`HttpClient._transmit` as before: `Session.request`, which reads the environment for every request."""
    return client._session.request(
        method, url, headers=headers, json=json_body, timeout=timeout, allow_redirects=False, stream=True
    )


@contextlib.contextmanager
def _client_as_before() -> Iterator[None]:
    """The downloading client as before issue #16's CPU work, for the baseline of the CPU per item goal.

    Each patch puts one measure back: JSON decoded by the standard library (before orjson); the garbage collector
    running while pages are decoded and mapped (before `gc_paused`); requests sent by `Session.request`, which merges
    the session's settings and reads proxies, CA bundle and .netrc from the environment for every request (before
    `HttpClient._transmit`). Code that only got faster (record checks, the storing path) stays faster in the baseline
    too: the ratio understates the gain rather than flatter it.
    """
    from siisurit.connectors import base, http

    with (
        mock.patch.object(http, "decoded_json", lambda response: response.json()),
        mock.patch.object(base, "gc_paused", contextlib.nullcontext),
        mock.patch.object(http.HttpClient, "_transmit", _request_as_before),
    ):
        yield


def _baseline_cpu_per_item(organization, kind: str, credentials: dict, round_number: int) -> tuple[float, dict]:
    """Milliseconds of client CPU per item of a first download with the client as before (`_client_as_before`)."""
    from siisurit.models import Project

    project = Project.objects.create(organization=organization, code=f"big-{kind}-before-{round_number}", name="Big")
    tracker = _tracker(project, kind, kind, credentials)
    with _client_as_before():
        started = time.process_time()
        before = _download(tracker, full=True)
        return _milliseconds_per_item(time.process_time() - started, before["items"]), before


def _cpu_per_item_in_run(table: Table, kind: str, milliseconds: list[float], before_milliseconds: list[float]) -> None:
    """The client CPU per item of the first downloads against the client as before, round by round (same load).

    No verdict: the baseline undoes only what can be switched off, so the ratio understates the gain; the goal
    (≤ 0.70) is checked against the code of the issue's day by bench/download_cpu.py.
    """
    ratio = statistics.median(now / before for now, before in zip(milliseconds, before_milliseconds, strict=True))
    table.add(
        f"client CPU per item, median of {len(milliseconds)}", kind, 0, "", "",
        f"{statistics.median(milliseconds):.3f} ms, before {statistics.median(before_milliseconds):.3f} ms; "
        f"x before {ratio:.2f} (in-run, understates the gain; goal ≤ 0.70: bench/download_cpu.py)",
    )  # fmt: skip


def _download(tracker, **options) -> dict:
    from siisurit.downloads.service import tracker_download

    return tracker_download(tracker_id=str(tracker.id), **options)


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, phase: str, subject: str, seconds: float, requests: int | str, items: int | str, note: str = ""):
        self.rows.append((phase, subject, f"{seconds:8.2f}", str(requests), str(items), note))

    def print(self) -> None:
        header = ("phase", "tracker", "seconds", "requests", "items", "result")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(len(header))]
        for row in [header, tuple("-" * width for width in widths), *self.rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _verdict(value: float, goal: str, ok: bool) -> str:
    """`6.39 (goal ≥ 6.4) MISSED`: the value shown rounded towards its verdict (6.398 is not shown as 6.40)."""
    shown = math.ceil(value * 100) / 100 if goal.startswith("≤") and not ok else math.floor(value * 100) / 100
    return f"{shown:.2f} (goal {goal}) {'OK' if ok else 'MISSED'}"


# --- big trackers ----------------------------------------------------------------------------------------------


def _big_trackers(arguments, organization, table: Table) -> None:
    from siisurit.models import Project

    sandbox = SandboxProcess(
        seed=1,
        task_count={"github": arguments.tasks},
        entry_count={"kimai": arguments.entries},
        other_entry_count=0,
        # Every page of a pass stays cached (a 200,000-entry Kimai pass is about 230 MB): the floor measures the
        # client, not the sandbox rendering pages again.
        page_cache_megabytes=PAGE_CACHE_MEGABYTES,
    )
    try:
        for kind in ("github", "kimai"):
            ratios, cpu_per_item, cpu_per_item_before = [], [], []
            for round_number in range(1, arguments.rounds + 1):
                project = Project.objects.create(
                    organization=organization, code=f"big-{kind}-{round_number}", name="Big"
                )
                tracker = _tracker(project, kind, kind, sandbox.credentials)
                if round_number == 1:
                    _floor(tracker)  # warm-up: the sandbox renders and caches its pages
                _settle()
                floor_seconds, floor_requests, floor_items = _floor(tracker)
                cpu_started, database_started = time.process_time(), _database_cpu_seconds()
                first = _download(tracker, full=True)
                cpu_per_item.append(_milliseconds_per_item(time.process_time() - cpu_started, first["items"]))
                database_cpu = _database_cpu_seconds()
                database_note = ""
                if database_cpu is not None and database_started is not None:
                    database_milliseconds = _milliseconds_per_item(database_cpu - database_started, first["items"])
                    database_note = f"; database CPU {database_milliseconds:.3f} ms/item"
                ratios.append(first["duration"] / floor_seconds)
                table.add(f"floor (fetch+parse) {round_number}", kind, floor_seconds, floor_requests, floor_items)
                table.add(
                    f"first download {round_number}",
                    kind,
                    first["duration"],
                    first["requests"],
                    first["items"],
                    f"created {first['created']}; x floor {ratios[-1]:.2f}; client CPU {cpu_per_item[-1]:.3f} ms/item"
                    + database_note,
                )
                milliseconds, before = _baseline_cpu_per_item(organization, kind, sandbox.credentials, round_number)
                cpu_per_item_before.append(milliseconds)
                table.add(
                    f"first download {round_number}, client as before", kind, before["duration"], before["requests"],
                    before["items"], f"client CPU {milliseconds:.3f} ms/item (stdlib JSON, collector, Session.request)",
                )  # fmt: skip
            ratio = statistics.median(ratios)
            table.add(
                f"first / floor, median of {len(ratios)}", kind, 0, "", "", _verdict(ratio, "≤ 1.5", ratio <= 1.5)
            )
            _cpu_per_item_in_run(table, kind, cpu_per_item, cpu_per_item_before)
            rss = _peak_rss_mb()
            second = _download(tracker)
            speedup = first["duration"] / max(second["duration"], 1e-6)
            table.add(
                "second, unchanged",
                kind,
                second["duration"],
                second["requests"],
                second["items"],
                f"changed {second['created'] + second['updated']}; speedup " + _verdict(speedup, "≥ 10", speedup >= 10),
            )
            again = _download(tracker, full=True)
            table.add(
                "second, full=True",
                kind,
                again["duration"],
                again["requests"],
                again["items"],
                f"304s {again['not_modified']}, changed {again['created'] + again['updated']}, "
                f"deleted {again['deleted']}",
            )
            table.add("peak RSS of the downloader", kind, 0, "", "", f"{rss:.0f} MB after the first downloads")
    finally:
        sandbox.close()


# --- fan-out with Celery workers --------------------------------------------------------------------------------


def _machine_cpu_fields() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(value) for value in stat.readline().split()[1:]]


def _machine_busy_seconds() -> float:
    """CPU seconds all cores of this machine spent busy since boot (anybody's processes, and time the hypervisor
    gave to other machines: steal)."""
    fields = _machine_cpu_fields()
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


def _machine_steal_seconds() -> float:
    """CPU seconds the hypervisor took from this machine's cores since boot (steal: the host's other guests)."""
    return _machine_cpu_fields()[7] / _CLOCK_TICKS


def _process_stats() -> dict[int, list[str]]:
    """The fields of /proc/<pid>/stat after the name (field 4, ppid, is [1]) of every living process."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                stats[int(entry)] = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
    return stats


def _group_cpu_seconds(group_ids: list[int]) -> float:
    """CPU seconds used so far by the living processes of the process groups (a worker and its pool children)."""
    return sum(
        (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
        for fields in _process_stats().values()
        if int(fields[2]) in group_ids  # field 5 (pgrp), counted after the name
    )


def _tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by process `root`, the children it reaped (a PostgreSQL session that ended) and its
    living descendants."""
    stats = _process_stats()
    if root not in stats:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    total = (int(stats[root][13]) + int(stats[root][14])) / _CLOCK_TICKS  # cutime, cstime
    pending = [root]
    while pending:
        pid = pending.pop()
        total += (int(stats[pid][11]) + int(stats[pid][12])) / _CLOCK_TICKS  # utime, stime
        pending.extend(children.get(pid, []))
    return total


def _server_pids() -> list[int]:
    """The PostgreSQL postmaster and the Redis server when they are the embedded ones (on this machine, serving only
    this benchmark): their CPU counts with the fan-out's own."""
    from django.conf import settings
    from django.db import connection

    from siisurit.downloads.cache import download_cache_client

    pids = []
    if settings.USE_EMBEDDED_POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(int(_process_stats()[cursor.fetchone()[0]][1]))  # the backend's parent
    if settings.USE_EMBEDDED_REDIS:
        pids.append(int(download_cache_client().info("server")["process_id"]))
    return pids


def _own_cpu_seconds(group_ids: list[int], server_pids: list[int]) -> float:
    """CPU seconds used so far by the fan-out's own processes: workers and sandbox (process groups), the embedded
    servers and this process; unlike the machine's busy time, other work on the machine does not count."""
    servers = sum(_tree_cpu_seconds(pid) for pid in server_pids)
    return _group_cpu_seconds(group_ids) + servers + time.process_time()


def _group_peak_rss_mb(group_ids: list[int]) -> float:
    peak = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                group = int(stat.read().rsplit(")", 1)[1].split()[2])
            if group not in group_ids:
                continue
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


class Workers:
    """`celery -A workers worker -Q FAN_OUT_QUEUE -c C` processes (prefork), each in its own process group."""

    def __init__(self, concurrencies: list[int]) -> None:
        from workers.app import app

        self.app = app
        self.names = [f"bench-{uuid.uuid4().hex[:6]}@{os.uname().nodename}" for _ in concurrencies]
        self.processes = []
        for name, concurrency in zip(self.names, concurrencies, strict=True):
            command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", FAN_OUT_QUEUE, "-c",
                       str(concurrency), "--pool", "prefork", "-n", name, "--without-mingle", "--without-gossip",
                       "--loglevel", "WARNING", "--include", "bench.fan_out_ceiling"]  # fmt: skip
            self.processes.append(
                subprocess.Popen(command, cwd=REPOSITORY, start_new_session=True, stdout=subprocess.DEVNULL)
            )
        deadline = time.monotonic() + 120
        waiting = set(self.names)
        while waiting:
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                self.close()
                raise RuntimeError("the Celery workers did not start")
            for reply in app.control.ping(destination=list(waiting), timeout=1.0):
                waiting -= set(reply)

    @property
    def group_ids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _jobs_run(app, trackers: list, task: str = DOWNLOAD_TASK, **options) -> list[dict]:
    """Send one job of `task` per tracker to the fan-out's queue; their summaries once all are done.

    The summaries are read as the result backend publishes them, on one subscription to every job's channel made
    before the jobs are sent (what `AsyncResult.get` waits for, job by job, with a subscription, a read of the stored
    state and an unsubscription each: 0.5-1 ms more of this process's CPU per job, taken from the workers on a 2-core
    machine). `ResultSet.join_native` subscribes to all at once too, but returned about 0.14 s after the last job had
    ended. A state published before the subscription held is read from the stored results once a second.
    """
    from celery import states

    backend = app.backend
    task_ids = [str(uuid.uuid4()) for _ in trackers]
    channels = {backend.get_key_for_task(task_id): task_id for task_id in task_ids}
    summaries: dict[str, dict] = {}

    def take(task_id: str, meta: dict) -> None:
        if meta["status"] == states.SUCCESS:
            summaries[task_id] = meta["result"]
        elif meta["status"] in states.PROPAGATE_STATES:
            raise RuntimeError(f"fan-out job {task_id} ended {meta['status']}: {meta.get('result')}")

    pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(*channels)
        pubsub.ping()  # the server answers in order: once the pong is in, the subscriptions hold
        answered_by = time.monotonic() + 30
        while (message := pubsub.get_message(timeout=1.0)) is None or message["type"] != "pong":
            if time.monotonic() > answered_by:  # (the confirmations of the subscriptions come as None)
                raise TimeoutError("the result backend did not answer the subscription")
        # The result backend would subscribe to each job's channel as it is sent, and unsubscribe as soon as the
        # result object returned is dropped: two round trips per job of this process's CPU for nothing, since the
        # results are awaited on the subscription above.
        with mock.patch.object(backend, "on_task_call", lambda producer, task_id: None):
            for task_id, tracker in zip(task_ids, trackers, strict=True):
                app.send_task(
                    task,
                    kwargs={"tracker_id": str(tracker.id), **options},
                    queue=FAN_OUT_QUEUE,
                    task_id=task_id,
                )
        deadline = time.monotonic() + 3600
        while len(summaries) < len(task_ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(task_ids) - len(summaries)} fan-out jobs did not end within an hour")
            message = pubsub.get_message(timeout=1.0)
            if message is not None:
                take(channels[message["channel"]], backend.decode_result(message["data"]))
                continue
            for task_id in task_ids:
                if task_id not in summaries:
                    take(task_id, backend.get_task_meta(task_id))
    finally:
        pubsub.close()
    return [summaries[task_id] for task_id in task_ids]


def _fan_out_queue_delete() -> None:
    """Remove the fan-out's queue (and its binding) from the broker."""
    from kombu import Exchange, Queue

    from workers.app import app

    # As Celery declares a queue it was not configured with; deleting it through a declared Queue also removes the
    # exchange's binding, which the channel only knows of once declared.
    queue = Queue(FAN_OUT_QUEUE, Exchange(FAN_OUT_QUEUE), routing_key=FAN_OUT_QUEUE)
    with app.connection_for_write() as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        bound.delete()


def _scenario_run(workers, sandbox, trackers: list, task: str, options: dict, repeats: int, servers: list[int]):
    """Run one fan-out scenario `repeats` times: the median seconds, the last run's summaries, and a note on the
    runs and the CPU they used (per run and per tracker)."""
    own_groups = [*workers.group_ids, sandbox.process.pid]
    meters = {  # CPU seconds so far
        "workers": lambda: _group_cpu_seconds(workers.group_ids),
        "sandbox": lambda: _group_cpu_seconds([sandbox.process.pid]),
        "machine": _machine_busy_seconds,
        "steal": _machine_steal_seconds,
        "own": lambda: _own_cpu_seconds(own_groups, servers),
    }
    before = {name: meter() for name, meter in meters.items()}
    runs = []
    for _ in range(repeats):
        started = time.monotonic()
        summaries = _jobs_run(workers.app, trackers, task, **options)
        runs.append(time.monotonic() - started)
    used = {name: (meter() - before[name]) / repeats for name, meter in meters.items()}  # per run
    cores = os.cpu_count() or 1
    note = (
        f"CPU{' per run' if repeats > 1 else ''}: workers {used['workers']:.1f} s "
        f"({1000 * used['workers'] / len(trackers):.0f} ms/tracker), sandbox {used['sandbox']:.1f} s, "
        f"machine {used['machine']:.1f} of {cores * sum(runs) / repeats:.1f} s (steal {used['steal']:.2f}), "
        f"own {1000 * used['own'] / len(trackers):.0f} ms/tracker"
    )
    if repeats > 1:
        note = f"median of {repeats} runs ({min(runs):.2f}-{max(runs):.2f} s); {note}"
    return statistics.median(runs), summaries, note


def _fan_out(arguments, organization, table: Table) -> None:
    from bench.fan_out_ceiling import TASK_NAME as CEILING_TASK  # the workers load the task by `--include`
    from siisurit.models import Project

    sandbox = SandboxCommand(
        seed=2, tasks=arguments.fanout_tasks, entries=arguments.fanout_entries, latency_ms=arguments.latency_ms
    )
    configurations = (
        ("1 slot", [1]),
        (f"{arguments.slots} slots", [arguments.slots]),
        (f"1 process x {arguments.process_slots}", [arguments.process_slots]),
        (f"2 processes x {arguments.process_slots}", [arguments.process_slots] * 2),
    )
    # The update of unchanged trackers takes about a second at 8 slots: one run is at the mercy of whatever else the
    # machine does in that second, so it runs --repeats times and the median counts. The trackers stay unchanged, so
    # every repetition does the same work.
    # The ceiling: jobs that only wait for as long as one answer takes (bench/fan_out_ceiling.py), fanned out like the
    # update of unchanged trackers; no goal, it says what the queue itself allows on the machine at that moment.
    scenarios = (
        ("first download", DOWNLOAD_TASK, {"full": True}, 1),
        ("update, unchanged", DOWNLOAD_TASK, {}, arguments.repeats),
        ("full re-check", DOWNLOAD_TASK, {"full": True}, 1),
        (f"ceiling (jobs that only wait {arguments.latency_ms} ms)", CEILING_TASK, {"sleep_ms": arguments.latency_ms},
         arguments.repeats),
    )  # fmt: skip
    durations: dict[tuple[str, str], float] = {}
    servers = _server_pids()
    try:
        project = Project.objects.create(organization=organization, code="fanout-warm-up", name="Warm-up")
        slots = max(sum(concurrencies) for _, concurrencies in configurations)
        warm_up = [_tracker(project, f"w{index}", "kimai", sandbox.credentials) for index in range(2 * slots)]
        for number, (label, concurrencies) in enumerate(configurations):
            project = Project.objects.create(organization=organization, code=f"fanout-{number}", name="Fan-out")
            trackers = [
                _tracker(project, f"t{index}", ("github", "kimai")[index % 2], sandbox.credentials)
                for index in range(arguments.fanout_trackers)
            ]
            workers = Workers(concurrencies)
            try:
                # Not timed: every pool process imports and connects once, as long-running workers did long ago.
                _jobs_run(workers.app, warm_up[: 2 * sum(concurrencies)], full=True)
                for scenario, task, options, repeats in scenarios:
                    # From a settled database, as the big trackers' rounds: autovacuum would otherwise work through
                    # the first download's rows during the update's runs, on the fan-out's own CPU (the embedded
                    # server's).
                    _settle()
                    seconds, summaries, note = _scenario_run(
                        workers, sandbox, trackers, task, options, repeats, servers
                    )
                    durations[label, scenario] = seconds
                    if number in (1, 3):
                        previous = configurations[number - 1][0]
                        speedup = durations[previous, scenario] / seconds
                        goal = FAN_OUT_GOALS[number]
                        if task == CEILING_TASK:
                            verdict = f"{speedup:.2f} (no goal: the most the update can reach here now)"
                        else:
                            verdict = _verdict(speedup, f"≥ {goal}", speedup >= goal)
                        note = f"speedup vs {previous} {verdict}; {note}"
                    table.add(
                        f"fan-out {scenario}, {label}",
                        f"{len(trackers)} trackers",
                        seconds,
                        sum(summary["requests"] for summary in summaries),
                        sum(summary["items"] for summary in summaries),
                        note,
                    )
                table.add(
                    f"peak RSS of a worker process, {label}",
                    "",
                    0,
                    "",
                    "",
                    f"{_group_peak_rss_mb(workers.group_ids):.0f} MB",
                )
            finally:
                workers.close()
    finally:
        sandbox.close()
        _fan_out_queue_delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000, help="issues of the GitHub tracker")
    parser.add_argument("--entries", type=int, default=200_000, help="work entries of the Kimai tracker")
    parser.add_argument("--rounds", type=int, default=3, help="floor + first download rounds (median ratio)")
    parser.add_argument("--fanout-trackers", type=int, default=60, help="half GitHub, half Kimai")
    parser.add_argument("--fanout-tasks", type=int, default=1000, help="issues of each fan-out GitHub tracker")
    parser.add_argument("--fanout-entries", type=int, default=2000, help="entries of each fan-out Kimai tracker")
    parser.add_argument("--latency-ms", type=int, default=50, help="delay of every sandbox answer in the fan-out")
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs of the fan-out's update of unchanged trackers and of its ceiling"
    )
    parser.add_argument("--slots", type=int, default=8, help="worker concurrency compared with 1")
    parser.add_argument("--process-slots", type=int, default=4, help="concurrency of each of two worker processes")
    parser.add_argument("--skip-big", action="store_true", help="only the fan-out")
    parser.add_argument("--skip-fanout", action="store_true", help="only the big trackers")
    parser.add_argument("--database", default="siisurit_bench_download")
    arguments = parser.parse_args()

    print(_environment(arguments.database), flush=True)
    from django.core.management import call_command

    from siisurit.models import Organization

    call_command("migrate", verbosity=0)
    _wipe()
    organization = Organization.objects.create(code="bench-download", name="Download benchmark")
    table = Table()
    load_before = os.getloadavg()
    print(f"peak RSS before downloads: {_peak_rss_mb():.0f} MB", flush=True)
    if not arguments.skip_big:
        _big_trackers(arguments, organization, table)
        if not arguments.skip_fanout:
            # The fan-out starts from an empty, settled database, as with --skip-big: after the big trackers' 1.3
            # million rows its first scenario (1 slot) cost PostgreSQL about 90 ms more per tracker than the same
            # scenario alone, which flattered the first download's speedup.
            _wipe()
            _settle()
            organization = Organization.objects.create(code="bench-download", name="Download benchmark")
    if not arguments.skip_fanout:
        _fan_out(arguments, organization, table)
    load_after = os.getloadavg()
    # The next benchmark (`make bench` runs bench/matching.py next, on the same server) must not inherit the upkeep
    # of the rows written here: autovacuum would work through them during its measurements.
    _settle()
    print()
    table.print()
    print(f"\npeak RSS of the downloading process: {_peak_rss_mb():.0f} MB")
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{load:.1f}' for load in load_before)}, "
        f"after {'/'.join(f'{load:.1f}' for load in load_after)} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
