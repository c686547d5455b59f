"""Fixtures every test module can use without importing them: test databases (tests/database.py), queues and Celery
workers (tests/worker.py), organization files (tests/organization_files.py), the test-only jobs of the
failure-injection tests, and the ones below; the order of the modules (tests/ordering.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = (
    "tests.database",
    "tests.ordering",
    "tests.worker",
    "tests.organization_files",
    "tests.reliability.jobs",
)


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """os.environ as it was before the test (the demo puts SII_DEMO_* values there, where imports read them)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
