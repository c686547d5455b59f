"""Model field types shared by all models."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from siisurit.ids import new_id
from siisurit.secrets import Secret, decrypt, encrypt


class SecretField(models.TextField):
    """A text column holding a Fernet ciphertext; Python sees a `Secret`.

    The first key of `SII_FERNET_KEYS` encrypts, every key decrypts, so keys can rotate.
    """

    description = "Encrypted secret"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret:
        if not value:
            return Secret("")
        return Secret(decrypt(value, tuple(settings.SII_FERNET_KEYS)))

    def to_python(self, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        return Secret(value or "")

    def get_prep_value(self, value: Any) -> str:
        plaintext = value.reveal() if isinstance(value, Secret) else (value or "")
        if not plaintext:
            return ""
        return encrypt(plaintext, tuple(settings.SII_FERNET_KEYS))

    def value_to_string(self, obj: models.Model) -> str:
        # Serialization (dumpdata, admin history) never exposes the plaintext.
        return ""


class BaseModel(models.Model):
    """UUIDv7 primary key embedding SII_UUID_HOST."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)

    class Meta:
        abstract = True
