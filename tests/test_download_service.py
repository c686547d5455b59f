"""The download service: upserts, user mapping, deletions, cache generations, work entries, progress."""

from __future__ import annotations

import gc
import itertools
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from sandbox import SandboxTrackers
from siisurit.connectors import github
from siisurit.connectors.records import TaskRecord, WorkRecord
from siisurit.downloads import service
from siisurit.downloads.cache import DownloadCache, download_cache_client, download_key
from siisurit.downloads.service import tracker_download
from siisurit.downloads.upsert import tracker_tasks_upsert, tracker_work_entries_upsert
from siisurit.downloads.user_mapping import TRACKER_MEMBERS_SQL, members_of, user_resolver_for_tracker
from siisurit.models import MatchOn, Task, TaskAssignee, Tracker, WorkEntry
from siisurit.models.by_primary_key import model_get_by_pk_with
from tests.factories import (
    make_organization,
    make_organization_profile,
    make_project,
    make_task,
    make_tracker,
    make_user,
    make_user_mapping,
    make_user_mapping_entry,
    make_work_entry,
    make_work_match,
    stored_match,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():
    with SandboxTrackers(seed=13, task_count={"github": 60}, entry_count={"kimai": 300, "clockodo": 0}) as trackers:
        yield trackers


# --- user mapping ----------------------------------------------------------------------------------------------------


@pytest.fixture
def organization_with_members():
    organization = make_organization()
    alice = make_user("alice", email="alice@example.com")
    bob = make_user("bob.builder", email="bob@example.com")
    default = make_user("office", email="office@example.com")
    outsider = make_user("carol", email="carol@example.com")  # no profile in the organization
    for user in (alice, bob):
        make_organization_profile(organization, user)
    make_organization_profile(organization, default, is_default=True)
    return organization, {"alice": alice, "bob": bob, "default": default, "outsider": outsider}


def test_explicit_entries_win_over_automatic_mapping(organization_with_members):
    organization, users = organization_with_members
    mapping = make_user_mapping(organization)
    make_user_mapping_entry(mapping, "alice", users["bob"])
    tracker = make_tracker(make_project(organization), user_mapping=mapping)
    resolver = user_resolver_for_tracker(tracker=tracker)
    assert resolver.resolve("alice") == users["bob"].id
    assert resolver.resolve("ALICE") == users["bob"].id


def test_automatic_mapping_by_username_or_email_of_members(organization_with_members):
    organization, users = organization_with_members
    tracker = make_tracker(make_project(organization))
    resolver = user_resolver_for_tracker(tracker=tracker)
    assert resolver.resolve("alice") == users["alice"].id
    assert resolver.resolve("bob.builder") == users["bob"].id
    assert resolver.resolve("b.b", "Bob@Example.com") == users["bob"].id
    assert resolver.resolve("bob@example.com") == users["bob"].id
    assert resolver.resolve("carol") is None  # a user, but no member
    assert resolver.resolve("nobody") is None  # no mapping: no fallback


def test_fallback_default_maps_unknown_to_default_member(organization_with_members):
    organization, users = organization_with_members
    mapping = make_user_mapping(organization, fallback="default")
    tracker = make_tracker(make_project(organization), user_mapping=mapping)
    resolver = user_resolver_for_tracker(tracker=tracker)
    assert resolver.resolve("nobody") == users["default"].id
    assert resolver.resolve("alice") == users["alice"].id


def test_mapping_without_fallback_leaves_unknown_unmapped(organization_with_members):
    organization, _ = organization_with_members
    tracker = make_tracker(make_project(organization), user_mapping=make_user_mapping(organization))
    assert user_resolver_for_tracker(tracker=tracker).resolve("nobody") is None


def test_members_read_with_the_tracker_resolve_as_the_members_query_does(organization_with_members):
    organization, users = organization_with_members
    mapping = make_user_mapping(organization, fallback="default")
    make_user_mapping_entry(mapping, "al", users["alice"])
    tracker = make_tracker(make_project(organization), user_mapping=mapping)
    make_tracker(make_project(make_organization()))  # members of another organization stay out

    loaded, members = model_get_by_pk_with(Tracker, str(tracker.id), TRACKER_MEMBERS_SQL)
    with_tracker = user_resolver_for_tracker(tracker=loaded, members=members_of(members))
    on_its_own = user_resolver_for_tracker(tracker=tracker)

    assert [member[:3] for member in members_of(members)] == [
        (user.email, user.username, user.id) for user in (users["alice"], users["bob"], users["default"])
    ]
    assert with_tracker == on_its_own and with_tracker.fingerprint == on_its_own.fingerprint
    assert with_tracker.resolve("nobody") == users["default"].id


def test_a_tracker_of_an_organization_without_members_reads_no_members():
    tracker = make_tracker(make_project(make_organization()))

    _, members = model_get_by_pk_with(Tracker, str(tracker.id), TRACKER_MEMBERS_SQL)

    assert members_of(members) == []


# --- upserts ---------------------------------------------------------------------------------------------------------


def _task_record(number: int, **fields) -> TaskRecord:
    fields.setdefault("title", f"Task {number}")
    fields.setdefault("updated_at", datetime(2024, 1, 1, tzinfo=UTC))
    return TaskRecord(external_id=str(1000 + number), code=f"#{number}", **fields)


def test_task_upsert_counts_and_is_idempotent():
    tracker = make_tracker()
    resolver = user_resolver_for_tracker(tracker=tracker)
    records = [_task_record(1, assignees=["a", "b"]), _task_record(2, estimate_hours=Decimal("1.50"))]
    with transaction.atomic():
        first = tracker_tasks_upsert(tracker_id=tracker.id, records=records, resolver=resolver)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    with transaction.atomic():
        again = tracker_tasks_upsert(tracker_id=tracker.id, records=records, resolver=resolver)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = [_task_record(1, title="Renamed", assignees=["b", "c"]), records[1]]
    with transaction.atomic():
        third = tracker_tasks_upsert(tracker_id=tracker.id, records=changed, resolver=resolver)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 1)
    task = Task.objects.get(tracker=tracker, code="#1")
    assert task.title == "Renamed"
    assert sorted(task.assignees.values_list("external_username", flat=True)) == ["b", "c"]
    assert Task.objects.get(tracker=tracker, code="#2").estimate_hours == Decimal("1.50")


