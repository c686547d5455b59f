"""`manage.py rotate_fernet_keys`: re-encrypt stored secrets with the first key of SII_FERNET_KEYS."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from siisurit.secret_rotation import secrets_reencrypt
from siisurit.secrets import SecretDecryptionError


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (tracker tokens) with the first key of SII_FERNET_KEYS. To rotate: put a "
        "new key first in SII_FERNET_KEYS (keep the old ones after it), restart, run this command, then remove "
        "the old keys. All secrets are rewritten in one transaction; a secret no key fits changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="only count the secrets encrypted with an older key (default: re-encrypt them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        try:
            counts = secrets_reencrypt(keys=tuple(settings.SII_FERNET_KEYS), dry_run=dry_run)
        except SecretDecryptionError as error:
            raise CommandError(f"{error}; nothing was changed") from None
        if options["verbosity"] >= 1:
            verb = "would re-encrypt" if dry_run else "re-encrypted"
            self.stdout.write(
                f"{counts.secrets} stored secrets, {verb} {counts.rotated} encrypted with an older key"
                + (" (dry run: nothing was changed)" if dry_run else "")
            )
