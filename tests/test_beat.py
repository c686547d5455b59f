"""Beat: the schedule loads from settings, and two beat instances do not double-enqueue a period's job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery.beat import ScheduleEntry
from django.test import override_settings

from beat_schedule import beat_schedule, cron_next_run, cron_schedule, shortest_gap_seconds
from siisurit.environment import ConfigurationError
from tests.worker import queue_length
from workers.app import app
from workers.beat import DedupeScheduler, period_claim


def test_schedule_loads_with_every_entry_expiring_before_its_next_run():
    schedule = beat_schedule()

    assert set(schedule) == {"update-all-projects", "clear-caches", "rebuild-reports"}
    for entry in schedule.values():
        assert entry["task"] in app.tasks
        assert 0 < entry["options"]["expires"] < shortest_gap_seconds(entry["schedule"])


@override_settings(SII_BEAT_CLEAR_CACHES="disable", SII_BEAT_UPDATE_PROJECTS="*/15 * * * *")
def test_entries_are_configured_by_cron_text_and_can_be_disabled():
    schedule = beat_schedule()

    assert "clear-caches" not in schedule
    assert schedule["update-all-projects"]["options"]["expires"] == 15 * 60 * 0.9


def test_bad_cron_text_names_the_variable():
    with pytest.raises(ConfigurationError, match="SII_BEAT_CLEAR_CACHES"):
        cron_schedule("every night", variable="SII_BEAT_CLEAR_CACHES")


def test_cron_times_are_utc_and_the_next_run_is_after_the_current_minute():
    nightly = cron_schedule("30 2 * * *", variable="X")

    assert cron_next_run(nightly, after=datetime(2026, 3, 1, 2, 30, 0, 400, tzinfo=UTC)) == datetime(
        2026, 3, 2, 2, 30, tzinfo=UTC
    )
    assert cron_next_run(nightly, after=datetime(2026, 3, 1, 2, 29, 59, tzinfo=UTC)) == datetime(
        2026, 3, 1, 2, 30, tzinfo=UTC
    )


def test_every_moment_of_a_period_claims_the_same_key():
    entry = ScheduleEntry(
        name="hourly",
        task="tasks.update.update_all_projects",
        schedule=cron_schedule("0 * * * *", variable="X"),
        app=app,
    )
    on_time = datetime(2026, 3, 1, 10, 0, 0, 100, tzinfo=UTC)

    key_on_time, ttl = period_claim(entry, on_time)
    key_late, _ = period_claim(entry, on_time + timedelta(minutes=59))
    key_next, _ = period_claim(entry, on_time + timedelta(hours=1))

    assert key_on_time == key_late != key_next
    assert 3600 <= ttl <= 3600 + 120


def make_beat(tmp_path, name: str) -> DedupeScheduler:
    """A beat scheduler as a separate beat process would have it (its own schedule file).

    No worker runs in this test, so the queue length counts what the beats sent."""
    return DedupeScheduler(app=app, schedule_filename=str(tmp_path / name / "schedule"), lazy=False)


def test_two_beats_ticking_the_same_schedule_enqueue_each_job_once(tmp_path, clean_queues):
    schedule = {
        "clear-caches": {"task": "tasks.maintenance.clear_caches", "schedule": cron_schedule("* * * * *", variable="X")}
    }
    app.conf.beat_schedule, original = schedule, app.conf.beat_schedule
    try:
        beats = [make_beat(tmp_path, "one"), make_beat(tmp_path, "two")]
        for beat in beats:  # both last ran a while ago: the entry is due for both
            beat.schedule["clear-caches"].last_run_at = datetime.now(UTC) - timedelta(minutes=5)

        for beat in beats:
            beat.tick()
        for beat in beats:
            beat.tick()  # ticking again within the period sends nothing more
    finally:
        app.conf.beat_schedule = original
        for beat in beats:
            beat.close()

    assert queue_length("maintenance") == 1


def test_every_tick_touches_the_heartbeat_file_the_health_check_reads(tmp_path, clean_queues):
    beat = make_beat(tmp_path, "alone")
    heartbeat = tmp_path / "alone" / "heartbeat"
    try:
        assert not heartbeat.exists()
        beat.tick()
        first = heartbeat.stat().st_mtime_ns
        beat.tick()
    finally:
        beat.close()

    assert heartbeat.stat().st_mtime_ns >= first
    compose = (Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text()
    assert "/data/beat/heartbeat" in compose
