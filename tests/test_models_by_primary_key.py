"""Loading and updating a row by primary key with SQL built once (siisurit/models/by_primary_key.py) gives what the
ORM's `get` and `save(update_fields=...)` give."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from siisurit.models import DownloadOutcome, Project, Tracker
from siisurit.models.by_primary_key import model_fields_update, model_get_by_pk, model_get_by_pk_with
from siisurit.secrets import Secret
from tests.factories import make_organization, make_tracker, make_user_mapping


def _concrete_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.django_db
def test_a_tracker_loads_as_the_orm_loads_it():
    organization = make_organization()
    tracker = make_tracker(
        Project.objects.create(organization=organization, code="p", name="P"),
        api_token="tok-secret",
        user_mapping=make_user_mapping(organization),
        download_state={"generation": "g1", "last": {"items": 3, "full": True}},
        last_downloaded_at=datetime(2026, 11, 30, 4, 5, 6, 789000, tzinfo=UTC),
        last_download_outcome=DownloadOutcome.SUCCEEDED,
        last_download_items=3,
    )

    loaded = model_get_by_pk(Tracker, str(tracker.id))  # the id as a job's arguments carry it

    assert _concrete_values(loaded) == _concrete_values(Tracker.objects.get(id=tracker.id))
    assert isinstance(loaded.api_token, Secret) and loaded.api_token.reveal() == "tok-secret"
    assert loaded.download_state["last"] == {"items": 3, "full": True}
    assert not loaded._state.adding and loaded._state.db == "default"
    assert loaded.project.organization == organization  # relations load lazily, as after `get`


@pytest.mark.django_db
def test_a_missing_tracker_is_does_not_exist():
    with pytest.raises(Tracker.DoesNotExist):
        model_get_by_pk(Tracker, uuid.uuid4())
    with pytest.raises(Tracker.DoesNotExist):
        model_get_by_pk_with(Tracker, uuid.uuid4(), "select 1")


@pytest.mark.django_db
def test_a_value_read_with_the_row_may_name_its_columns():
    tracker = make_tracker(name="first", api_token="tok-secret")
    make_tracker(tracker.project, name="second")
    siblings = 'select count(*) from siisurit_tracker other where other.project_id = "siisurit_tracker"."project_id"'

    loaded, count = model_get_by_pk_with(Tracker, tracker.id, siblings)
    _, name = model_get_by_pk_with(Tracker, tracker.id, '"siisurit_tracker"."name" || \' and more\'')

    assert _concrete_values(loaded) == _concrete_values(model_get_by_pk(Tracker, tracker.id))
    assert loaded.api_token.reveal() == "tok-secret"  # converters apply to the row's columns, not the value
    assert count == 2 and name == "first and more"


@pytest.mark.django_db
def test_an_update_writes_the_named_fields_as_save_does_and_no_others():
    tracker = make_tracker(name="before")
    moment = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    tracker.name = "not saved"
    tracker.download_state = {"cursor": "2026-11-30T05:00:00+00:00", "quote": 'it\'s "json"'}
    tracker.last_downloaded_at = moment
    tracker.last_download_items = 7

    model_fields_update(tracker, ["download_state", "last_downloaded_at", "last_download_items"])

    stored = Tracker.objects.get(id=tracker.id)
    assert stored.download_state == tracker.download_state
    assert (stored.last_downloaded_at, stored.last_download_items, stored.name) == (moment, 7, "before")


@pytest.mark.django_db
def test_updating_a_deleted_tracker_is_does_not_exist():
    tracker = make_tracker()
    Tracker.objects.filter(id=tracker.id).delete()
    tracker.last_download_items = 1

    with pytest.raises(Tracker.DoesNotExist):
        model_fields_update(tracker, ["last_download_items"])


def test_models_without_a_uuid_primary_key_are_refused():
    from django.contrib.auth.models import Group

    with pytest.raises(TypeError, match="UUID primary key"):
        model_get_by_pk(Group, 1)
