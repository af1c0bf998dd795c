"""A wall-clock deadline on the sockets of outgoing HTTP calls (JWKS and FHIR fetches).

Socket timeouts bound each ``recv``, not a whole download: a server that trickles one byte
per timeout keeps a read alive for ever, and a deadline checked between body chunks is
checked only when a chunk is complete (measured before this module: 15 s per JWKS call, FHIR fetch threads
alive 20 s past a 0.4 s budget). Here a watchdog thread shuts a socket down when its
deadline passes, wherever the read is (connect, TLS handshake, headers, body), so the
blocked ``recv`` returns at once.

Use a session with :class:`DeadlineAdapter` mounted and make the calls inside
``with socket_deadline(deadline) as scope:``; after an error (or a body cut short),
``scope.expired`` tells that the deadline, not the server, ended it. Connections through
a forward proxy (``HTTPS_PROXY``) are not watched: only the socket timeouts apply there.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _Watch:
    __slots__ = ("sock", "deadline", "cancelled", "fired")

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock = sock
        self.deadline = deadline
        self.cancelled = False
        self.fired = False


class _Reaper:
    """One daemon thread per process: shuts down watched sockets at their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def watch(self, sock: socket.socket, deadline: float) -> _Watch:
        entry = _Watch(sock, deadline)
        with self._cond:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                # First use, or after a fork (threads do not survive one).
                self._heap = []
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="socket-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (deadline, next(self._seq), entry))
            self._cond.notify()
        return entry

    def cancel(self, entry: _Watch) -> None:
        with self._cond:
            entry.cancelled = True

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, entry = heapq.heappop(self._heap)
                entry.fired = True
                try:
                    # The plain socket's shutdown, also for an SSLSocket (whose own would drop
                    # its TLS state under the reading thread): the fd is the same.
                    socket.socket.shutdown(entry.sock, socket.SHUT_RDWR)
                except OSError:
                    pass  # closed already


_REAPER = _Reaper()
_local = threading.local()


class DeadlineScope:
    def __init__(self, deadline: float):
        self.deadline = deadline
        self.watches: list[_Watch] = []

    @property
    def expired(self) -> bool:
        """True once the deadline has passed (a socket of this scope may have been shut down)."""
        return any(w.fired for w in self.watches) or time.monotonic() >= self.deadline


@contextmanager
def socket_deadline(deadline: float) -> Iterator[DeadlineScope]:
    """Sockets that DeadlineAdapter connections use in this thread inside the block are shut
    down at ``deadline`` (a ``time.monotonic()`` value)."""
    scope = DeadlineScope(deadline)
    previous = getattr(_local, "scope", None)
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = previous
        for entry in scope.watches:
            _REAPER.cancel(entry)


def _register(sock: socket.socket | None) -> None:
    scope = getattr(_local, "scope", None)
    if scope is not None and sock is not None:
        scope.watches.append(_REAPER.watch(sock, scope.deadline))


class _DeadlineConnection:
    def _new_conn(self) -> socket.socket:  # a new socket: watched from connect on (TLS handshake too)
        sock = super()._new_conn()  # type: ignore[misc]
        _register(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # a kept-alive socket, reused
        if getattr(self, "sock", None) is not None:
            _register(self.sock)  # type: ignore[attr-defined]
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_DeadlineConnection, HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections obey ``socket_deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
