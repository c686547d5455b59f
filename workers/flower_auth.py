"""Flower's basic auth credentials: Flower has no lockout of its own, so outside `local` only long passwords pass.

Flower must stay behind the reverse proxy (its port is published on loopback only): `/metrics` and `/healthcheck`
skip authentication, and nothing slows down guessing except the proxy and the password's length.
"""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 16


class FlowerCredentialsError(Exception):
    """SII_FLOWER_BASIC_AUTH is malformed or too weak; the message never shows a password."""


def flower_credentials(text: str, *, require_strong: bool) -> list[str]:
    """The `user:password` entries of SII_FLOWER_BASIC_AUTH (comma separated)."""
    credentials = [item.strip() for item in text.split(",") if item.strip()]
    for index, item in enumerate(credentials, start=1):
        user, separator, password = item.partition(":")
        if not separator or not user or not password:
            raise FlowerCredentialsError(f"SII_FLOWER_BASIC_AUTH entry {index} must be user:password")
        if require_strong and len(password) < MIN_PASSWORD_LENGTH:
            raise FlowerCredentialsError(
                f"SII_FLOWER_BASIC_AUTH: the password of '{user}' must have at least {MIN_PASSWORD_LENGTH} characters "
                "outside the local environment (Flower has no lockout after wrong passwords)"
            )
    return credentials
