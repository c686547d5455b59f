"""Lazily generated items with small overrides (changed, deleted, added) and cached selections."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import replace
from typing import Any

_SELECTION_CACHE_SIZE = 48


class LazyStore:
    """Items ``0 .. count-1`` come from ``generate(index)``; mutations live in small dicts on top.

    ``core(index)`` gives a cheap object with the attributes filters need (the full record works too).
    ``position(index)`` must be non-decreasing over each generated region; ``lag`` bounds how far a filtered
    attribute may lie after the position (e.g. ``updated - created``), so range filters can bisect.
    """

    def __init__(
        self,
        *,
        count: int,
        generate: Callable[[int], Any],
        core: Callable[[int], Any],
        first_number: int = 1,
        position: Callable[[int], int] | None = None,
        lag: int = 0,
    ) -> None:
        self.count = count
        self.first_number = first_number
        self._generate = generate
        self._core = core
        self._position = position
        self._lag = lag
        self._overrides: dict[int, Any] = {}
        self._deleted: set[int] = set()
        self._added: list[Any] = []
        self._lock = threading.Lock()
        self._selections: OrderedDict[Hashable, list[int]] = OrderedDict()
        self.version = 0

    # Reading

    @property
    def total(self) -> int:
        """Number of indices ever used (generated plus added, deleted ones included)."""
        return self.count + len(self._added)

    @property
    def has_extras(self) -> bool:
        """Whether changed or added items exist (then region shortcuts must be checked item by item)."""
        return bool(self._overrides or self._added)

    def index_of(self, number: int) -> int | None:
        index = number - self.first_number
        return index if 0 <= index < self.total else None

    def get(self, index: int) -> Any | None:
        if index in self._deleted or not 0 <= index < self.total:
            return None
        override = self._overrides.get(index)
        if override is not None:
            return override
        if index >= self.count:
            return self._added[index - self.count]
        return self._generate(index)

    def core(self, index: int) -> Any | None:
        if index in self._deleted or index in self._overrides or index >= self.count:
            return self.get(index)
        return self._core(index)

    def candidates(
        self, regions: Iterable[tuple[int, int]] | None = None, lower: int | None = None, upper: int | None = None
    ) -> list[int]:
        """Indices that may satisfy ``lower <= attribute <= upper`` (filter them afterwards), in index order."""
        result: list[int] = []
        for low, high in regions if regions is not None else [(0, self.count)]:
            high = min(high, self.count)
            if low >= high:
                continue
            if self._position is not None and lower is not None:
                low = bisect_left(range(low, high), lower - self._lag, key=self._position) + low
            if self._position is not None and upper is not None:
                high = bisect_right(range(low, high), upper, key=self._position) + low
            result.extend(range(low, high))
        extra = set(self._overrides) | set(range(self.count, self.total))
        if extra:
            present = set(result)
            result.extend(sorted(index for index in extra if index not in present))
        return result

    def select(
        self,
        key: Hashable,
        predicate: Callable[[Any], bool] | None = None,
        *,
        regions: Iterable[tuple[int, int]] | None = None,
        lower: int | None = None,
        upper: int | None = None,
        sort_key: Callable[[Any], Any] | None = None,
        reverse: bool = False,
        presorted: bool = False,
    ) -> list[int]:
        """Indices of existing items matching ``predicate``, sorted; cached per ``key`` until the next mutation.

        ``presorted``: generated items of the candidate regions already come in ``sort_key`` order, so sorting is
        only needed once mutations exist. Ties sort by index; ``reverse`` reverses the result.
        """
        cache_key = (self.version, key)
        with self._lock:
            cached = self._selections.get(cache_key)
            if cached is not None:
                self._selections.move_to_end(cache_key)
                return cached
        has_extras = bool(self._overrides or self._added)
        candidates = self.candidates(regions, lower, upper)
        if predicate is None and (sort_key is None or (presorted and not has_extras)):
            selected = [index for index in candidates if index not in self._deleted]
        else:
            pairs = []
            for index in candidates:
                core = self.core(index)
                if core is not None and (predicate is None or predicate(core)):
                    pairs.append((core, index))
            if sort_key is not None and not (presorted and not has_extras):
                pairs.sort(key=lambda pair: (sort_key(pair[0]), pair[1]))
            selected = [index for _, index in pairs]
        if reverse:
            selected.reverse()
        with self._lock:
            self._selections[cache_key] = selected
            while len(self._selections) > _SELECTION_CACHE_SIZE:
                self._selections.popitem(last=False)
        return selected

    # Mutations

    def change(self, index: int, **changes: Any) -> Any:
        """Replace fields of an existing item; returns the new record. ``KeyError`` if it does not exist."""
        with self._lock:
            record = self.get(index)
            if record is None:
                raise KeyError(index)
            record = replace(record, **changes)
            if index >= self.count:
                self._added[index - self.count] = record
            else:
                self._overrides[index] = record
            self._bump()
            return record

    def delete(self, index: int) -> None:
        with self._lock:
            if self.get(index) is None:
                raise KeyError(index)
            self._deleted.add(index)
            self._bump()

    def add(self, make: Callable[[int], Any]) -> Any:
        """Append ``make(index)`` and return it."""
        with self._lock:
            record = make(self.total)
            self._added.append(record)
            self._bump()
            return record

    def _bump(self) -> None:
        self.version += 1
        self._selections.clear()
