"""Readings of free text, kept in the worker's memory so that a text seen again is not read again.

Reading a text depends on the text alone: the readers look at nothing else. And the same
texts come back. An order-select and the order-sign after it carry the same reports, and
problem-list and observation labels ("Lumbar radiculopathy", "Numbness of left foot") come
from terminologies that every patient's record shares. Reading text is the largest single
cost of a typical hook call (see bench/README.md).

What is kept: a text and what the reader found in it (frozen, shared read-only), least
recently used out first, within ``text_cache_chars`` characters of text per worker process.
Nothing is written anywhere, and nothing that ties a text to a patient is kept with it
(no resource id, patient id or date). ``text_cache_chars: 0`` turns it off.

Whose memo: the ``Engine``'s (``pipeline.Engine.memo``, sized from ``text_cache_chars`` when the
engine is built). A hook call lends it to the readers for its duration (``using``: a context
variable, so each thread's call sees its own engine's); outside a call, or with no memo lent
(a test reading one record, a script), every text is read afresh. No module keeps a memo of
its own, so two engines in one process (tests, benchmarks) never share readings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

#: Characters counted for an entry besides its text (the reading, the key, the bookkeeping).
_ENTRY_OVERHEAD = 200
#: A text longer than this share of the budget is read every time rather than evict many others.
_LONGEST_SHARE = 16


class TextMemo:
    """A bounded, thread-safe memo of ``reader(text)`` per reader name."""

    def __init__(self, max_chars: int):
        self.max_chars = max(0, int(max_chars))
        self._items: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def read(self, reader: str, text: str, read: Callable[[str], T]) -> T:
        """``read(text)``, or what it gave for the same ``reader`` and ``text`` before."""
        size = len(text) + _ENTRY_OVERHEAD
        if size * _LONGEST_SHARE > self.max_chars:
            return read(text)
        key = (reader, text)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found  # type: ignore[return-value]
            self.misses += 1
        value = read(text)  # outside the lock: two threads may read one text; both get equal readings
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._chars += size
                while self._chars > self.max_chars:
                    (_, old), _ = self._items.popitem(last=False)
                    self._chars -= len(old) + _ENTRY_OVERHEAD
        return value

    def __len__(self) -> int:
        return len(self._items)

    @property
    def chars(self) -> int:
        return self._chars


#: The memo lent to the readers by the hook call running in this context; None: read afresh.
_current: ContextVar[TextMemo | None] = ContextVar("cds_text_memo", default=None)


@contextmanager
def using(memo: TextMemo) -> Iterator[TextMemo]:
    """Lend ``memo`` to the readers of the code run inside (one hook call)."""
    token = _current.set(memo)
    try:
        yield memo
    finally:
        _current.reset(token)


def read(reader: str, text: str, fn: Callable[[str], T]) -> T:
    """``fn(text)`` through the memo lent by the running call, if any."""
    memo = _current.get()
    return fn(text) if memo is None else memo.read(reader, text, fn)
