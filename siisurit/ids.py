"""UUIDv7 primary keys that embed `SII_UUID_HOST`, so that several hosts never generate the same id.

Layout (RFC 9562): 48 bits Unix milliseconds, version 7, 12 bits `rand_a` used as a per-millisecond counter
(ids of one process sort in creation order), variant, then 62 bits `rand_b` whose top 15 bits hold the host.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

HOST_BITS = 15
MAX_HOST = (1 << HOST_BITS) - 1
_RANDOM_BITS = 62 - HOST_BITS

_lock = threading.Lock()
_last_milliseconds = 0
_counter = 0


def _next_timestamp_and_counter() -> tuple[int, int]:
    global _last_milliseconds, _counter
    with _lock:
        milliseconds = time.time_ns() // 1_000_000
        if milliseconds > _last_milliseconds:
            _last_milliseconds = milliseconds
            _counter = secrets.randbits(11)  # leave headroom so the counter rarely overflows within a millisecond
        else:
            _counter += 1
            if _counter > 0xFFF:
                _last_milliseconds += 1
                _counter = 0
        return _last_milliseconds, _counter


def uuid7(host: int) -> uuid.UUID:
    """A new UUIDv7 carrying `host` (0..32767) in its random part."""
    if not 0 <= host <= MAX_HOST:
        raise ValueError(f"UUID host must be between 0 and {MAX_HOST}, not {host}")
    milliseconds, counter = _next_timestamp_and_counter()
    rand_b = (host << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def uuid7_host(value: uuid.UUID) -> int:
    """The host number embedded in a UUIDv7 made by `uuid7`."""
    return (value.int >> _RANDOM_BITS) & MAX_HOST


def uuid7_milliseconds(value: uuid.UUID) -> int:
    """The Unix time in milliseconds at which a UUIDv7 was made."""
    return value.int >> 80


def new_id() -> uuid.UUID:
    """Default for primary keys: a UUIDv7 with this installation's `SII_UUID_HOST`."""
    from django.conf import settings

    return uuid7(settings.SII_UUID_HOST)


def uuid7_seconds(value: str | uuid.UUID) -> float | None:
    """The Unix time (seconds) a UUIDv7 was made at; None for other ids (e.g. Celery's own uuid4 task ids)."""
    try:
        parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
    return uuid7_milliseconds(parsed) / 1000 if parsed.version == 7 else None
