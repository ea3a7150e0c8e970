"""A dict that keeps only its most recently used entries: every cache in a long session needs a bound.

(The renderer's w cache once grew by one entry per seed a user visited: 3,667 entries, +150 MB, in 75 s.)
"""
from __future__ import annotations

import collections
from typing import Generic, Hashable, Iterator, Optional, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most `size` entries; reading or writing one makes it the newest, and the oldest goes first."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("an LRU cache needs room for at least one entry")
        self.size = size
        self._items: "collections.OrderedDict[Hashable, V]" = collections.OrderedDict()

    def get(self, key: Hashable) -> Optional[V]:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._items)
