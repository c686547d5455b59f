"""Benchmark of the matching engine (not a test): prints a table.

For each scale (a tenth of --entries, then --entries; tasks a tenth of the entries) it generates a project in a
dedicated database (default `siisurit_bench`, created and migrated if missing, wiped at start) with one work
tracker, one task tracker and the five rule kinds, then measures on the same data:

- the floor: `UPDATE siisurit_workentry SET duration_seconds = duration_seconds` of every row, committed (a bare
  rewrite of the work entry table; the task column itself now lives in the narrow match table);
- `project_match` in a child process (time inside the child, peak RSS of the child): the first match (every entry
  unmatched, no match state, the table freshly VACUUM FULL ANALYZEd as for the floor; --first-runs times from
  that state, the median counts: one run of 0.5 s at the small scale swings by a tenth), a re-run with nothing to
  change, and removing one rule (the ORM delete, which deletes its matches) plus the re-match.

The goals are ratios against the floor of the same run, printed with their verdicts after the table.

Servers: the project's configuration, as for every command (the embedded servers in `local`, the configured ones
otherwise), with the database named by --database; the first line of output names them.

    python bench/matching.py                    # 100k and 1M entries
    python bench/matching.py --entries 100000   # quick: 10k and 100k entries
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from bench.servers import use_project_servers  # noqa: E402

WORDS = ["fixed the login", "review", "refactoring", "tests", "deployment", "docs", "customer call", "support"]
GITHUB_BASE = "https://github.com/example/app/issues/"


# --- Data generation -------------------------------------------------------------------------------------------


def _copy_lines(cursor, statement: str, lines) -> None:
    with cursor.copy(statement) as copy:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 50_000:
                copy.write("".join(batch))
                batch.clear()
        if batch:
            copy.write("".join(batch))


def generate(*, entry_count: int, task_count: int, seed: int = 42) -> dict[str, str]:
    """A fresh project with `task_count` tasks, `entry_count` unmatched entries and five rules; returns ids."""
    from django.db import connection, transaction

    from siisurit.ids import uuid7
    from siisurit.models import ApiKind, MatchOn, Organization, Project, Task, Tracker, WorkMatch

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE siisurit_organization CASCADE")
    with transaction.atomic():
        organization = Organization.objects.create(code="bench", name="Benchmark")
        project = Project.objects.create(organization=organization, code=f"bench-{entry_count}", name="Benchmark")
        kimai = Tracker.objects.create(project=project, name="kimai", api_kind=ApiKind.KIMAI)
        github = Tracker.objects.create(project=project, name="github", api_kind=ApiKind.GITHUB)
        various = Task.objects.create(tracker=github, code="various", title="Various", is_declared=True)
        meetings = Task.objects.create(tracker=github, code="meetings", title="Meetings", is_declared=True)
        rules = {}
        for position, (name, fields) in enumerate(
            [
                (
                    "code",
                    {
                        "match_on": MatchOn.PATTERN_TO_TASK_CODE,
                        "priority": 100,
                        "text_pattern": r"^(?P<task_code>#\d+)",
                    },
                ),
                ("external_id", {"match_on": MatchOn.EXTERNAL_TASK_ID_TO_TASK_EXTERNAL_ID, "priority": 90}),
                ("url", {"match_on": MatchOn.EXTERNAL_TASK_ID_TO_TASK_URL, "priority": 80}),
                (
                    "meeting",
                    {
                        "match_on": MatchOn.PATTERN_TO_TASK,
                        "priority": 50,
                        "text_pattern": "(?i)meeting",
                        "target_task": meetings,
                    },
                ),
                ("always", {"match_on": MatchOn.ALWAYS_TO_TASK, "priority": 1, "target_task": various}),
            ]
        ):
            rules[name] = WorkMatch.objects.create(tracker=github, position=position, **fields)
            rules[name].source_work_trackers.set([kimai])
        raw = connection.connection
        now = datetime.now(UTC).isoformat()
        with raw.cursor() as cursor:
            _copy_lines(
                cursor,
                "COPY siisurit_task (id, tracker_id, code, title, state, is_closed, url, external_id, is_declared, "
                "updated_at) FROM STDIN",
                (
                    f"{uuid7(0)}\t{github.id}\t#{number}\tTask number {number}\topen\tf\t{GITHUB_BASE}{number}\t"
                    f"{1_000_000 + number}\tf\t{now}\n"
                    for number in range(1, task_count + 1)
                ),
            )

            def entries():
                start = 1_700_000_000
                for number in range(entry_count):
                    kind = rng.random()
                    task_number = rng.randint(1, task_count)
                    text, external_task_id = rng.choice(WORDS), ""
                    if kind < 0.55:
                        text = f"#{task_number} {text}"
                    elif kind < 0.60:
                        text = f"#{task_count + task_number} {text}"  # a code without task: falls through
                    elif kind < 0.75:
                        external_task_id = str(1_000_000 + task_number)
                    elif kind < 0.85:
                        external_task_id = f"{GITHUB_BASE}{task_number}"
                    elif kind < 0.93:
                        text = f"Weekly Meeting about {text}"
                    started_at = datetime.fromtimestamp(start + number * 60, UTC).isoformat()
                    yield (
                        f"{uuid7(0)}\t{kimai.id}\t{number}\tuser{number % 50}\t{started_at}\t{rng.randint(60, 28800)}\t"
                        f"{text}\tCustomer / App / Development\t{external_task_id}\n"
                    )

            _copy_lines(
                cursor,
                "COPY siisurit_workentry (id, tracker_id, external_id, external_username, started_at,"
                " duration_seconds, text, breadcrumb_trail, external_task_id) FROM STDIN",
                entries(),
            )
    return {
        "project": str(project.id),
        "kimai": str(kimai.id),
        "github": str(github.id),
        "various": str(various.id),
        "meetings": str(meetings.id),
        **{f"rule_{name}": str(rule.id) for name, rule in rules.items()},
    }


def reset() -> None:
    """No entry matched, no match state, the work entry table rewritten compactly and written out: the same start
    for every timed run (a stored match state would make the next match one of pending entries, not a first match;
    without the checkpoint, the server would still be writing the rewrite's pages out during the run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE siisurit_workentrymatch, siisurit_workmatchstate")
        cursor.execute("VACUUM ANALYZE siisurit_task")
        cursor.execute("VACUUM FULL ANALYZE siisurit_workentry")
        cursor.execute("CHECKPOINT")


# --- The floor: a bare rewrite of every work entry row ----------------------------------------------------------

FLOOR = "UPDATE siisurit_workentry SET duration_seconds = duration_seconds"


def floor() -> float:
    """Seconds of `FLOOR` over every row, committed (the matching's physical yardstick, measured in this run)."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FLOOR)
    return time.perf_counter() - started


# --- project_match in a child process --------------------------------------------------------------------------


def child_match(project_id: str) -> None:
    from siisurit.matching.service import project_match

    started = time.perf_counter()
    summary = project_match(project_id=project_id)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "summary": summary}) + "\n")


def engine(project_id: str, database: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--database", database, "--child-match", project_id],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def rule_removed(ids: dict[str, str], database: str) -> dict:
    """Delete the meeting rule (its matches go with it) and match again; seconds of both."""
    from siisurit.models import WorkMatch

    started = time.perf_counter()
    WorkMatch.objects.filter(id=ids["rule_meeting"]).delete()
    delete_seconds = time.perf_counter() - started
    result = engine(ids["project"], database)
    return {**result, "delete_seconds": delete_seconds, "seconds": delete_seconds + result["seconds"]}


def first_match(project_id: str, database: str, runs: int) -> dict:
    """The median of `runs` first matches, each from the unmatched state, with the seconds of every run."""
    results = []
    for _ in range(runs):
        reset()
        results.append(engine(project_id, database))
    median = sorted(results, key=lambda result: result["seconds"])[(runs - 1) // 2]
    return {**median, "runs": [result["seconds"] for result in results]}


def measure(entry_count: int, database: str, first_runs: int) -> dict:
    task_count = max(entry_count // 10, 10)
    started = time.perf_counter()
    ids = generate(entry_count=entry_count, task_count=task_count)
    reset()
    print(
        f"generated {entry_count:,} entries, {task_count:,} tasks in {time.perf_counter() - started:.0f} s", flush=True
    )
    result = {"entries": entry_count, "tasks": task_count, "floor": floor()}
    result["first"] = first_match(ids["project"], database, first_runs)
    result["rerun"] = engine(ids["project"], database)
    result["rule_removed"] = rule_removed(ids, database)
    print(f"measured {entry_count:,} entries", flush=True)
    return result


# --- The table -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="work entries of the largest scale")
    parser.add_argument("--database", default="siisurit_bench", help="dedicated database (wiped)")
    parser.add_argument(
        "--first-runs", type=int, default=3, help="first matches per scale, from the same state; the median counts"
    )
    parser.add_argument("--child-match", metavar="PROJECT_ID", help=argparse.SUPPRESS)
    options = parser.parse_args()
    servers = use_project_servers(options.database)
    if options.child_match:
        child_match(options.child_match)
        return
    print(servers, flush=True)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load_before = os.getloadavg()
    scales = (options.entries // 10, options.entries)
    results = [measure(entry_count, options.database, max(options.first_runs, 1)) for entry_count in scales]
    _table(results, load_before)


def _table(results: list[dict], load_before: tuple[float, float, float]) -> None:
    load_after = os.getloadavg()
    print()
    print(
        f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f},"
        f" after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"floor: `{FLOOR}` of every row, committed, same run and data")
    header = (
        f"{'entries':>9} {'tasks':>7} | {'floor':>6} | {'first':>6} {'ratio':>5} {'changed':>9} |"
        f" {'re-run':>6} {'ratio':>5} {'changed':>7} | {'rule removed':>12} {'ratio':>5} {'changed':>7} |"
        f" {'in Python':>9} | {'peak RSS':>8}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        first, rerun, removed = result["first"], result["rerun"], result["rule_removed"]
        peak = max(result[key]["peak_rss_mb"] for key in ("first", "rerun", "rule_removed"))
        print(
            f"{result['entries']:>9,} {result['tasks']:>7,} | {result['floor']:>5.1f}s |"
            f" {first['seconds']:>5.1f}s {first['seconds'] / result['floor']:>5.2f} {first['summary']['changed']:>9,} |"
            f" {rerun['seconds']:>5.1f}s {rerun['seconds'] / result['floor']:>5.2f} {rerun['summary']['changed']:>7,} |"
            f" {removed['seconds']:>11.1f}s {removed['seconds'] / result['floor']:>5.2f}"
            f" {removed['summary']['changed']:>7,} | {peak:>5.0f} MB"
        )
    for result in results:
        runs = ", ".join(f"{seconds:.2f}" for seconds in result["first"]["runs"])
        print(f"first match of {result['entries']:,}: median of {runs} s")
    small, large = results
    floor = large["floor"]
    growth = large["first"]["seconds"] / small["first"]["seconds"]
    peak = max(result[key]["peak_rss_mb"] for result in results for key in ("first", "rerun", "rule_removed"))
    print()
    print(f"{'goal':<34} {'measured':>9} {'floor':>9} {'value':>7} {'limit':>6}  verdict")
    for name, seconds, limit in (
        (f"first match of {large['entries']:,}", large["first"]["seconds"], 0.5),
        ("re-run, nothing to change", large["rerun"]["seconds"], 0.1),
        ("remove one rule + re-match", large["rule_removed"]["seconds"], 0.5),
    ):
        _goal(name, f"{seconds:.1f} s", f"{floor:.1f} s", seconds / floor, limit, "x floor")
    _goal("peak RSS of the matching process", f"{peak:.0f} MB", "-", peak, 300, "MB")
    growth_name = f"growth {small['entries']:,} -> {large['entries']:,}"
    small_seconds = f"{small['first']['seconds']:.1f} s"
    _goal(growth_name, f"{large['first']['seconds']:.1f} s", small_seconds, growth, 10.5, "x the smaller scale")
    print(f"\nmatched by kind (first match of {large['entries']:,}): {large['first']['summary']['matched_by_kind']}")


def _goal(name: str, measured: str, floor: str, value: float, limit: float, unit: str) -> None:
    verdict = "met" if value <= limit else "MISSED"
    print(f"{name:<34} {measured:>9} {floor:>9} {value:>7.3f} {limit:>6g}  {verdict} ({unit})")


if __name__ == "__main__":
    main()
