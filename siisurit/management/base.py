"""`JobCommand`: the base of management commands that run jobs (on the queue, or in this process).

A subclass defines `help`, `add_job_arguments(parser)` and `job_requests(**options) -> list[JobRequest]`. The base
adds `--no-wait`, `--sync`, `--timeout` and `--no-progress-bar`; it starts the jobs, by default waits for them with
a progress bar fed by the jobs' progress, prints each summary, and fails (exit code 1) if any job failed, or exits
with code 3 (`EXIT_STILL_RUNNING`) if the wait ended at `--timeout` while a job goes on.
With `SII_USE_ASYNC_QUEUE=false` every job runs in this process, as with `--sync`.
"""

from __future__ import annotations

import json
import logging
import time
from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from siisurit.ids import uuid7_seconds
from siisurit.jobs import JobHandle, JobOutcome, JobQueueError, JobRequest, JobRunner, job_get, job_runner
from siisurit.management.job_summary import summary_lines

#: Exit code of a job command whose `--timeout` ended the wait while a job still runs (1 means a job failed).
EXIT_STILL_RUNNING = 3

# Loggers of in-process jobs (--sync or SII_USE_ASYNC_QUEUE=false): at verbosity 0 only their warnings and errors show.
_JOB_LOGGERS = ("siisurit", "workers", "tasks")


def positive_seconds(text: str) -> float:
    """argparse type of `--timeout`: a number of seconds greater than 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # also rejects nan
        raise ArgumentTypeError(f"must be a number of seconds greater than 0, not {text!r}")
    return seconds


class JobCommand(BaseCommand):
    """A management command whose work is one or more jobs."""

    def add_job_arguments(self, parser: ArgumentParser) -> None:
        """Arguments of the command itself (the base adds the job options)."""

    def job_requests(self, **options: Any) -> list[JobRequest]:
        """The jobs to run for these options; raise CommandError for anything the user got wrong."""
        raise NotImplementedError

    def add_arguments(self, parser: ArgumentParser) -> None:
        self.add_job_arguments(parser)
        group = parser.add_argument_group("job options")
        group.add_argument(
            "--no-wait",
            action="store_true",
            help="enqueue the job, print its id and return without waiting (default: wait for the job to end)",
        )
        group.add_argument(
            "--sync",
            action="store_true",
            help="run the job in this process instead of a worker, with the same lock (default: on a worker, "
            "unless SII_USE_ASYNC_QUEUE=false)",
        )
        group.add_argument(
            "--timeout",
            type=positive_seconds,
            default=None,
            metavar="SECONDS",
            help=f"stop waiting after SECONDS; the job goes on and the command exits with code {EXIT_STILL_RUNNING} "
            "(default: wait until it ends)",
        )
        group.add_argument(
            "--no-progress-bar",
            action="store_true",
            help="do not show a progress bar (default: show one when stderr is a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        with quiet_job_logging(quiet=self.verbosity == 0):
            self._handle_jobs(options)

    def _handle_jobs(self, options: dict[str, Any]) -> None:
        requests = self.job_requests(**options)
        if not requests:
            if self.verbosity >= 1:
                self.stdout.write("Nothing to do.")
            return
        runner = job_runner(sync=options["sync"])
        wait = not options["no_wait"] or not runner.is_async
        self._check_consumers(runner, requests, wait=wait)
        if not wait:
            for request in requests:
                handle = runner.start(request)
                self.stdout.write(f"{request.title}: enqueued job {handle.job_id}")
            return
        if runner.is_async:
            # Every job is sent before the first wait, so the workers run them in parallel.
            handles = [runner.start(request) for request in requests]
            started = zip(requests, handles, strict=True)
            outcomes = [self._wait_and_report(request, handle, options) for request, handle in started]
        else:
            outcomes = [self._run_and_report(runner, request, options) for request in requests]
        failures = [outcome for outcome in outcomes if not outcome.ok and outcome.state != "TIMEOUT"]
        still_running = [outcome for outcome in outcomes if outcome.state == "TIMEOUT"]
        if failures:
            plural = "s" if len(failures) > 1 else ""
            raise CommandError(f"{len(failures)} of {len(requests)} job{plural} failed")
        if still_running:
            raise CommandError(
                f"{len(still_running)} of {len(requests)} job{'s' if len(still_running) > 1 else ''} still running "
                f"after --timeout {options['timeout']:g} s; it goes on: see `manage.py jobs`",
                returncode=EXIT_STILL_RUNNING,
            )

    def _check_consumers(self, runner: JobRunner, requests: list[JobRequest], *, wait: bool) -> None:
        queues = {job_get(request.job_name).queue for request in requests}
        try:
            runner.check_consumers(queues)
        except JobQueueError as error:
            if wait:
                raise CommandError(str(error)) from None
            self.stderr.write(f"Warning: {error}; the job waits in the queue until a worker starts.")

    def _run_and_report(self, runner: JobRunner, request: JobRequest, options: dict[str, Any]) -> JobOutcome:
        """Start one job and wait for it (in-process runs happen within `start`)."""
        with self._progress_bar(request, disable=options["no_progress_bar"]) as (bar, progress):
            handle: JobHandle = runner.start(request, progress=progress)
            bar.set_postfix_str(f"job {handle.job_id}", refresh=False)
            outcome = handle.wait(timeout=options["timeout"], progress=progress)
        self.write_outcome(request, outcome)
        return outcome

    def _wait_and_report(self, request: JobRequest, handle: JobHandle, options: dict[str, Any]) -> JobOutcome:
        """Wait for a job already sent to the queue."""
        with self._progress_bar(request, disable=options["no_progress_bar"]) as (bar, progress):
            bar.set_postfix_str(f"job {handle.job_id}", refresh=False)
            outcome = handle.wait(timeout=options["timeout"], progress=progress)
        self.write_outcome(request, outcome)
        return outcome

    def _progress_bar(self, request: JobRequest, *, disable: bool) -> _ProgressBar:
        return _ProgressBar(request.title, file=getattr(self.stderr, "_out", self.stderr), disable=disable)

    def write_outcome(self, request: JobRequest, outcome: JobOutcome) -> None:
        """Print the summary of a finished job, or its error."""
        if outcome.ok:
            if self.verbosity >= 2:  # machine-readable: the whole summary as one JSON object
                summary = json.dumps(outcome.summary, sort_keys=True, default=str)
                self.stdout.write(f"{request.title}: done (job {outcome.job_id}) {summary}")
            elif self.verbosity == 1:
                self.stdout.write(f"{request.title}: done{job_took(outcome)} (job {outcome.job_id})")
                for line in summary_lines(outcome.summary or {}):
                    self.stdout.write(line)
        else:
            if outcome.state == "TIMEOUT":  # not an error of the job: it goes on, the message says where to look
                self.stderr.write(f"{request.title}: still running (job {outcome.job_id}): {outcome.error}")
                return
            kind = f"{outcome.error_type}: " if outcome.error_type else ""
            self.stderr.write(f"{request.title}: {outcome.state.lower()} (job {outcome.job_id}) {kind}{outcome.error}")


def job_took(outcome: JobOutcome) -> str:
    """` in 41.2 s after 3 attempts`: the time since the job was enqueued (its id tells when), not only the last
    attempt's, and the attempts when there was more than one."""
    enqueued = uuid7_seconds(outcome.job_id)
    seconds = time.time() - enqueued if enqueued else (outcome.summary or {}).get("duration_seconds")
    attempts = (outcome.summary or {}).get("retries", 0) + 1
    took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    return took + (f" after {attempts} attempts" if attempts > 1 else "")


