"""Test configuration: real PostgreSQL and Redis, isolated from development data.

Explicitly configured Redis (SII_REDIS_URL) is used in databases 14 (broker, results) and 15 (cache) so that tests
never touch a developer's queues; without it the embedded servers of a separate data folder are used.
"""

from __future__ import annotations

import os
from pathlib import Path

from siisurit.redis_urls import redis_url_with_database

_REPO = Path(__file__).resolve().parent.parent

if os.environ.get("SII_REDIS_URL"):
    os.environ["SII_REDIS_URL"] = redis_url_with_database(os.environ["SII_REDIS_URL"], database=14)
    os.environ["SII_REDIS_CACHE_URL"] = redis_url_with_database(os.environ["SII_REDIS_URL"], database=15)
os.environ.setdefault("SII_DATA_DIR", str(_REPO / ".siisurit" / "test"))
os.environ.setdefault("SII_ENV_FILE", str(_REPO / ".siisurit" / "no-such-env-file"))
