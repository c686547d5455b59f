"""Flower's configuration (`celery -A workers flower --conf=workers/flower_config.py`).

Read by Flower after the Celery app (and so Django's settings) is loaded; module-level names are Flower options.
Listens on 127.0.0.1 only: put a reverse proxy with TLS in front to reach it from elsewhere.
"""

from django.conf import settings

from workers.flower_auth import FlowerCredentialsError, flower_credentials

address = "127.0.0.1"
port = 5555
# "user:password" (comma separated for several users); without it Flower refuses to start outside `local`.
_basic_auth = settings.SII_FLOWER_BASIC_AUTH
if _basic_auth:
    try:
        basic_auth = flower_credentials(_basic_auth, require_strong=not settings.IS_LOCAL)
    except FlowerCredentialsError as error:
        raise SystemExit(str(error)) from None
elif not settings.IS_LOCAL:
    raise SystemExit("SII_FLOWER_BASIC_AUTH must be set (user:password) to run Flower outside the local environment")
# Keep the task history across restarts; saved every minute (milliseconds) and at shutdown.
persistent = True
db = str(settings.SII_DATA_DIR / "flower" / "flower.db")
state_save_interval = 60_000
max_tasks = 10_000
purge_offline_workers = 24 * 3600
# The task list shows what each job is about (kwargs: the organization/project or tracker by codes, then the ids),
# how far it is or how it ended (result: progress, retry or summary) and its attempts (retries), before the rest.
tasks_columns = "name,kwargs,state,result,retries,received,runtime,worker,uuid"
# Task arguments are ids only (tracker/project UUIDs, flags), never tokens: safe to show in full.
(settings.SII_DATA_DIR / "flower").mkdir(parents=True, exist_ok=True)
