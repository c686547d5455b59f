"""Benchmark (not a test): enqueue→start latency and throughput of trivial jobs, project settings vs Celery defaults.

    python bench/queue_latency.py [--samples 400] [--jobs 200] [--concurrency 2] [--redis-database 10]
    python bench/queue_latency.py --configurations project,no-track-started,... --probe   (find where time goes)

Every configuration gets a real worker subprocess started with the production command line (workers.dispatch's
WORKER_COMMAND: the one README, docker-compose.yml and Procfile.dev use) plus `--include` of the trivial bench job,
consuming the production queues in its own scratch database of the project's Redis (--redis-database, the next one,
...; they must be empty, and are emptied again at the end). Servers: the project's configuration, as for every command
(the embedded servers in `local`, the configured ones otherwise); the first line of output names them. All workers run
at once and the samples are interleaved (blocks of 20, configurations in random order each round), so the noise of a
shared machine hits every configuration alike.

Latency: one job at a time sent to an idle worker, from just before `apply_async` in this process to the first line
of the task in the pool process (`time.time()` on both sides, one machine), after a warm-up; p50/p95/p99.
Throughput: bursts of `--jobs` jobs, from the first send to the last job's start; the median of three bursts.
`--probe` also splits the latency into stages (see bench/queue_latency_tasks.py). Goal: p50 ≤ 10 ms with our settings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUEUE = "maintenance"
BLOCK = 20
WARM_UP_JOBS = 30
GOAL_P50_MS = 10.0


@dataclass(frozen=True)
class Configuration:
    """A worker to measure: the project's app (`workers`), Celery's defaults, or the project's app with a change."""

    app: str = "workers"  # "workers" | "defaults" | "variant"
    overrides: dict[str, Any] = field(default_factory=dict)  # Celery settings changed in the variant
    without: str = ""  # BENCH_WITHOUT of bench/queue_latency_apps.py
    with_mingle_gossip: bool = False  # drop WORKER_COMMAND's --without-mingle/--without-gossip
    extra_options: tuple[str, ...] = ()  # worker options added to WORKER_COMMAND's
    loglevel: str = "INFO"
    description: str = ""


_EVENTS_OFF = {"worker_send_task_events": False, "task_send_sent_event": False}
CONFIGURATIONS = {
    "project": Configuration(description="the project's settings and worker command (production)"),
    # Celery's defaults know only the queue `celery`: -Q names the bench's (the project's worker consumes all of its).
    "defaults": Configuration(
        app="defaults",
        extra_options=(f"--queues={QUEUE}",),
        description="Celery's default settings, same worker command (consuming the bench's queue)",
    ),
    # One change each, to measure what it costs (with --configurations):
    "with-mingle-gossip": Configuration(app="variant", with_mingle_gossip=True),
    "without-mingle-gossip": Configuration(app="variant", extra_options=("--without-mingle", "--without-gossip")),
    "loglevel-warning": Configuration(app="variant", loglevel="WARNING", description="--loglevel WARNING"),
    "no-track-started": Configuration(app="variant", overrides={"task_track_started": False}),
    "no-events": Configuration(app="variant", overrides=_EVENTS_OFF),
    "no-acks-late": Configuration(
        app="variant", overrides={"task_acks_late": False, "task_reject_on_worker_lost": False}
    ),
    "prefetch-4": Configuration(app="variant", overrides={"worker_prefetch_multiplier": 4}),
    "celery-result-backend": Configuration(app="variant", overrides={"result_backend": "{url}"}),
    "celery-consumer": Configuration(app="variant", overrides={"worker_consumer": "celery.worker.consumer:Consumer"}),
    "celery-backend-consumer": Configuration(
        app="variant",
        overrides={"result_backend": "{url}", "worker_consumer": "celery.worker.consumer:Consumer"},
        description="the project app with Celery's own result backend and consumer (before this change)",
    ),
    "no-result-extended": Configuration(app="variant", overrides={"result_extended": False}),
    "no-job-log-context": Configuration(app="variant", without="job-log-context"),
    "no-django-fixup": Configuration(app="variant", without="django-fixup"),
    "variant": Configuration(app="variant", description="the project's app through the variant loader, unchanged"),
}


def project_worker_options() -> tuple[str, ...]:
    """The options of the production worker command after `celery -A workers worker`."""
    from workers.dispatch import WORKER_COMMAND

    words = shlex.split(WORKER_COMMAND)
    assert words[:4] == ["celery", "-A", "workers", "worker"], WORKER_COMMAND
    return tuple(words[4:])


def worker_command(name: str, configuration: Configuration, *, concurrency: int) -> list[str]:
    app = "workers" if configuration.app == "workers" else "bench.queue_latency_apps"
    options = project_worker_options()
    if configuration.with_mingle_gossip:
        options = tuple(option for option in options if option not in ("--without-mingle", "--without-gossip"))
    options = (*options, *configuration.extra_options)
    return [
        sys.executable, "-m", "celery", "-A", app, "worker", *options,
        f"--concurrency={concurrency}", f"--hostname=bench-{name}@%h", f"--loglevel={configuration.loglevel}",
        "--include=bench.queue_latency_tasks",
    ]  # fmt: skip


