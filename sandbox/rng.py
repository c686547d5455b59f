"""Small deterministic random numbers keyed by (seed, salt, index); cheap to create per item.

Each item hashes its key once with BLAKE2b (C speed) and then hands out 32-bit slices of the digest, refilling
with a counter when they run out. ``hash()`` of str differs per process, so it is never used here.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from hashlib import blake2b
from typing import TypeVar

T = TypeVar("T")
_WORDS_PER_DIGEST = 16  # 64-byte digest = sixteen 32-bit words
_TWO_TO_32 = 4294967296.0


def salt_of(text: str) -> int:
    """A stable integer for a text."""
    return zlib.crc32(text.encode())


class ItemRandom:
    """Random stream of one item: the same keys always give the same numbers."""

    __slots__ = ("_bits", "_key", "_left", "_refills")

    def __init__(self, seed: int, salt: int, index: int) -> None:
        self._key = b"%d:%d:%d" % (seed, salt, index)
        self._refills = 0
        self._bits = int.from_bytes(blake2b(self._key).digest(), "little")
        self._left = _WORDS_PER_DIGEST

    def next32(self) -> int:
        if not self._left:
            self._refills += 1
            self._bits = int.from_bytes(blake2b(self._key + b"/%d" % self._refills).digest(), "little")
            self._left = _WORDS_PER_DIGEST
        self._left -= 1
        value = self._bits & 0xFFFFFFFF
        self._bits >>= 32
        return value

    def next64(self) -> int:
        return (self.next32() << 32) | self.next32()

    def random(self) -> float:
        return self.next32() / _TWO_TO_32

    def randint(self, low: int, high: int) -> int:
        """An int in ``[low, high]`` (ranges up to 2**32)."""
        return low + self.next32() % (high - low + 1)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.next32() % len(items)]

    def chance(self, probability: float) -> bool:
        return self.next32() < probability * _TWO_TO_32
