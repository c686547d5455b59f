"""Django settings for the tests: the project's settings on test-only Redis databases and data folder.

pytest-django loads settings before any conftest runs, so the environment is adjusted here, before
`siisurit.settings` reads it. Explicitly configured Redis (SII_REDIS_URL) is used in databases 14 (broker, results)
and 15 (cache) so that tests never touch a developer's queues; without it the embedded servers of a separate data
folder are used. Worker subprocesses inherit the adjusted environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from siisurit.redis_urls import redis_url_with_database

_REPO = Path(__file__).resolve().parent.parent
TEST_BROKER_DATABASE = 14
TEST_CACHE_DATABASE = 15

# Child processes inherit the final URLs (below) and this marker, and use them as they are.
_PREPARED_MARKER = "SII_TESTS_REDIS_PREPARED"
if os.environ.get("SII_REDIS_URL") and not os.environ.get(_PREPARED_MARKER):
    os.environ["SII_REDIS_URL"] = redis_url_with_database(os.environ["SII_REDIS_URL"], database=TEST_BROKER_DATABASE)
    os.environ["SII_REDIS_CACHE_URL"] = redis_url_with_database(
        os.environ["SII_REDIS_URL"], database=TEST_CACHE_DATABASE
    )
os.environ.setdefault("SII_DATA_DIR", str(_REPO / ".siisurit" / "test"))
os.environ.setdefault("SII_ENV_FILE", str(_REPO / ".siisurit" / "no-such-env-file"))

from siisurit.settings import *  # noqa: E402, F403

# Worker, beat and Flower subprocesses of the tests use exactly these servers (embedded ones included).
os.environ["SII_REDIS_URL"] = SII_REDIS_URL  # noqa: F405
os.environ["SII_REDIS_CACHE_URL"] = SII_REDIS_CACHE_URL  # noqa: F405
os.environ[_PREPARED_MARKER] = "1"