def redis_url_of(base_url: str, index: int) -> str:
    from siisurit.redis_urls import redis_url_database, redis_url_with_database

    database = redis_url_database(base_url) + index
    if database > 15:
        raise SystemExit(f"too many configurations for Redis databases from {base_url} (database {database} > 15)")
    return redis_url_with_database(base_url, database=database)


@dataclass
class Bench:
    """One configuration under measurement: its worker process, client app, task and starts list."""

    name: str
    configuration: Configuration
    url: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)
    app: Any = None
    task: Any = None
    client: Any = None
    samples: list[dict[str, float]] = field(default_factory=list)
    bursts: list[float] = field(default_factory=list)

    def send(self) -> float:
        sent_at = time.time()
        self.task.apply_async(args=[sent_at], queue=QUEUE)
        return sent_at

    def next_start(self, timeout: float = 30) -> dict[str, float]:
        item = self.client.blpop(["siisurit-bench:starts"], timeout=timeout)
        if item is None:
            raise RuntimeError(f"{self.name}: no job started within {timeout} s (worker log: {self.log_path})")
        return json.loads(item[1])


def client_app(bench: Bench, project_app: Any) -> Any:
    from celery import Celery

    from workers.settings import RESULT_BACKEND_CLASS

    if bench.configuration.app == "defaults":
        return Celery(f"bench-{bench.name}", broker=bench.url, backend=bench.url)
    if bench.configuration.app == "workers":
        # The project's app as configured, but in the scratch database.
        project_app.conf.update(broker_url=bench.url, result_backend=f"{RESULT_BACKEND_CLASS}+{bench.url}")
        return project_app
    app = Celery(f"bench-{bench.name}")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    overrides = json.loads(json.dumps(bench.configuration.overrides).replace("{url}", bench.url))
    app.conf.update(broker_url=bench.url, result_backend=f"{RESULT_BACKEND_CLASS}+{bench.url}")
    app.conf.update(overrides)
    return app


