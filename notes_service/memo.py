"""Small in-process caches (one per worker) of derived data: computed progress, rendered charts,
dumped answers. Every key holds everything its value is derived from, so a change of the data
gives a new key rather than a stale hit; entries may also expire at a given moment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

#: Every memo made, so that tests (and a restore) can empty them all at once.
_ALL: list[Memo] = []


class Memo:
    """A thread-safe LRU of at most ``size`` values, each optionally expiring at an aware
    datetime."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key, now: datetime | None = None):
        """The value kept under ``key``, or None (also once ``now`` reached its expiry)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and now is not None and now >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def expiry(self, key) -> datetime | None:
        """When the value kept under ``key`` expires (None: never, or not kept)."""
        with self._lock:
            item = self._items.get(key)
            return item[1] if item is not None else None

    def put(self, key, value, expires: datetime | None = None) -> None:
        """Keep ``value`` under ``key`` (until ``expires``), dropping the least recently used."""
        with self._lock:
            self._items[key] = (value, expires)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def clear_all() -> None:
    """Empty every memo of this process."""
    for memo in _ALL:
        memo.clear()
