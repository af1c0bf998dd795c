"""One hook computation at a time per worker process; the others wait their turn.

A hook call is CPU-bound Python. Threads of one process share one GIL, so with gthread
workers four calls computing at once in one worker each run at a quarter speed, switching
every 5 ms, and all four finish late: measured under ``bench/hook_load.py`` (2 workers x 4
threads, 8 clients), p99 507 ms without the slot, 114 ms with it, and 60 % more requests/s.
Taking turns keeps the same work but lets the first call finish first.

A call gives its turn up while it waits for FHIR queries (``waiting``), so threads still
overlap network waits, which is what threads are for here. A sync worker (``threads: 1``,
the default) has one thread and never waits for the slot.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

# Semaphore, not Lock: its waiters are woken first come, first served.
_slot = threading.Semaphore(1)
_local = threading.local()


def holding() -> bool:
    """Whether this thread holds its process's computing slot."""
    return getattr(_local, "held", False)


@contextmanager
def computing() -> Iterator[None]:
    """Hold the process's computing slot for the block (nested use keeps the outer hold)."""
    if holding():
        yield
        return
    _slot.acquire()
    _local.held = True
    try:
        yield
    finally:
        _local.held = False
        _slot.release()


@contextmanager
def waiting() -> Iterator[None]:
    """Let another call compute while this one waits on the network; take the slot back after."""
    if not holding():
        yield
        return
    _local.held = False
    _slot.release()
    try:
        yield
    finally:
        _slot.acquire()
        _local.held = True
