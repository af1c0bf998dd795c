"""Readings of free text, kept in the worker's memory so that a text seen again is not read again.

Reading a text depends on the text alone: the readers look at nothing else. And the same
texts come back. An order-select and the order-sign after it carry the same reports, and
problem-list and observation labels ("Lumbar radiculopathy", "Numbness of left foot") come
from terminologies that every patient's record shares. Reading text is the largest single
cost of a typical hook call (see bench/README.md).

Two lifetimes:

- **within one call**, every reading: a record repeats its labels ("Heart rate", "Ankle reflex:
  1+ left" in each visit's vitals), and each is read once. Gone when the call ends.
- **across calls**, in the worker, only code-system wording by default: a label that is a
  coding's display ("Radiculopathy, lumbar region"), the same for every patient that has the
  code. Free text (report texts, notes, a label typed for this patient, an observation's string
  value) is patient data; it is kept across calls only with ``text_cache_patient_text: true``
  (the order-sign after an order-select then does not read its reports again).

What is kept across calls: a text and what the reader found in it (frozen, shared read-only),
least recently used out first, within ``text_cache_chars`` characters of text per worker process.
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

    def __init__(self, max_chars: int, keep_patient_text: bool = False):
        self.max_chars = max(0, int(max_chars))
        #: Also keep readings of free text (patient data) across calls, not only code-system wording.
        self.keep_patient_text = bool(keep_patient_text)
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


class _CallMemo:
    """One call's readings (all of them, dropped with the call) in front of the worker's memo."""

    __slots__ = ("worker", "readings")

    def __init__(self, worker: TextMemo):
        self.worker = worker
        self.readings: dict[tuple[str, str], object] = {}


#: The memos lent to the readers by the hook call running in this context; None: read afresh.
_current: ContextVar[_CallMemo | None] = ContextVar("cds_text_memo", default=None)


@contextmanager
def using(memo: TextMemo) -> Iterator[TextMemo]:
    """Lend ``memo`` (the worker's) and a memo of this call's own to the readers of the code run inside."""
    token = _current.set(_CallMemo(memo))
    try:
        yield memo
    finally:
        _current.reset(token)


def read(reader: str, text: str, fn: Callable[[str], T], code_wording: bool = False) -> T:
    """``fn(text)`` through the memos lent by the running call, if any.

    ``code_wording``: the text is code-system wording only (coding displays, ``fhir_access.is_code_wording``),
    which the worker's memo may keep across calls; other text is kept there only with ``keep_patient_text``.
    """
    call = _current.get()
    if call is None:
        return fn(text)
    worker = call.worker
    if code_wording or worker.keep_patient_text:
        return _once_in(call, reader, text, lambda t: worker.read(reader, t, fn))
    return _once_in(call, reader, text, fn)


def within_call(reader: str, text: str, fn: Callable[[str], T]) -> T:
    """``fn(text)`` kept for the running call only (never in the worker's memo): for small readings
    that recur within one record (the dates of its resources, read by several readers)."""
    call = _current.get()
    return fn(text) if call is None else _once_in(call, reader, text, fn)


def _once_in(call: _CallMemo, reader: str, text: str, fn: Callable[[str], T]) -> T:
    key = (reader, text)
    found = call.readings.get(key)
    if found is None:
        found = call.readings[key] = fn(text)  # the record bounds what one call holds (limits.py)
    return found  # type: ignore[return-value]