def start_worker(bench: Bench, *, concurrency: int, log_dir: Path, probe: bool) -> None:
    configuration = bench.configuration
    environment = {**os.environ, "SII_REDIS_URL": bench.url, "BENCH_BROKER_URL": bench.url}
    overrides = json.dumps(configuration.overrides).replace("{url}", bench.url)
    environment.update(BENCH_APP=configuration.app, BENCH_OVERRIDES=overrides)
    environment.update(BENCH_WITHOUT=configuration.without, BENCH_PROBE="1" if probe else "0")
    environment.pop("SII_REDIS_CACHE_URL", None)
    if configuration.app == "defaults":
        environment.pop("DJANGO_SETTINGS_MODULE", None)  # plain Celery, no Django fix-up
    bench.command = worker_command(bench.name, configuration, concurrency=concurrency)
    bench.log_path = log_dir / f"worker-{bench.name}.log"
    with bench.log_path.open("w") as log:
        bench.process = subprocess.Popen(
            bench.command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_worker(bench: Bench) -> None:
    if bench.process is None or bench.process.poll() is not None:
        return
    bench.process.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        bench.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(bench.process.pid, signal.SIGKILL)
        bench.process.wait(timeout=10)


def warm_up(bench: Bench, *, concurrency: int) -> None:
    bench.send()  # the first job starts once the worker is ready
    deadline = time.monotonic() + 90
    while bench.client.llen("siisurit-bench:starts") == 0:
        if bench.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{bench.name}: the worker did not start (log: {bench.log_path})")
        time.sleep(0.1)
    bench.next_start()
    for _ in range(WARM_UP_JOBS):
        bench.send()
        bench.next_start()
        time.sleep(0.005)
    for _ in range(4 * concurrency):  # a burst, so that every pool process has run jobs
        bench.send()
    for _ in range(4 * concurrency):
        bench.next_start()


def measure_latency(benches: list[Bench], *, samples: int, gap: float) -> None:
    rounds = -(-samples // BLOCK)
    for _ in range(rounds):
        for bench in random.sample(benches, len(benches)):
            time.sleep(0.05)  # let the previous configuration's last job finish
            for _ in range(BLOCK):
                bench.send()
                bench.samples.append(bench.next_start())
                time.sleep(gap)  # the job's tail (result, ack, events) ends: the next job finds the worker idle


def measure_throughput(benches: list[Bench], *, jobs: int, repeats: int = 3) -> None:
    for _ in range(repeats):
        for bench in random.sample(benches, len(benches)):
            time.sleep(0.2)
            first_sent = bench.send()
            for _ in range(jobs - 1):
                bench.send()
            last_start = max(bench.next_start(timeout=60)["started_at"] for _ in range(jobs))
            bench.bursts.append(jobs / (last_start - first_sent))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_row(bench: Bench) -> dict[str, float]:
    latencies = [(sample["started_at"] - sample["sent_at"]) * 1000 for sample in bench.samples]
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "jobs_per_second": statistics.median(bench.bursts) if bench.bursts else 0.0,
    }


_STAGES = (
    ("sent_at", "received", "message → worker main process"),
    ("received", "prerun", "main → pool process"),
    ("prerun", "prerun_done", "task_prerun handlers"),
    ("prerun_done", "started_saved", "STARTED write"),
    ("started_saved", "started_at", "→ task's first line"),
)


def stage_rows(bench: Bench) -> list[tuple[str, float, float]]:
    rows = []
    for begin, end, label in _STAGES:
        if begin == "started_saved" and not bench.samples[0].get("started_saved"):
            begin = "prerun_done"
        deltas = [(s[end] - s[begin]) * 1000 for s in bench.samples if s.get(begin) and s.get(end)]
        if deltas:
            rows.append((label, statistics.median(deltas), percentile(deltas, 0.95)))
    return rows


def empty_databases(benches: list[Bench]) -> None:
    for bench in benches:
        if bench.client.dbsize():
            raise SystemExit(f"Redis database {bench.url} is not empty: give --redis-url a free scratch database")


def clean_databases(benches: list[Bench]) -> None:
    """Delete what the bench wrote (the databases were empty when it started)."""
    for bench in benches:
        keys = list(bench.client.scan_iter(count=1000))
        for start in range(0, len(keys), 500):
            bench.client.delete(*keys[start : start + 500])


def run(options: argparse.Namespace) -> dict[str, Bench]:
    import redis

    names = options.configurations.split(",")
    unknown = [name for name in names if name not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"unknown configurations {unknown}; known: {', '.join(CONFIGURATIONS)}")
    from django.conf import settings

    from siisurit.redis_urls import redis_url_with_database

    first_url = redis_url_with_database(settings.SII_REDIS_URL, database=options.redis_database)
    benches = [Bench(name, CONFIGURATIONS[name], redis_url_of(first_url, index)) for index, name in enumerate(names)]
    for bench in benches:
        bench.client = redis.Redis.from_url(bench.url)
    empty_databases(benches)
    from workers.app import app as project_app

    importlib.import_module("bench.queue_latency_tasks")  # registers bench.trivial in every app

    log_dir = Path(tempfile.mkdtemp(prefix="queue-latency-"))
    try:
        for bench in benches:
            start_worker(bench, concurrency=options.concurrency, log_dir=log_dir, probe=options.probe)
        for bench in benches:
            bench.app = client_app(bench, project_app)
            bench.task = bench.app.tasks["bench.trivial"]
        for bench in benches:
            warm_up(bench, concurrency=options.concurrency)
        measure_latency(benches, samples=options.samples, gap=options.gap)
        measure_throughput(benches, jobs=options.jobs)
    finally:
        for bench in benches:
            stop_worker(bench)
        clean_databases(benches)
    return {bench.name: bench for bench in benches}


def report(benches: dict[str, Bench], options: argparse.Namespace) -> None:
    write = sys.stdout.write
    write(
        f"{options.samples} jobs per configuration one at a time to an idle worker (after a warm-up, interleaved), "
        f"bursts of {options.jobs} jobs; {os.cpu_count()} CPUs, --concurrency={options.concurrency}\n\n"
    )
    write(f"{'configuration':<20} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'jobs/s':>7}\n")
    for name, bench in benches.items():
        row = latency_row(bench)
        write(
            f"{name:<20} {row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f} "
            f"{row['jobs_per_second']:>7.0f}\n"
        )
    if options.probe:
        for name, bench in benches.items():
            write(f"\n{name}: stages (median / p95 ms)\n")
            for label, median, p95 in stage_rows(bench):
                write(f"  {label:<32} {median:>6.2f} {p95:>7.2f}\n")
    write("\nworkers:\n")
    for name, bench in benches.items():
        command = " ".join(shlex.quote(word) for word in bench.command[2:])
        write(f"  {name}: {bench.configuration.description or 'the project app with ' + name}\n    {command}\n")
    if "project" in benches:
        p50 = latency_row(benches["project"])["p50_ms"]
        verdict = "met" if p50 <= GOAL_P50_MS else "NOT met"
        write(f"\ngoal p50 <= {GOAL_P50_MS:g} ms with the project's settings: {verdict} ({p50:.2f} ms)\n")


def main() -> None:
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-database", type=int, default=10, help="first of the scratch databases of the project's Redis"
    )
    parser.add_argument("--samples", type=int, default=400, help="single jobs timed per configuration")
    parser.add_argument("--jobs", type=int, default=200, help="jobs in each throughput burst")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes of each worker")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between a job's start and the next send")
    parser.add_argument("--configurations", default="project,defaults", help=", ".join(CONFIGURATIONS))
    parser.add_argument("--probe", action="store_true", help="split the latency into stages")
    parser.add_argument("--database", default="siisurit_bench_queue", help="PostgreSQL database of the workers")
    options = parser.parse_args()
    from bench.servers import use_project_servers

    print(use_project_servers(options.database), flush=True)
    report(run(options), options)


if __name__ == "__main__":
    main()