def test_task_upsert_keeps_declared_tasks_and_moves_codes():
    tracker = make_tracker()
    declared = make_task(tracker, code="#7", is_declared=True, external_id="", title="Declared")
    old = make_task(tracker, code="#8", external_id="old-8")
    resolver = user_resolver_for_tracker(tracker=tracker)
    records = [_task_record(7), TaskRecord(external_id="new-8", code="#8", title="New owner of #8")]
    with transaction.atomic():
        counts = tracker_tasks_upsert(tracker_id=tracker.id, records=records, resolver=resolver)
    assert counts.created == 1
    assert Task.objects.get(id=declared.id).title == "Declared"
    assert not Task.objects.filter(id=old.id).exists()
    assert Task.objects.get(tracker=tracker, code="#8").external_id == "new-8"


def test_work_upsert_resets_match_of_changed_entries(organization_with_members):
    organization, users = organization_with_members
    tracker = make_tracker(make_project(organization), api_kind="kimai")
    task = make_task(make_tracker(tracker.project))
    entry = make_work_entry(tracker, external_id="w1", text="old", task=task, matched_at=datetime.now(tz=UTC))
    unchanged = make_work_entry(tracker, external_id="w2", text="same", duration_seconds=60)
    resolver = user_resolver_for_tracker(tracker=tracker)
    records = [
        WorkRecord("w1", "x", entry.started_at, 3600, external_email="alice@example.com", text="new"),
        WorkRecord("w2", "", unchanged.started_at, 60, text="same"),
    ]
    with transaction.atomic():
        counts = tracker_work_entries_upsert(tracker_id=tracker.id, records=records, resolver=resolver)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    entry.refresh_from_db()
    assert entry.text == "new" and entry.user_id == users["alice"].id
    assert stored_match(entry) == (task.id, None, None)  # keeps its task until matched again
    assert stored_match(unchanged) == (None, None, None)


