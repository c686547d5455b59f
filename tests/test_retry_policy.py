"""The retry policy: transient errors are retried with capped, jittered backoff; permanent ones fail at once."""

from __future__ import annotations

import random

import django.db
import pytest
import redis
import requests
from celery.result import AsyncResult

from siisurit.environment import Environment
from siisurit.errors import AlreadyRunningError, PermanentError, TransientError
from siisurit.retry_policy import RequestPolicy, backoff_wait, duration_text
from tests.worker import flaky, permanent, redis_test_client
from workers.app import app
from workers.retry import is_retryable, retry_countdown
from workers.settings import celery_settings
from workers.task_base import JobTask


@pytest.mark.parametrize(
    "error",
    [
        TransientError("HTTP 503"),
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        django.db.OperationalError("server closed the connection"),
        django.db.InterfaceError("connection already closed"),
        redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        redis.TimeoutError("Timeout reading from socket"),
    ],
)
def test_transient_errors_are_retried(error):
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error", [PermanentError("HTTP 401"), AlreadyRunningError("busy"), ValueError("bug"), requests.HTTPError("404")]
)
def test_permanent_errors_and_bugs_are_not_retried(error):
    assert not is_retryable(error)


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap():
    rng = random.Random(1)
    countdowns = [retry_countdown(retries=retries, backoff=10, backoff_max=600, rng=rng) for retries in range(10)]

    for retries, countdown in enumerate(countdowns):
        assert 0 <= countdown <= min(600, 10 * 2**retries)
    assert max(countdowns) > 300, "full jitter still reaches towards the cap"
    assert max(countdowns) <= 600


def test_retry_after_is_honoured_but_capped():
    assert retry_countdown(retries=0, backoff=1, backoff_max=600, retry_after=120) == 120
    assert retry_countdown(retries=0, backoff=1, backoff_max=600, retry_after=86400) == 600


def test_retry_cap_stays_below_the_visibility_timeout():
    conf = app.conf
    visibility_timeout = conf.broker_transport_options["visibility_timeout"]

    assert conf.result_backend_transport_options["visibility_timeout"] == visibility_timeout
    assert JobTask.retry_backoff_max < visibility_timeout
    assert conf.task_time_limit < visibility_timeout or visibility_timeout < 60  # short only in the SIGKILL test


@pytest.mark.parametrize("visibility_timeout", [400, 1000, 3000, 10000])
def test_retry_countdown_plus_longest_run_fits_in_a_custom_visibility_timeout(monkeypatch, visibility_timeout):
    # A retry stays unacknowledged through its countdown AND its run: both together must end before Redis
    # hands the message to a second worker.
    monkeypatch.setenv("SII_REDIS_VISIBILITY_TIMEOUT_IN_SECONDS", str(visibility_timeout))
    monkeypatch.setenv("SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS", "3000")
    conf = celery_settings(Environment(None), broker_url="redis://127.0.0.1:1/0", job_timeout=300)

    longest_run = conf["CELERY_TASK_TIME_LIMIT"]
    assert conf["SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS"] + longest_run <= visibility_timeout
    assert conf["SII_JOB_RETRY_BACKOFF_MAX_IN_SECONDS"] >= 1


def test_policy_is_declared_on_the_task_base():
    assert JobTask.max_retries >= 1
    assert JobTask.retry_jitter
    assert JobTask.retry_backoff > 0


def test_job_failing_twice_transiently_then_succeeding_shows_its_retries(celery_worker_thread):
    summary = flaky.apply_async(kwargs={"key": "flaky", "failures": 2}).get(timeout=30)

    assert summary["attempts"] == 3
    assert summary["retries"] == 2


def test_permanent_failure_is_not_retried(celery_worker_thread):
    result = permanent.apply_async(kwargs={"key": "permanent"})

    with pytest.raises(PermanentError, match="HTTP 401"):
        result.get(timeout=30)

    assert redis_test_client().get("siisurit-test:permanent:attempts") == b"1"
    assert AsyncResult(result.id, app=app).state == "FAILURE"


def test_transient_failure_gives_up_after_max_retries(celery_worker_thread):
    result = flaky.apply_async(kwargs={"key": "hopeless", "failures": 1000})

    with pytest.raises(TransientError):
        result.get(timeout=60)

    assert int(redis_test_client().get("siisurit-test:hopeless:attempts")) == flaky.max_retries + 1


# --- The request level (retries in place) ----------------------------------------------------------------------


def test_request_policy_waits_with_full_jitter_until_its_attempts_are_spent():
    policy = RequestPolicy(attempts=4, backoff=1, wait_max=60)

    waits = [policy.wait(retries) for retries in range(4)]

    assert [wait is None for wait in waits] == [False, False, False, True], "4 attempts: 3 waits"
    assert all(0 <= wait <= 2**retries for retries, wait in enumerate(waits[:3]))


def test_request_policy_honours_retry_after_up_to_its_cap_and_hands_longer_waits_to_the_job():
    policy = RequestPolicy(attempts=6, backoff=1, wait_max=60)

    assert policy.wait(0, retry_after=30) == 30
    assert policy.wait(0, retry_after=61) is None, "a longer wait is the job level's (it keeps retry_after)"


def test_request_and_job_levels_use_one_backoff():
    for retries in range(6):
        job = retry_countdown(retries=retries, backoff=10, backoff_max=600, rng=random.Random(retries))
        shared = backoff_wait(retries, backoff=10, wait_max=600, rng=random.Random(retries))
        assert job == shared


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.34, "0.3 s"), (12.2, "12 s"), (252, "4 min 12 s"), (8040.4, "2 h 14 min")]
)
def test_durations_in_messages(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(4.7, "4 s"), (42.9, "42 s"), (185, "3 min 5 s"), (3725, "1 h 2 min")])
def test_durations_in_tables_are_whole_seconds(seconds, text):
    assert duration_text(seconds, tenths=False) == text
