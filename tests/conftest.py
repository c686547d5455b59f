"""Fixtures every test module can use without importing them: queues and Celery workers (tests/worker.py),
organization files (tests/organization_files.py), the test-only jobs of the failure-injection tests, and the
ones below."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

pytest_plugins = ("tests.database", "tests.worker", "tests.organization_files", "tests.reliability.jobs")


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """os.environ as it was before the test (the demo puts SII_DEMO_* values there, where imports read them)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with the most slow tests first, then those with the most worker tests, each module's tests in order.

    `make test` hands whole modules to its parallel processes (`--dist loadfile --no-loadscope-reorder`) in this
    order, so the long modules start at once and the many short ones fill the gaps, instead of a long module
    starting last and running alone.
    """
    slow_tests = Counter(_module_path(item) for item in items if item.get_closest_marker("slow"))
    worker_tests = Counter(_module_path(item) for item in items if item.get_closest_marker("worker"))
    position = {item.nodeid: index for index, item in enumerate(items)}
    items.sort(
        key=lambda item: (-slow_tests[_module_path(item)], -worker_tests[_module_path(item)], position[item.nodeid])
    )


def _module_path(item: pytest.Item) -> str:
    """The test file of `item`, as pytest-xdist's `--dist loadfile` groups tests."""
    return item.nodeid.split("::", 1)[0]
