"""Benchmark (not a test): client CPU per item of first downloads, this checkout against another one.

    python bench/download_cpu.py                               # against 8868cea, checked out for the run
    python bench/download_cpu.py --before /tmp/siisurit-before  # against a checkout of your own

Without --before, the last commit before issue #16's work (8868cea, "the client CPU of today" in that issue) is
checked out into a temporary git worktree of this repository, and removed again at the end.

Round by round, one process per checkout in turn (so both see the same load): it uses that checkout's code, its
project servers (as `bench/download.py`: the embedded ones in `local`) with a database of its own, starts
that checkout's sandbox in a child process, reads every page once (warm-up), then takes `time.process_time` of a
first download of a fresh tracker over its items. Prints the medians per tracker kind and their ratio.
`bench/download.py` compares in one process against the client with this issue's switchable measures undone, which
cannot undo the rest (record checks, the storing path); this compares whole code bases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dotenv import dotenv_values

REPOSITORY = Path(__file__).resolve().parent.parent
DATABASE = "siisurit_bench_cpu"  # with a suffix per checkout: their schemas differ
#: The last commit before issue #16's work: the client whose CPU per item the issue's goal compares with.
BEFORE_ISSUE_16 = "8868cea"


def _measure(code: Path, database: str, kind: str, count: int) -> None:
    """One first download with the code of `code`; prints its client CPU per item as the last line (JSON)."""
    sys.path.insert(0, str(code))
    from bench import download as bench

    print(bench._environment(database), file=sys.stderr)
    from django.core.management import call_command

    from sandbox import SandboxConfig
    from siisurit.models import Organization, Project

    call_command("migrate", verbosity=0)
    bench._wipe()
    organization = Organization.objects.create(code="bench-cpu", name="Client CPU benchmark")
    cache = {"page_cache_megabytes": 1024} if "page_cache_megabytes" in SandboxConfig.__dataclass_fields__ else {}
    sandbox = bench.SandboxProcess(
        seed=1, task_count={"github": count}, entry_count={"kimai": count}, other_entry_count=0, **cache
    )
    try:
        project = Project.objects.create(organization=organization, code="warm-up", name="Warm-up")
        bench._floor(bench._tracker(project, kind, kind, sandbox.credentials))
        project = Project.objects.create(organization=organization, code="first", name="First")
        tracker = bench._tracker(project, kind, kind, sandbox.credentials)
        started = time.process_time()
        summary = bench._download(tracker, full=True)
        seconds = time.process_time() - started
    finally:
        sandbox.close()
    print(json.dumps({"microseconds": seconds * 1e6 / max(summary["items"], 1), "items": summary["items"]}))


def _same_servers() -> dict[str, str]:
    """The environment for both checkouts' processes: this checkout's `.env` and data dir (its embedded servers)."""
    environment = {**os.environ}
    environment.setdefault("SII_ENV_FILE", str(REPOSITORY / ".env"))
    if "SII_DATA_DIR" not in environment and "SII_DATA_DIR" not in dotenv_values(environment["SII_ENV_FILE"]):
        environment["SII_DATA_DIR"] = str(REPOSITORY / ".siisurit")
    return environment


def _run(code: Path, label: str, kind: str, count: int) -> float:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", kind, str(count), "--code", str(code),
               "--database", f"{DATABASE}_{label}"]  # fmt: skip
    result = subprocess.run(command, cwd=code, env=_same_servers(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the measurement in {code} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["microseconds"]


@contextmanager
def _checkout(commit: str) -> Iterator[Path]:
    """A temporary detached git worktree of this repository at `commit` (removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix="siisurit-before-")) / "code"
    git = ["git", "-C", str(REPOSITORY)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(path), commit], check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)
        path.parent.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--before", type=Path, help=f"the checkout to compare with (default: {BEFORE_ISSUE_16} checked out for the run)"
    )
    parser.add_argument("--tasks", type=int, default=20_000, help="issues of the GitHub tracker")
    parser.add_argument("--entries", type=int, default=200_000, help="work entries of the Kimai tracker")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        _measure(arguments.code, arguments.database, arguments.measure[0], int(arguments.measure[1]))
        return
    if arguments.before is not None:
        _compare(arguments.before.resolve(), arguments)
        return
    with _checkout(BEFORE_ISSUE_16) as before:
        _compare(before, arguments)


def _compare(before: Path, arguments: argparse.Namespace) -> None:
    print(f"client CPU per item of a first download: {REPOSITORY} against {before}", flush=True)
    for kind, count in (("github", arguments.tasks), ("kimai", arguments.entries)):
        times: dict[str, list[float]] = {"before": [], "now": []}
        for _ in range(arguments.rounds):
            times["before"].append(_run(before, "before", kind, count))
            times["now"].append(_run(REPOSITORY, "now", kind, count))
        now, then = statistics.median(times["now"]), statistics.median(times["before"])
        ratio = now / then
        print(
            f"{kind} ({count:,} items): now {now:.1f} µs (" + " ".join(f"{value:.1f}" for value in times["now"])
            + f"), before {then:.1f} µs (" + " ".join(f"{value:.1f}" for value in times["before"])
            + f"); now / before {ratio:.2f} (goal ≤ 0.70) {'OK' if ratio <= 0.70 else 'MISSED'}",
            flush=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
