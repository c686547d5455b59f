"""Small deterministic random numbers (splitmix64) keyed by (seed, salt, index); cheap to create per item."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TypeVar

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
T = TypeVar("T")


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def salt_of(text: str) -> int:
    """A stable integer for a text (``hash()`` of str differs per process)."""
    return zlib.crc32(text.encode())


class ItemRandom:
    """Random stream of one item: the same keys always give the same numbers."""

    __slots__ = ("_state",)

    def __init__(self, seed: int, salt: int, index: int) -> None:
        self._state = _mix((_mix((seed * _GOLDEN + salt) & _MASK) + index * _GOLDEN) & _MASK)

    def next64(self) -> int:
        self._state = (self._state + _GOLDEN) & _MASK
        return _mix(self._state)

    def random(self) -> float:
        return (self.next64() >> 11) / 9007199254740992.0

    def randint(self, low: int, high: int) -> int:
        """An int in ``[low, high]``."""
        return low + self.next64() % (high - low + 1)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.next64() % len(items)]

    def chance(self, probability: float) -> bool:
        return self.random() < probability
