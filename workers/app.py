"""The Celery app: `celery -A workers worker|beat|flower`, configured from Django's settings (namespace CELERY)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siisurit.settings")

import sys
import warnings

import django
from celery import Celery
from celery.exceptions import CPendingDeprecationWarning

from siisurit.environment import ConfigurationError

# Django first: the task base class and the tasks read settings and models when they are imported.
try:
    django.setup()
except ConfigurationError as error:
    # A missing or malformed SII_* variable: one line naming it, not a traceback (as manage.py does).
    sys.exit(f"Configuration error: {error}")

# Celery warns on every lost broker connection that running jobs are not cancelled; on purpose (workers/broker.py).
warnings.filterwarnings("ignore", "\nIn Celery 5.1 we introduced", CPendingDeprecationWarning)

app = Celery("siisurit")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fix-up (active because DJANGO_SETTINGS_MODULE is set) drops the database connections a pool process
# inherits from the parent without touching their sockets; around tasks, workers/signals.py closes stale ones.

from kombu import Exchange, Queue  # noqa: E402

from beat_schedule import beat_schedule  # noqa: E402
from siisurit.jobs import DEFAULT_QUEUE, QUEUES, task_modules  # noqa: E402  (the jobs are declared by now)
from workers import signals  # noqa: E402, F401  (connects the logging context and the connection tidying)

# A worker started without -Q consumes every queue; -Q still narrows it.
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.imports = task_modules()
app.conf.beat_schedule = beat_schedule()
app.loader.import_default_modules()
