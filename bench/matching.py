"""Benchmark of the matching engine (not a test): prints a table.

For each scale (a tenth of --entries, then --entries; tasks a tenth of the entries) it generates a project in a
dedicated database (default `siisurit_bench`, created and migrated if missing, wiped at start) with one work
tracker, one task tracker and the five rule kinds, then times on the same data, each from the same unmatched state:

- baseline "code": one hand-written UPDATE … FROM matching `substring(text from '^(#\\d+)')` to task codes;
- baseline "all five": one hand-written UPDATE doing all five rules (code, external id, URL, pattern, always);
- `project_match` in a child process (time inside the child, peak RSS of the child), first run (everything
  changes), re-run without changes, and re-run after removing one rule.

Baselines commit (the commit checks the deferred foreign keys, as the engine's does); every timed run starts from
`reset()` (all entries unmatched, VACUUM FULL ANALYZE), so every run sees the same table.

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


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE siisurit_task")
        cursor.execute("VACUUM FULL ANALYZE siisurit_workentry")


def reset() -> None:
    """Every entry unmatched, table and indexes rewritten compactly: the same start for every timed first run."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE siisurit_workentry SET task_id = NULL, work_match_id = NULL, matched_at = NULL"
            " WHERE task_id IS NOT NULL OR work_match_id IS NOT NULL OR matched_at IS NOT NULL"
        )
    _vacuum()


# --- Baselines: one hand-written SQL statement each ------------------------------------------------------------

BASELINE_CODE = r"""
    UPDATE siisurit_workentry AS entry
    SET task_id = task.id, work_match_id = %(rule_code)s, matched_at = now()
    FROM siisurit_task AS task
    WHERE entry.tracker_id = %(kimai)s AND task.tracker_id = %(github)s
      AND task.code = substring(entry.text from '^(#\d+)')
"""

BASELINE_ALL_FIVE = r"""
    UPDATE siisurit_workentry AS entry
    SET task_id = matched.task_id, work_match_id = matched.work_match_id, matched_at = now()
    FROM (
        SELECT work.id,
               COALESCE(by_code.id, by_external_id.id, by_url.id,
                        CASE WHEN work.text ~* 'meeting' THEN %(meetings)s::uuid END, %(various)s::uuid) AS task_id,
               CASE WHEN by_code.id IS NOT NULL THEN %(rule_code)s::uuid
                    WHEN by_external_id.id IS NOT NULL THEN %(rule_external_id)s::uuid
                    WHEN by_url.id IS NOT NULL THEN %(rule_url)s::uuid
                    WHEN work.text ~* 'meeting' THEN %(rule_meeting)s::uuid
                    ELSE %(rule_always)s::uuid END AS work_match_id
        FROM siisurit_workentry AS work
        LEFT JOIN siisurit_task AS by_code
               ON by_code.tracker_id = %(github)s AND by_code.code = substring(work.text from '^(#\d+)')
        LEFT JOIN siisurit_task AS by_external_id
               ON by_external_id.tracker_id = %(github)s
              AND by_external_id.external_id = NULLIF(work.external_task_id, '')
        LEFT JOIN siisurit_task AS by_url
               ON by_url.tracker_id = %(github)s AND by_url.url = NULLIF(work.external_task_id, '')
        WHERE work.tracker_id = %(kimai)s
    ) AS matched
    WHERE entry.id = matched.id
"""


def baseline(statement: str, ids: dict[str, str]) -> tuple[float, int]:
    """Seconds (including the commit, which checks the deferred foreign keys as the engine's does) and rows."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, ids)
        rows = cursor.rowcount
    return time.perf_counter() - started, rows


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


# --- The table -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="work entries of the largest scale")
    parser.add_argument("--database", default="siisurit_bench", help="dedicated database (wiped)")
    parser.add_argument("--child-match", metavar="PROJECT_ID", help=argparse.SUPPRESS)
    options = parser.parse_args()
    servers = use_project_servers(options.database)
    if options.child_match:
        child_match(options.child_match)
        return
    print(servers, flush=True)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from siisurit.models import WorkMatch

    results = []
    for entry_count in (options.entries // 10, options.entries):
        task_count = max(entry_count // 10, 10)
        started = time.perf_counter()
        ids = generate(entry_count=entry_count, task_count=task_count)
        reset()
        print(
            f"generated {entry_count:,} entries, {task_count:,} tasks in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        result = {"entries": entry_count, "tasks": task_count}
        result["sql_all"], result["sql_all_rows"] = baseline(BASELINE_ALL_FIVE, ids)
        reset()
        result["engine_all"] = engine(ids["project"], options.database)
        result["rerun"] = engine(ids["project"], options.database)
        WorkMatch.objects.filter(id=ids["rule_meeting"]).delete()
        result["rule_removed"] = engine(ids["project"], options.database)
        WorkMatch.objects.filter(tracker_id=ids["github"]).exclude(id=ids["rule_code"]).delete()
        reset()
        result["sql_code"], result["sql_code_rows"] = baseline(BASELINE_CODE, ids)
        reset()
        result["engine_code"] = engine(ids["project"], options.database)
        results.append(result)
        print(f"measured {entry_count:,} entries", flush=True)
    _table(results)


def _table(results: list[dict]) -> None:
    header = (
        f"{'entries':>9} {'tasks':>7} | {'SQL 5 rules':>11} {'engine':>7} {'ratio':>5} |"
        f" {'SQL code':>8} {'engine':>7} {'ratio':>5} | {'peak RSS':>8} | {'re-run':>6} {'changed':>7} |"
        f" {'rule removed':>12} {'changed':>7}"
    )
    print()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for result in results:
        engine_all, engine_code = result["engine_all"], result["engine_code"]
        all_ratio, code_ratio = engine_all["seconds"] / result["sql_all"], engine_code["seconds"] / result["sql_code"]
        peak = max(result[key]["peak_rss_mb"] for key in ("engine_all", "rerun", "rule_removed", "engine_code"))
        print(
            f"{result['entries']:>9,} {result['tasks']:>7,} |"
            f" {result['sql_all']:>10.1f}s {engine_all['seconds']:>6.1f}s {all_ratio:>5.2f} |"
            f" {result['sql_code']:>7.1f}s {engine_code['seconds']:>6.1f}s {code_ratio:>5.2f} | {peak:>5.0f} MB |"
            f" {result['rerun']['seconds']:>5.1f}s {result['rerun']['summary']['changed']:>7,} |"
            f" {result['rule_removed']['seconds']:>11.1f}s {result['rule_removed']['summary']['changed']:>7,}"
        )
    small, large = results
    print()
    growth = large["engine_all"]["seconds"] / small["engine_all"]["seconds"]
    print(f"10 times the entries: engine {growth:.1f} times the time")
    print(
        f"rows written: SQL 5 rules {large['sql_all_rows']:,}, engine {large['engine_all']['summary']['changed']:,};"
        f" SQL code {large['sql_code_rows']:,}, engine {large['engine_code']['summary']['changed']:,}"
    )
    print(f"matched by kind: {large['engine_all']['summary']['matched_by_kind']}")


if __name__ == "__main__":
    main()
