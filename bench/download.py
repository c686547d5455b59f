"""Benchmark of tracker downloads (not a test): prints a table.

Sandbox trackers run in a child process (so this process's peak RSS is the downloader's). In a dedicated database
(default `siisurit_bench_download`, created and migrated if missing, wiped at start) it measures:

- floor: the same pages fetched and parsed into records, nothing stored (a warm-up pass first, so that sandbox
  page rendering is cached for the floor and the download alike);
- first (complete) download of a GitHub tracker with --tasks issues and a Kimai tracker with --entries entries,
  goal ≤ 2.0 x floor;
- second download of the unchanged trackers (incremental + conditional requests), goal ≥ 10 x faster; and a
  second complete download (`full=True`) for comparison;
- peak RSS of this process after each phase;
- fan-out: --fanout-trackers trackers (half GitHub, half Kimai) behind --latency-ms per answer, downloaded by 1
  and by 8 threads calling `tracker_download` (like worker slots: each thread keeps its database connection):
  first download, update of unchanged trackers (incremental), and a complete re-check (`full=True`, GitHub
  pages answer 304); goal speedup ≥ 6.4. Mind the cores: the sandbox, PostgreSQL and the downloads share them,
  so CPU-heavy scenarios cannot scale with threads beyond the free cores.

    python bench/download.py                                   # 20,000 tasks, 200,000 entries
    python bench/download.py --tasks 2000 --entries 20000      # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

_SANDBOX_CHILD = """
import json, sys
from siisurit.sandbox import SandboxTrackers
options = json.loads(sys.argv[1])
with SandboxTrackers(**options) as sandbox:
    print(json.dumps(sandbox.credentials()), flush=True)
    sys.stdin.read()
