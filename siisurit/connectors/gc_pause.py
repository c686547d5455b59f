"""Pause Python's cyclic garbage collector while a page is decoded and mapped to records.

Decoding a page builds thousands of dicts and lists at once (a Kimai page of 500 entries about 5,500); each
allocation burst triggers collections that walk the whole young page again and again, and promotes what they see to
older generations whose full collections then walk every object of the process. That cost about a quarter of a
download's client CPU. The page's objects form no cycles (JSON is a tree) and are freed by reference counting once its
records are built, so the collector has nothing to find in them: paused for that span, it runs afterwards on what is
really left.

The collector is process wide: pauses of several threads nest (counted), and the collector is switched on again only
if it was on when the first pause began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic garbage collection within the block (of any thread), as before after the last pause ends."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
