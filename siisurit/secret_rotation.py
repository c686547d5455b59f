"""Key rotation: re-encrypt every stored secret (`SecretField` columns) with the first key of SII_FERNET_KEYS."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from siisurit.models.fields import SecretField
from siisurit.secrets import reencrypt


@dataclass
class RotationCounts:
    secrets: int = 0  # non-empty stored secrets
    rotated: int = 0  # of those, encrypted with an older key (re-encrypted unless dry run)


def secrets_reencrypt(*, keys: tuple[str, ...], dry_run: bool = False) -> RotationCounts:
    """Re-encrypt every secret not yet encrypted with `keys[0]`, in one transaction; `dry_run` only counts.

    Raises SecretDecryptionError (nothing written) if a secret fits none of the keys.
    """
    counts = RotationCounts()
    with transaction.atomic():
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, SecretField):
                    _column_reencrypt(model._meta.db_table, model._meta.pk.column, field.column, keys, dry_run, counts)
    return counts


def _column_reencrypt(
    table: str, key_column: str, column: str, keys: tuple[str, ...], dry_run: bool, counts: RotationCounts
) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(key_column)}, {quote(column)} FROM {quote(table)} WHERE {quote(column)} <> ''")
        rows = cursor.fetchall()
        for row_id, ciphertext in rows:
            counts.secrets += 1
            rotated = reencrypt(ciphertext, keys)
            if rotated is None:
                continue
            counts.rotated += 1
            if not dry_run:
                cursor.execute(
                    f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(key_column)} = %s", [rotated, row_id]
                )
