"""UUIDv7 ids with host bits, and tracker tokens encrypted at rest with rotatable keys."""

from __future__ import annotations

import io
import uuid

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from siisurit.ids import MAX_HOST, new_id, uuid7, uuid7_host, uuid7_milliseconds
from siisurit.models import Tracker
from siisurit.secrets import Secret, SecretDecryptionError, decrypt, reencrypt
from tests.factories import make_organization, make_tracker

TOKEN = "ghp_token-that-must-never-be-stored-in-plain-4242"


@pytest.mark.parametrize("host", [0, 1, 4711, MAX_HOST])
def test_uuid7_carries_the_host_and_is_a_version_7_rfc_uuid(host):
    value = uuid7(host)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid7_host(value) == host


def test_uuid7_rejects_hosts_out_of_range():
    for host in (-1, MAX_HOST + 1):
        with pytest.raises(ValueError, match="between 0 and 32767"):
            uuid7(host)


def test_ids_of_one_process_sort_in_creation_order():
    values = [uuid7(3) for _ in range(5000)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert uuid7_milliseconds(values[-1]) >= uuid7_milliseconds(values[0])


@pytest.mark.django_db
def test_primary_keys_embed_the_configured_host():
    with override_settings(SII_UUID_HOST=1234):
        assert uuid7_host(new_id()) == 1234
        organization = make_organization()
    assert uuid7_host(organization.id) == 1234


def _raw_token(tracker: Tracker) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM siisurit_tracker WHERE id = %s", [tracker.id])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_tokens_are_encrypted_in_the_database_and_masked_in_python():
    tracker = make_tracker(api_token=TOKEN)

    raw = _raw_token(tracker)
    loaded = Tracker.objects.get(id=tracker.id)

    assert TOKEN not in raw and raw
    assert loaded.api_token.reveal() == TOKEN
    assert TOKEN not in repr(loaded.api_token) + str(loaded.api_token) + repr(loaded.__dict__)
    assert Secret("") == Tracker.objects.get(id=make_tracker().id).api_token


@pytest.mark.django_db
def test_key_rotation_reads_old_tokens_and_re_encrypts_with_the_new_key(settings):
    old_key = settings.SII_FERNET_KEYS[0]
    new_key = Fernet.generate_key().decode()
    tracker = make_tracker(api_token=TOKEN)
    old_ciphertext = _raw_token(tracker)

    with override_settings(SII_FERNET_KEYS=[new_key, old_key]):
        loaded = Tracker.objects.get(id=tracker.id)
        assert loaded.api_token.reveal() == TOKEN
        loaded.save()  # saving encrypts with the first (new) key
        assert decrypt(reencrypt(old_ciphertext, (new_key, old_key)), (new_key,)) == TOKEN
        assert reencrypt(_raw_token(tracker), (new_key, old_key)) is None  # already under the new key
    new_ciphertext = _raw_token(tracker)

    assert new_ciphertext != old_ciphertext
    with override_settings(SII_FERNET_KEYS=[new_key]):
        assert Tracker.objects.get(id=tracker.id).api_token.reveal() == TOKEN
    with override_settings(SII_FERNET_KEYS=[old_key]), pytest.raises(SecretDecryptionError) as caught:
        Tracker.objects.get(id=tracker.id)
    assert TOKEN not in str(caught.value)


@pytest.mark.django_db
def test_rotate_fernet_keys_re_encrypts_every_stored_token_with_the_first_key(settings):
    old_key = settings.SII_FERNET_KEYS[0]
    new_key = Fernet.generate_key().decode()
    trackers = [make_tracker(api_token=f"{TOKEN}-{number}") for number in range(3)]
    make_tracker(api_token="")
    old_ciphertexts = [_raw_token(tracker) for tracker in trackers]

    with override_settings(SII_FERNET_KEYS=[new_key, old_key]):
        dry_run = io.StringIO()
        call_command("rotate_fernet_keys", "--dry-run", stdout=dry_run)
        assert "3 stored secrets, would re-encrypt 3" in dry_run.getvalue()
        assert [_raw_token(tracker) for tracker in trackers] == old_ciphertexts
        out = io.StringIO()
        call_command("rotate_fernet_keys", stdout=out)
        assert "re-encrypted 3" in out.getvalue()
        again = io.StringIO()
        call_command("rotate_fernet_keys", "-v0", stdout=again)
        assert again.getvalue() == ""
    with override_settings(SII_FERNET_KEYS=[new_key]):
        assert [Tracker.objects.get(id=tracker.id).api_token.reveal() for tracker in trackers] == [
            f"{TOKEN}-{number}" for number in range(3)
        ]


@pytest.mark.django_db
def test_rotate_fernet_keys_changes_nothing_when_a_secret_fits_no_key(settings):
    tracker = make_tracker(api_token=TOKEN)
    ciphertext = _raw_token(tracker)

    with override_settings(SII_FERNET_KEYS=[Fernet.generate_key().decode()]), pytest.raises(CommandError) as caught:
        call_command("rotate_fernet_keys", stdout=io.StringIO())
    assert "nothing was changed" in str(caught.value) and TOKEN not in str(caught.value)
    assert _raw_token(tracker) == ciphertext
