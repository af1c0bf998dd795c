"""A gunicorn worker that reads each request whole before a thread gets it (slow clients).

gunicorn's sync worker reads a request head with a blocking socket: three clients sending a
header line every 4 s held both workers until gunicorn killed them, and /healthz stopped.
gthread is no better here: a thread waits for the first byte at most 5 s, then reads the rest
blocking, so a client that trickles its headers holds a thread for as long as it likes.

``BufferingWorker`` is gthread's worker (one poller thread, ``threads`` request threads) with one
change: the poller thread reads every request -- head and body, non-blocking, as bytes arrive --
and hands it to a request thread only when it is complete. A slow client then costs a buffer and
a file descriptor, never a thread; it gets ``request_read_timeout`` seconds in all to send its
request (keep-alive connections: from their first byte), then its connection is closed. So the
request threads only ever compute, and a slow caller cannot make the service stop answering.
Limits: the head at most 64 KiB (gunicorn's own line and header limits apply after), the body
at most ``max_body_bytes`` (beyond it the request goes on unread and the app answers 413), at
most ``worker_connections`` connections per worker. TLS and HTTP/2 connections are served as
gthread serves them (the service runs plain HTTP/1.1 behind the ingress).

``request_read_timeout`` and ``max_body_bytes`` are the service's settings (``CDS_*``).
``cds-service serve`` uses this worker; with gunicorn itself: ``gunicorn -k
cds_service.ops.worker.BufferingWorker --threads 1 "cds_service.app:create_app()"``.
"""

from __future__ import annotations

import selectors
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

from ..settings import Settings

#: A request head larger than this is handed to gunicorn's parser as it is (which refuses it).
MAX_HEAD_BYTES = 64 * 1024
_RECV = 64 * 1024


class _Pending:
    __slots__ = ("conn", "buf", "deadline")

    def __init__(self, conn, buf: bytearray, deadline: float):
        self.conn = conn
        self.buf = buf
        self.deadline = deadline


def _complete(buf: bytearray, max_body: int) -> bool:
    """Whether ``buf`` holds a whole request (or as much as will ever be buffered)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return len(buf) > MAX_HEAD_BYTES
    head = bytes(buf[:end]).lower()
    body = len(buf) - end - 4
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return True  # the parser refuses it
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
    if chunked:
        return body > max_body or buf.endswith(b"0\r\n\r\n")
    return length > max_body or body >= length


class BufferingWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = Settings.load()  # defaults < settings.yaml < CDS_*, as the app reads them
        self.read_timeout = settings.request_read_timeout
        self.max_body = settings.max_body_bytes
        self.reading: deque[_Pending] = deque()  # oldest first: deadlines in order
        #: Requests handed to the thread pool and not finished.
        self.busy = 0

    def _buffers(self) -> bool:
        return not self.cfg.is_ssl

    # --- every request enters here (new connection, keep-alive, read-ahead) ---------------

    def enqueue_req(self, conn):
        if not self._buffers() or getattr(conn, "cds_ready", False):
            conn.cds_ready = False
            self.busy += 1
            return super().enqueue_req(conn)
        held = bytearray()
        if conn.parser is not None:  # keep-alive: bytes already read ahead belong to this request
            held += conn.parser.unreader.take_buffered()
        pending = _Pending(conn, held, time.monotonic() + self.read_timeout)
        conn.sock.setblocking(False)
        if held and _complete(held, self.max_body):
            return self._dispatch(pending)
        self.reading.append(pending)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, pending))

    def _on_readable(self, pending: _Pending, _sock) -> None:
        try:
            data = pending.conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(pending)
            return
        pending.buf += data
        if _complete(pending.buf, self.max_body):
            self._unwatch(pending)
            self._dispatch(pending)

    def _dispatch(self, pending: _Pending) -> None:
        conn = pending.conn
        conn.data_ready = True
        conn.cds_ready = True
        conn.sock.setblocking(True)
        conn.init()  # makes the parser (once per connection)
        conn.parser.unreader.unread(bytes(pending.buf))
        self.busy += 1
        super().enqueue_req(conn)

    def _unwatch(self, pending: _Pending) -> None:
        try:
            self.poller.unregister(pending.conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.reading.remove(pending)
        except ValueError:
            pass

    def _drop(self, pending: _Pending) -> None:
        self._unwatch(pending)
        self.nr_conns -= 1
        pending.conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].deadline <= now:
            pending = self.reading[0]
            if pending.buf:
                try:  # a request begun and not finished in time: say so before closing
                    pending.conn.sock.send(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                           b"Content-Length: 0\r\n\r\n")
                except OSError:
                    pass
            self._drop(pending)

    def on_client_socket_readable(self, conn, client):
        # A kept-alive connection's next request: read it in the poller too.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.enqueue_req(conn)

    # --- accept only while a request thread is free ---------------------------------------
    # gthread accepts whenever it has connections to spare, so a worker busy computing queues new
    # calls while the other worker idles. Here a worker stops accepting while all its threads
    # are busy: the kernel's backlog keeps the connection for the next free worker, as the sync
    # workers' shared accept() did. Connections still being read take no thread and do not count.

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.alive and self.nr_conns < self.worker_connections)