@contextmanager
def quiet_job_logging(*, quiet: bool) -> Iterator[None]:
    """With `quiet`, raise Siisurit's loggers to WARNING for the duration (verbosity 0 shows only problems)."""
    loggers = [logging.getLogger(name) for name in _JOB_LOGGERS] if quiet else []
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


_BAR_WITH_TOTAL = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}] {postfix}"
_BAR_WITHOUT_TOTAL = "{desc}: {n_fmt} [{elapsed}] {postfix}"


class _ProgressBar:
    """A tqdm bar fed by `progress(current, total, what)`; hidden when not on a terminal or disabled."""

    def __init__(self, title: str, *, file: Any, disable: bool) -> None:
        # disable=None lets tqdm hide the bar when the output is not a terminal (cron, CI, tests).
        # No rate and no time left: a job's steps differ too much in cost for either to be right.
        self.bar = tqdm(
            desc=title,
            total=None,
            file=file,
            disable=True if disable else None,
            leave=False,
            bar_format=_BAR_WITHOUT_TOTAL,
        )

    def __enter__(self) -> tuple[tqdm, Any]:
        return self.bar, self.progress

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()

    def progress(self, current: int, total: int | None, what: str) -> None:
        if self.bar.total != total:  # a total only while it is known
            self.bar.total = total
            self.bar.bar_format = _BAR_WITHOUT_TOTAL if total is None else _BAR_WITH_TOTAL
        self.bar.n = current
        self.bar.set_postfix_str(what, refresh=False)
        self.bar.refresh()
