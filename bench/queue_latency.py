"""Benchmark (not a test): enqueue→start latency and throughput of trivial jobs, project settings vs Celery defaults.

    python bench/queue_latency.py [--jobs 300] [--samples 200] [--redis-url redis://127.0.0.1:6379/10]

For each configuration a real worker process (prefork, 2 processes) consumes a bench queue in a scratch Redis
database. Latency: one job at a time, from just before `apply_async` to the first line of the task (p50/p95).
Throughput: a burst of jobs, from the first send to the last job's start. Goal: p50 ≤ 10 ms with our settings.
The scratch database's bench keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STARTS_KEY = "siisurit-bench:starts"
QUEUE = "bench"
CONFIGURATIONS = ("project", "defaults")


def make_app(configuration: str, redis_url: str):
    """The Celery app of a configuration, with the trivial bench task registered."""
    import redis

    if configuration == "project":
        os.environ["SII_REDIS_URL"] = redis_url
        os.environ.setdefault("SII_POSTGRES_HOST", "127.0.0.1")
        sys.path.insert(0, str(REPO))
        from workers.app import app
    else:
        from celery import Celery

        app = Celery("bench-defaults", broker=redis_url, backend=redis_url)
    client = redis.Redis.from_url(redis_url)

    @app.task(name="bench.trivial", ignore_result=False)
    def trivial(sent_at: float) -> float:
        started_at = time.time()
        client.rpush(STARTS_KEY, json.dumps([sent_at, started_at]))
        return started_at

    app.conf.task_routes = {"bench.*": {"queue": QUEUE}}
    return app, trivial, client


def serve(configuration: str, redis_url: str) -> None:
    """Run a worker for `configuration` (in the subprocess)."""
    app, _, _ = make_app(configuration, redis_url)
    name = f"bench-{configuration}-{os.getpid()}@%h"
    app.worker_main(["worker", "-P", "prefork", "-c", "2", "-Q", QUEUE, "-n", name, "--loglevel=WARNING",
                     "--without-mingle", "--without-gossip"])  # fmt: skip


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(configuration: str, redis_url: str, *, samples: int, jobs: int) -> dict[str, float]:
    worker = subprocess.Popen(
        [sys.executable, __file__, "--serve", configuration, "--redis-url", redis_url],
        cwd=REPO,
        start_new_session=True,
    )
    try:
        _, trivial, client = make_app(configuration, redis_url)
        client.delete(STARTS_KEY, QUEUE)
        trivial.apply_async(args=[time.time()])  # wait for the worker: its first job starts when it is ready
        if not client.blpop([STARTS_KEY], timeout=60):
            raise RuntimeError(f"{configuration}: the worker did not start")
        for _ in range(20):  # warm up connections and processes
            trivial.apply_async(args=[time.time()])
            client.blpop([STARTS_KEY], timeout=30)
        latencies = []
        for _ in range(samples):
            trivial.apply_async(args=[time.time()])
            sent_at, started_at = json.loads(client.blpop([STARTS_KEY], timeout=30)[1])
            latencies.append((started_at - sent_at) * 1000)
        burst_started = time.time()
        for _ in range(jobs):
            trivial.apply_async(args=[time.time()])
        last_start = burst_started
        for _ in range(jobs):
            _, started_at = json.loads(client.blpop([STARTS_KEY], timeout=60)[1])
            last_start = max(last_start, started_at)
        return {
            "p50_ms": statistics.median(latencies),
            "p95_ms": percentile(latencies, 0.95),
            "jobs_per_second": jobs / (last_start - burst_started),
        }
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def cleanup(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in ("celery-task-meta-*", "siisurit-bench:*", "_kombu.binding.bench", "unacked*", QUEUE):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="a scratch Redis database")
    parser.add_argument("--samples", type=int, default=200, help="single jobs timed for the latency")
    parser.add_argument("--jobs", type=int, default=300, help="jobs in the throughput burst")
    parser.add_argument("--serve", choices=CONFIGURATIONS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve, options.redis_url)
        return
    results = {}
    try:
        for configuration in CONFIGURATIONS:
            # Each configuration in its own process: the project's app reads Django settings once.
            output = subprocess.run(
                [sys.executable, __file__, "--measure", configuration, "--redis-url", options.redis_url,
                 "--samples", str(options.samples), "--jobs", str(options.jobs)],
                cwd=REPO, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            results[configuration] = json.loads(output.strip().splitlines()[-1])
    finally:
        cleanup(options.redis_url)
    sys.stdout.write(f"{'settings':<10} {'p50 ms':>8} {'p95 ms':>8} {'jobs/s':>8}\n")
    for configuration, result in results.items():
        sys.stdout.write(
            f"{configuration:<10} {result['p50_ms']:>8.2f} {result['p95_ms']:>8.2f} {result['jobs_per_second']:>8.0f}\n"
        )
    verdict = "met" if results["project"]["p50_ms"] <= 10 else "NOT met"
    sys.stdout.write(f"goal p50 <= 10 ms with the project's settings: {verdict}\n")


def measure_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", choices=CONFIGURATIONS)
    parser.add_argument("--redis-url")
    parser.add_argument("--samples", type=int)
    parser.add_argument("--jobs", type=int)
    options = parser.parse_args()
    result = measure(options.measure, options.redis_url, samples=options.samples, jobs=options.jobs)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    if "--measure" in sys.argv:
        measure_main()
    else:
        main()