def test_upserts_of_only_new_rows_insert_plainly_and_refuse_an_existing_one():
    tasks, work = make_tracker(), make_tracker(make_project(), api_kind="kimai")
    resolver = user_resolver_for_tracker(tracker=tasks)
    started_at = datetime(2024, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        first_tasks = tracker_tasks_upsert(
            tracker_id=tasks.id, records=[_task_record(1, assignees=["a", "b"])], resolver=resolver, only_new=True
        )
        first_work = tracker_work_entries_upsert(
            tracker_id=work.id, records=[WorkRecord("w1", "a", started_at, 60)], resolver=resolver, only_new=True
        )
    assert (first_tasks.created, first_work.created) == (1, 1)
    assert sorted(TaskAssignee.objects.filter(task__tracker=tasks).values_list("external_username", flat=True)) == [
        "a",
        "b",
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        tracker_tasks_upsert(tracker_id=tasks.id, records=[_task_record(1)], resolver=resolver, only_new=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        tracker_work_entries_upsert(
            tracker_id=work.id, records=[WorkRecord("w1", "a", started_at, 90)], resolver=resolver, only_new=True
        )


@pytest.mark.django_db(transaction=True)
def test_committed_batches_start_from_empty_stages():
    """Each batch commits on its own (as in a download): the staging tables it leaves are emptied by the commit."""
    tracker = make_tracker()
    resolver = user_resolver_for_tracker(tracker=tracker)
    for batch in ([_task_record(1, assignees=["a"]), _task_record(2)], [_task_record(3, assignees=["b", "c"])]):
        with transaction.atomic():
            counts = tracker_tasks_upsert(tracker_id=tracker.id, records=batch, resolver=resolver, only_new=True)
        assert (counts.created, counts.updated, counts.unchanged) == (len(batch), 0, 0)
    with transaction.atomic():
        again = tracker_tasks_upsert(
            tracker_id=tracker.id, records=[_task_record(3, assignees=["c"])], resolver=resolver
        )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assignees = TaskAssignee.objects.filter(task__tracker=tracker).values_list("task__code", "external_username")
    assert sorted(assignees) == [("#1", "a"), ("#3", "c")]


# --- whole downloads ------------------------------------------------------------------------------------------


def _github(sandbox, project=None, **fields):
    return make_tracker(
        project or make_project(),
        api_kind="github",
        api_location=sandbox.api_location("github"),
        api_token=sandbox.token("github"),
        **fields,
    )


def _kimai(sandbox, project=None, **fields):
    return make_tracker(
        project or make_project(),
        api_kind="kimai",
        api_location=sandbox.api_location("kimai"),
        api_token=sandbox.token("kimai"),
        api_username=sandbox.username("kimai"),
        **fields,
    )


def test_summary_and_progress(sandbox):
    tracker = _github(sandbox)
    calls = []
    summary = tracker_download(tracker_id=str(tracker.id), progress=lambda *args: calls.append(args))
    assert set(summary) >= {"pages", "requests", "items", "created", "updated", "unchanged", "deleted", "duration"}
    assert len(calls) == summary["pages"] and calls[-1][0] == summary["items"]
    tracker.refresh_from_db()
    assert tracker.last_downloaded_at is not None and tracker.download_state["generation"]


def test_first_download_merges_once_an_id_comes_twice(sandbox, monkeypatch):
    """A tracker that started empty gets plain inserts; a row stored meanwhile (a shifted listing) makes its batch
    merge instead, and nothing is deleted at the end."""
    monkeypatch.setattr(service, "FLUSH_INTERVAL_SECONDS", 3600)  # one batch, stored after the first page
    tracker = _kimai(sandbox)
    repeated = str(sandbox.entry_ids("kimai")[-1])

    def store_repeated_once(items, total, message):
        if not WorkEntry.objects.filter(tracker=tracker).exists():
            make_work_entry(tracker, external_id=repeated, text="stored before")

    summary = tracker_download(tracker_id=str(tracker.id), progress=store_repeated_once)
    assert summary["created"] == summary["items"] - 1 and summary["updated"] == 1 and summary["deleted"] == 0
    assert WorkEntry.objects.get(tracker=tracker, external_id=repeated).text != "stored before"


def test_a_first_download_keeps_a_declared_task_whose_code_it_brings(sandbox):
    """Into a tracker without downloaded rows, batches are inserted plainly: a declared task's code fails the
    batch, which is merged then (the declared task stays, the downloaded one with its code is dropped)."""
    tracker = _github(sandbox)
    code = sandbox.task_codes("github")[0]
    declared = make_task(tracker, code=code, is_declared=True, external_id="", title="Declared")
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["created"] == summary["items"] - 1
    assert Task.objects.get(id=declared.id).title == "Declared"
    assert Task.objects.filter(tracker=tracker).count() == summary["items"]


def test_prefetched_pages_offer_each_wait_once():
    """With `idle`, the marker comes when the next page is not there yet, never twice in a row; the pages come in
    order, all of them."""
    idle = object()
    released = threading.Event()
    first, second = (SimpleNamespace(records=[name], unchanged_ids=[]) for name in ("first", "second"))

    def pages():
        yield first
        released.wait(5)  # until the consumer was told that it would have to wait
        yield second

    seen = []
    for item in service._prefetched(pages(), idle=idle, inline_items=0):
        seen.append(item)
        if item is idle and first in seen:
            released.set()
    assert [item for item in seen if item is not idle] == [first, second]
    assert released.is_set()
    assert all(not (a is idle and b is idle) for a, b in itertools.pairwise(seen))


def test_the_first_pages_are_fetched_by_the_caller_and_the_rest_ahead_in_a_thread():
    """Pages are fetched in the caller's thread until they hold `inline_items` items; the fetching thread starts
    before the page that reaches it is handed over. A listing of one small page starts no thread."""
    fetched_by = []

    def pages(count: int):
        for number in range(count):
            fetched_by.append(threading.current_thread())
            yield SimpleNamespace(records=[number, number], unchanged_ids=[])

    assert len(list(service._prefetched(pages(4), inline_items=5))) == 4
    caller = threading.current_thread()
    assert fetched_by[:2] == [caller, caller]  # 2 and 4 items
    assert fetched_by[2] is caller  # reaches 6: the thread starts with it in hand, before it is handed over
    assert fetched_by[3] is not caller

    fetched_by.clear()
    started = threading.active_count()
    one_page = service._prefetched(pages(1), inline_items=5)
    assert next(one_page).records == [0, 0]
    assert threading.active_count() == started
    assert list(one_page) == [] and fetched_by == [caller]


def test_a_caller_stopping_early_closes_the_listing_in_either_phase():
    closed = []

    def pages():
        try:
            for number in range(10):
                yield SimpleNamespace(records=[number], unchanged_ids=[])
        finally:
            closed.append(True)

    for inline_items in (5, 0):  # stopped while fetching inline, and while the thread fetches ahead
        closed.clear()
        prefetched = service._prefetched(pages(), inline_items=inline_items)
        next(prefetched)
        next(prefetched)
        prefetched.close()
        assert closed == [True]


def _record_calls(monkeypatch, owner, name: str, record) -> None:
    """`owner.name` passes the arguments of each call to `record`, then does what it did."""
    original = getattr(owner, name)

    def recorded(*args, **kwargs):
        record(*args, **kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)


def test_waiting_for_pages_stores_what_was_collected(sandbox, monkeypatch):
    """Fetching slower than storing (latency per answer), each wait for a page stores the pages collected so far
    instead of waiting for a full batch: little is left to store when the listing ends."""
    monkeypatch.setattr(service, "FIRST_BATCH_SIZE", 10**6)
    monkeypatch.setattr(service, "BATCH_SIZE", 10**6)
    monkeypatch.setattr(service, "FLUSH_INTERVAL_SECONDS", 3600)
    monkeypatch.setattr(service, "IDLE_BATCH_SIZE", 1)
    monkeypatch.setattr(github, "PER_PAGE", 20)
    batches = []
    _record_calls(monkeypatch, service, "tracker_tasks_upsert", lambda **kwargs: batches.append(len(kwargs["records"])))
    sandbox.set_latency(30)
    summary = tracker_download(tracker_id=str(_github(sandbox).id))
    assert summary["pages"] >= 3 and len(batches) >= 2 and sum(batches) == summary["items"]


def test_the_cache_remembers_pages_once_their_batches_are_durable(sandbox, monkeypatch):
    """Batches commit without waiting for the disk; the cache remembers their pages after a durable commit only,
    here the one at the end (a write of its own: every page was a batch, committed before the listing ended)."""
    monkeypatch.setattr(service, "FIRST_BATCH_SIZE", 1)
    monkeypatch.setattr(service, "BATCH_SIZE", 1)
    monkeypatch.setattr(github, "PER_PAGE", 20)
    stored = []
    _record_calls(monkeypatch, DownloadCache, "store_pages", lambda cache, entries, **_: stored.append(len(entries)))
    tracker = _github(sandbox)
    first = tracker_download(tracker_id=str(tracker.id))
    assert first["pages"] > 1 and stored == [first["pages"]]
    again = tracker_download(tracker_id=str(tracker.id), full=True)
    assert again["not_modified"] == again["requests"] and again["unchanged"] == first["items"]


@pytest.mark.parametrize("only_new", [True, False])
def test_assignee_names_are_cut_to_their_column_and_stored_once_per_task(only_new):
    tracker = make_tracker()
    resolver = user_resolver_for_tracker(tracker=tracker)
    long_name = "x" * 250
    records = [
        _task_record(1, assignees=["a", "", "a", long_name, long_name + "y"]),
        _task_record(2, assignees=[]),
        _task_record(3, assignees=["b"]),
    ]
    with transaction.atomic():
        counts = tracker_tasks_upsert(tracker_id=tracker.id, records=records, resolver=resolver, only_new=only_new)
    assert counts.created == 3
    stored = TaskAssignee.objects.filter(task__tracker=tracker).values_list("task__code", "external_username")
    assert sorted(stored) == [("#1", "a"), ("#1", "x" * 200), ("#3", "b")]


def test_the_collector_is_paused_while_pages_are_stored_and_back_after(sandbox):
    assert gc.isenabled()
    tracker = _github(sandbox)
    during = []
    tracker_download(tracker_id=str(tracker.id), progress=lambda *args: during.append(gc.isenabled()))
    assert during and not any(during) and gc.isenabled()


def test_deletion_keeps_declared_tasks(sandbox):
    tracker = _github(sandbox)
    make_task(tracker, code="various", is_declared=True, external_id="")
    make_task(tracker, code="#99999", external_id="gone-upstream")
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["deleted"] == 1
    assert Task.objects.filter(tracker=tracker, code="various").exists()


def test_deleting_a_task_unlinks_its_work_entries(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    code = sandbox.task_codes("github")[0]
    entry = make_work_entry(
        make_tracker(tracker.project, api_kind="kimai"), task=Task.objects.get(tracker=tracker, code=code)
    )
    sandbox.delete_task("github", code)
    tracker_download(tracker_id=str(tracker.id), full=True)
    assert stored_match(entry) == (None, None, None)


def test_deleting_a_task_keeps_the_rules_that_target_it_without_a_target(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    code = sandbox.task_codes("github")[0]
    kimai = make_tracker(tracker.project, api_kind="kimai")
    rule = make_work_match(
        tracker, MatchOn.ALWAYS_TO_TASK, [kimai], target_task=Task.objects.get(tracker=tracker, code=code)
    )
    sandbox.delete_task("github", code)
    tracker_download(tracker_id=str(tracker.id), full=True)
    rule.refresh_from_db()
    assert rule.target_task is None  # still configured; `update_organization` names the missing task


def test_a_complete_recheck_that_finds_nothing_new_keeps_the_cursor_for_the_updates_after_it(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    tracker.refresh_from_db()
    cursor = tracker.download_state["cursor"]
    recheck = tracker_download(tracker_id=str(tracker.id), full=True)
    assert recheck["full"] is True and recheck["not_modified"] == recheck["requests"]  # every page unchanged
    tracker.refresh_from_db()
    assert tracker.download_state["cursor"] == cursor
    update = tracker_download(tracker_id=str(tracker.id))
    assert update["full"] is False and update["requests"] == 1  # only what changed, not every page again


def test_a_download_that_finds_nothing_new_leaves_the_cache_state_alone(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    tracker_download(tracker_id=str(tracker.id))  # the first update asks with its cursor: a new page to remember
    client = download_cache_client()
    key = download_key(str(tracker.id), "state")
    state = client.get(key)
    client.expire(key, 1000)  # a state written again would live 30 days again

    update = tracker_download(tracker_id=str(tracker.id))

    assert update["requests"] == update["not_modified"] == 1
    assert client.get(key) == state and 0 < client.ttl(key) <= 1000
    recheck = tracker_download(tracker_id=str(tracker.id), full=True)  # moves `full_at` on: written
    assert recheck["full"] is True and client.ttl(key) > 1000


def test_a_download_whose_cursor_moves_writes_the_cache_state(sandbox):
    tracker = _kimai(sandbox)  # Kimai's cursor is the time the download started
    tracker_download(tracker_id=str(tracker.id))
    client = download_cache_client()
    key = download_key(str(tracker.id), "state")
    client.expire(key, 1000)

    tracker_download(tracker_id=str(tracker.id))

    tracker.refresh_from_db()
    assert client.ttl(key) > 1000
    assert json.loads(client.get(key))["cursor"] == tracker.download_state["cursor"]


_EMPTY_CHECK = "SELECT NOT EXISTS (SELECT FROM siisurit_task"


def test_an_incremental_download_neither_collects_the_ids_seen_nor_asks_whether_the_tracker_is_empty(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    with CaptureQueriesContext(connection) as queries:
        summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["full"] is False and summary["deleted"] == 0
    statements = "\n".join(query["sql"] for query in queries.captured_queries)
    assert "sii_seen_ids" not in statements and _EMPTY_CHECK not in statements
    with CaptureQueriesContext(connection) as queries:
        summary = tracker_download(tracker_id=str(tracker.id), full=True)  # a complete one still does both
    statements = "\n".join(query["sql"] for query in queries.captured_queries)
    assert summary["full"] is True and "sii_seen_ids" in statements and _EMPTY_CHECK in statements


def test_cleared_cache_forces_fresh_complete_download(sandbox):
    tracker = _github(sandbox)
    tracker_download(tracker_id=str(tracker.id))
    DownloadCache(download_cache_client(), str(tracker.id)).clear()
    sandbox.reset_stats()
    summary = tracker_download(tracker_id=str(tracker.id))
    assert summary["full"] is True and summary["not_modified"] == 0
    assert summary["unchanged"] == summary["items"]


def test_a_cleared_cache_asks_redis_only_for_pages_it_stored_since():
    tracker = make_tracker()
    cache, other = (DownloadCache(download_cache_client(), str(tracker.id)) for _ in range(2))
    try:
        cache.clear()
        other.store_pages([("https://tracker/2", {"etag": "b"})])  # another writer: a miss only costs a full answer
        cache.store_pages([("https://tracker/3", {"etag": "c"})])
        assert cache.page("https://tracker/2") is None and other.page("https://tracker/2") == {"etag": "b"}
        assert cache.page("https://tracker/3") == {"etag": "c"}
    finally:
        cache.clear()


def test_changed_user_mapping_resolves_cached_pages_again(sandbox):
    project = make_project()
    tracker = _github(sandbox, project=project)
    tracker_download(tracker_id=str(tracker.id), full=True)
    assert not TaskAssignee.objects.filter(task__tracker=tracker, user__isnull=False).exists()
    bob = make_user("bob")
    make_organization_profile(project.organization, bob)
    summary = tracker_download(tracker_id=str(tracker.id), full=True)
    assert summary["not_modified"] == 0  # the cache was dropped: the mapping changed
    bobs = TaskAssignee.objects.filter(task__tracker=tracker, external_username="bob")
    assert bobs.exists() and not bobs.filter(user__isnull=True).exists()


def test_work_entries_download_maps_users_and_deletes_upstream_removals(sandbox):
    project = make_project()
    alice = make_user("alice-s", email="alice@example.com")
    make_organization_profile(project.organization, alice)
    tracker = _kimai(sandbox, project=project)
    first = tracker_download(tracker_id=str(tracker.id))
    entry_ids = sandbox.entry_ids("kimai")
    assert first["created"] == WorkEntry.objects.filter(tracker=tracker).count() > 0
    assert WorkEntry.objects.filter(tracker=tracker, user=alice).exists()
    again = tracker_download(tracker_id=str(tracker.id), full=True)
    assert again["created"] == again["updated"] == again["deleted"] == 0
    sandbox.delete_entry("kimai", entry_ids[0])
    third = tracker_download(tracker_id=str(tracker.id), full=True)
    assert third["deleted"] == 1
    assert not WorkEntry.objects.filter(tracker=tracker, external_id=str(entry_ids[0])).exists()


def test_download_tracker_command_runs_in_process(sandbox):
    from io import StringIO

    from django.core.management import call_command

    tracker = _github(sandbox)
    output = StringIO()
    call_command(
        "download_tracker",
        tracker.project.organization.code,
        tracker.project.code,
        tracker.name,
        "--sync",
        "--no-progress-bar",
        stdout=output,
    )
    assert Task.objects.filter(tracker=tracker).count() == len(sandbox.task_codes("github"))
