"""Django settings for the tests: the project's settings on test-only Redis databases and data folder.

pytest-django loads settings before any conftest runs, so the environment is adjusted here, before
`siisurit.settings` reads it. Every test process (each pytest-xdist worker `gwN`, or the single process `gw0`)
gets its own pair of Redis databases, 14 - 2N (broker, results) and 15 - 2N (cache), so that parallel processes
never see each other's queues and tests never touch a developer's; pytest-django gives each process its own
PostgreSQL test database (`test_<name>_gwN`). Redis is the configured one (SII_REDIS_URL) or, without it in the
local environment, the embedded server of a separate data folder. Worker subprocesses inherit the adjusted
environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from siisurit.redis_urls import redis_url_with_database

_REPO = Path(__file__).resolve().parent.parent
#: Parallel test processes supported: each uses two Redis databases counting down from 15, never 0 or 1.
MAX_TEST_PROCESSES = 7
TEST_PROCESS_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
if TEST_PROCESS_INDEX >= MAX_TEST_PROCESSES:
    raise RuntimeError(f"at most {MAX_TEST_PROCESSES} parallel test processes (pytest -n) have Redis databases")
TEST_BROKER_DATABASE = 14 - 2 * TEST_PROCESS_INDEX
TEST_CACHE_DATABASE = TEST_BROKER_DATABASE + 1

os.environ.setdefault("SII_DATA_DIR", str(_REPO / ".siisurit" / "test"))
os.environ.setdefault("SII_ENV_FILE", str(_REPO / ".siisurit" / "no-such-env-file"))
# One attempt per tracker request unless a test asks for more: connector tests see each fault as it is; retries in
# place are tested with their own settings (tests/test_retry_in_place.py, tests/reliability/).
os.environ.setdefault("SII_HTTP_ATTEMPTS", "1")

# Child processes inherit the final URLs (below) and this marker naming the test process that prepared them, and
# use them as they are; pytest-xdist's workers inherit the controller's, which they replace by their own.
_PREPARED_MARKER = "SII_TESTS_REDIS_PREPARED_FOR"
_TEST_PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "-")
if os.environ.get(_PREPARED_MARKER) != _TEST_PROCESS:
    if not os.environ.get("SII_REDIS_URL") and os.environ.get("SII_ENVIRONMENT", "local") == "local":
        from siisurit.embedded import ensure_redis

        os.environ["SII_REDIS_URL"] = ensure_redis(Path(os.environ["SII_DATA_DIR"]))
    if os.environ.get("SII_REDIS_URL"):
        base_url = os.environ["SII_REDIS_URL"]
        os.environ["SII_REDIS_URL"] = redis_url_with_database(base_url, database=TEST_BROKER_DATABASE)
        os.environ["SII_REDIS_CACHE_URL"] = redis_url_with_database(base_url, database=TEST_CACHE_DATABASE)

from siisurit.settings import *  # noqa: E402, F403

# Worker, beat and Flower subprocesses of the tests use exactly these servers (embedded ones included).
os.environ["SII_REDIS_URL"] = SII_REDIS_URL  # noqa: F405
os.environ["SII_REDIS_CACHE_URL"] = SII_REDIS_CACHE_URL  # noqa: F405
os.environ[_PREPARED_MARKER] = _TEST_PROCESS

# The production hasher is slow on purpose; the tests (and their `manage.py` subprocesses, which inherit
# DJANGO_SETTINGS_MODULE) check behaviour, not hash strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