"""


def _environment(database: str) -> None:
    os.environ.setdefault("SII_POSTGRES_HOST", "127.0.0.1")
    os.environ.setdefault("SII_REDIS_URL", "redis://127.0.0.1:6379/12")  # cache in database 13
    os.environ["SII_POSTGRES_DATABASE"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siisurit.settings")
    os.environ.setdefault("SII_LOG_LEVEL", "WARNING")


def _database_ensure(database: str) -> None:
    import psycopg

    host = os.environ["SII_POSTGRES_HOST"]
    port = os.environ.get("SII_POSTGRES_PORT", "5432")
    user = os.environ.get("SII_POSTGRES_USERNAME", "postgres")
    password = os.environ.get("SII_POSTGRES_PASSWORD", "")
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            c.execute(f'CREATE DATABASE "{database}"')


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
    from django.db import connection

    from siisurit.connectors.cache import download_cache_redis

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE siisurit_organization CASCADE")
    client = download_cache_redis()
    for key in client.scan_iter(match="siisurit:download:*", count=1000):
        client.delete(key)


def _floor(tracker) -> tuple[float, int, int]:
    """Seconds, requests and records of fetching and parsing every page without storing anything."""
    from siisurit.connectors import connector_for

    started = time.monotonic()
    records = 0
    with connector_for(tracker) as connector:
        for page in connector.download(since=None):
            records += len(page.records)
        return time.monotonic() - started, connector.request_count, records


def _download(tracker, **options) -> dict:
    from siisurit.services.download import tracker_download

    return tracker_download(tracker_id=str(tracker.id), **options)


def _download_all(trackers: list, threads: int, **options) -> list[dict]:
    """Like worker slots: each thread takes the next tracker and keeps its database connection until the end."""
    from django.db import connection

    def slot(index: int) -> list[dict]:
        try:
            return [_download(tracker, **options) for tracker in trackers[index::threads]]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as executor:
        return [summary for summaries in executor.map(slot, range(threads)) for summary in summaries]


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, phase: str, subject: str, seconds: float, requests: int | str, items: int | str, note: str = ""):
        self.rows.append((phase, subject, f"{seconds:9.2f}", str(requests), str(items), note))

    def print(self) -> None:
        header = ("phase", "tracker", "seconds", "requests", "items", "result")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(len(header))]
        for row in [header, tuple("-" * width for width in widths), *self.rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _verdict(value: float, goal: str, ok: bool) -> str:
    return f"{value:.2f} (goal {goal}) {'OK' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000, help="issues of the GitHub tracker")
    parser.add_argument("--entries", type=int, default=200_000, help="work entries of the Kimai tracker")
    parser.add_argument("--fanout-trackers", type=int, default=60, help="half GitHub, half Kimai")
    parser.add_argument("--fanout-tasks", type=int, default=1000, help="issues of each fan-out GitHub tracker")
    parser.add_argument("--fanout-entries", type=int, default=2000, help="entries of each fan-out Kimai tracker")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database", default="siisurit_bench_download")
    arguments = parser.parse_args()

    _environment(arguments.database)
    _database_ensure(arguments.database)
    import django

    django.setup()
    from django.core.management import call_command

    from siisurit.models import Organization, Project

    call_command("migrate", verbosity=0)
    _wipe()
    organization = Organization.objects.create(code="bench-download", name="Download benchmark")
    table = Table()
    print(f"peak RSS before downloads: {_peak_rss_mb():.0f} MB", flush=True)

    # --- big trackers --------------------------------------------------------------------------------------------
    sandbox = SandboxProcess(
        seed=1, task_count={"github": arguments.tasks}, entry_count={"kimai": arguments.entries}, other_entry_count=0
    )
    try:
        project = Project.objects.create(organization=organization, code="big", name="Big")
        trackers = [_tracker(project, kind, kind, sandbox.credentials) for kind in ("github", "kimai")]
        for tracker in trackers:
            _floor(tracker)  # warm-up: the sandbox renders and caches its pages
            floor_seconds, floor_requests, floor_items = _floor(tracker)
            table.add("floor (fetch+parse)", tracker.name, floor_seconds, floor_requests, floor_items)
            first = _download(tracker, full=True)
            ratio = first["duration"] / floor_seconds
            table.add(
                "first download",
                tracker.name,
                first["duration"],
                first["requests"],
                first["items"],
                f"created {first['created']}; x floor " + _verdict(ratio, "≤ 2.0", ratio <= 2.0),
            )
            rss = _peak_rss_mb()
            second = _download(tracker)
            speedup = first["duration"] / max(second["duration"], 1e-6)
            table.add(
                "second, unchanged",
                tracker.name,
                second["duration"],
                second["requests"],
                second["items"],
                f"changed {second['created'] + second['updated']}; speedup " + _verdict(speedup, "≥ 10", speedup >= 10),
            )
            again = _download(tracker, full=True)
            table.add(
                "second, full=True",
                tracker.name,
                again["duration"],
                again["requests"],
                again["items"],
                f"304s {again['not_modified']}, changed {again['created'] + again['updated']}, "
                f"deleted {again['deleted']}",
            )
            print(
                f"peak RSS after {tracker.name}: {rss:.0f} MB (after all its runs {_peak_rss_mb():.0f} MB)", flush=True
            )
    finally:
        sandbox.close()

    # --- fan-out -------------------------------------------------------------------------------------------------
    sandbox = SandboxProcess(
        seed=2,
        task_count={"github": arguments.fanout_tasks},
        entry_count={"kimai": arguments.fanout_entries},
        other_entry_count=0,
        latency_ms=arguments.latency_ms,
    )
    scenarios = (("first download", {"full": True}), ("update, unchanged", {}), ("full re-check", {"full": True}))
    try:
        tracker_sets = {}
        for threads in (1, arguments.threads):
            project = Project.objects.create(organization=organization, code=f"fanout-{threads}", name="Fan-out")
            tracker_sets[threads] = [
                _tracker(project, f"t{number}", ("github", "kimai")[number % 2], sandbox.credentials)
                for number in range(arguments.fanout_trackers)
            ]
        for scenario, options in scenarios:
            durations = {}
            for threads, trackers in tracker_sets.items():
                started = time.monotonic()
                summaries = _download_all(trackers, threads, **options)
                durations[threads] = time.monotonic() - started
                note = f"{arguments.latency_ms} ms per answer"
                if threads != 1:
                    speedup = durations[1] / durations[threads]
                    note += "; speedup " + _verdict(speedup, "≥ 6.4", speedup >= 6.4)
                table.add(
                    f"fan-out {scenario}, {threads} thread(s)",
                    f"{len(trackers)} trackers",
                    durations[threads],
                    sum(summary["requests"] for summary in summaries),
                    sum(summary["items"] for summary in summaries),
                    note,
                )
    finally:
        sandbox.close()
    print()
    table.print()
    print(f"\npeak RSS of the downloading process: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
