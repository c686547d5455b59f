"""The order of the test modules: the longest first, so that parallel processes finish together.

`make test` hands whole modules to its parallel processes (`--dist loadfile --no-loadscope-reorder`) in collection
order. Each run notes how long every module took in pytest's cache; the next run starts the longest modules first
and lets the short ones fill the gaps, instead of a long module starting last and running alone. A module not yet
measured (a fresh clone, a new module) is estimated from its slow and worker tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

_CACHE_KEY = "siisurit/module_seconds"
#: Seconds taken by each module's tests (setup and teardown included) in this run.
_measured: Counter[str] = Counter()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules by their duration in the last run (or estimate), longest first; each module's tests in order."""
    workerinput = getattr(config, "workerinput", None)
    known = workerinput[_CACHE_KEY] if workerinput is not None else _known_seconds(config)
    estimates = Counter()
    for item in items:
        estimates[_module_path(item)] += 20 if item.get_closest_marker("slow") else 0.2
        estimates[_module_path(item)] += 2 if item.get_closest_marker("worker") else 0
    position = {item.nodeid: index for index, item in enumerate(items)}
    seconds = {module: known.get(module, estimate) for module, estimate in estimates.items()}
    items.sort(key=lambda item: (-seconds[_module_path(item)], position[item.nodeid]))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the durations to each pytest-xdist process, so all of them sort alike (as they must)."""
    node.workerinput[_CACHE_KEY] = _known_seconds(node.config)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _measured[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Note the durations of this run's modules (in the process that sees all reports: not an xdist worker)."""
    cache = getattr(session.config, "cache", None)
    if cache is None or hasattr(session.config, "workerinput") or not _measured:
        return
    measured = {module: round(seconds, 1) for module, seconds in _measured.items()}
    cache.set(_CACHE_KEY, {**_known_seconds(session.config), **measured})


def _known_seconds(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)
    return cache.get(_CACHE_KEY, {}) if cache is not None else {}


def _module_path(item: pytest.Item) -> str:
    """The test file of `item`, as pytest-xdist's `--dist loadfile` groups tests."""
    return item.nodeid.split("::", 1)[0]
