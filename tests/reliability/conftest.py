"""Fixtures of the failure-injection tests: sandbox trackers, projects downloading from them, clean queues."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import SandboxTrackers
from siisurit.models import Project, Tracker
from tests.factories import make_organization, make_project, make_tracker

#: Worker settings that keep retries short; the policy (which errors, backoff doubling, caps) is production's.
FAST_RETRIES = {
    "SII_JOB_RETRY_BACKOFF_IN_SECONDS": "1",
    "SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS": "2",
    "SII_JOB_MAX_RETRIES": "3",
}


@pytest.fixture
def sandbox() -> Iterator[SandboxTrackers]:
    with SandboxTrackers(seed=5, task_count=30, entry_count=60) as trackers:
        yield trackers


def sandbox_tracker(project: Project, sandbox: SandboxTrackers, kind: str, *, name: str | None = None) -> Tracker:
    """A tracker row downloading the seeded project of sandbox tracker `kind`."""
    fields = {"api_username": sandbox.username(kind)} if kind in ("jira", "clockodo") else {}
    return make_tracker(
        project,
        name=name or f"{kind}-tracker",
        api_kind=kind,
        api_location=sandbox.api_location(kind),
        api_token=sandbox.token(kind),
        **fields,
    )


def sandbox_project(sandbox: SandboxTrackers, kinds: tuple[str, ...] = ("kimai",), *, code: str = "app") -> Project:
    organization = make_organization(code=f"org-{code}")
    project = make_project(organization, code=code)
    for kind in kinds:
        sandbox_tracker(project, sandbox, kind)
    return project


def start_job(job_name: str, **kwargs: object):
    """Enqueue job `job_name` as the management commands do; the handle's `wait()` gives its outcome."""
    from siisurit.jobs import JobRequest
    from workers.dispatch import CeleryJobRunner

    return CeleryJobRunner().start(JobRequest(job_name, dict(kwargs)))


def log_count(workers, text: str) -> int:
    """How often `text` occurs in the output of all `workers`."""
    return sum(worker.output().count(text) for worker in workers)
