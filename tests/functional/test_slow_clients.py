"""Issue 17, slow clients: three connections sending a header line every 4 s held both sync
workers, and /healthz stopped answering. Against the real gunicorn service started here
(``cds-service serve``, 2 workers, on 127.0.0.1), slow clients on real sockets must leave it
answering, and a client too slow to finish its request is cut off after request_read_timeout."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import run_service

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READ_TIMEOUT = 4
#: Connections that trickle: more than workers x threads, so every thread would be held.
SLOW_CLIENTS = 12


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    var = tmp_path_factory.mktemp("slow-clients")
    env = {"CDS_AUTH_DISABLED": "true", "CDS_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT), "CDS_LOG_LEVEL": "WARNING",
           "CDS_STORE_PATH": str(var / "store.sqlite3"), "CDS_REPLAY_CACHE_PATH": str(var / "replay.sqlite3")}
    with run_service(env=env, log_path=var / "service.log") as base:
        yield base


class Trickler(threading.Thread):
    """Opens a connection and sends a request head one header line at a time, every ``gap`` s."""

    def __init__(self, base: str, gap: float, lines: int, body: bool = False):
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.gap, self.lines, self.body = gap, lines, body
        self.closed_by_server_after: float | None = None
        self.answer = b""
        self.stop = threading.Event()
        self.connected = threading.Event()

    def run(self):
        sock = socket.create_connection(self.addr, timeout=30)
        started = time.monotonic()
        self.connected.set()
        try:
            if self.body:  # a complete head, then the body a byte at a time
                sock.sendall(b"POST /cds-services/spine-order-sign HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            else:
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            for i in range(self.lines):
                if self.stop.wait(self.gap):
                    break
                sock.sendall(b"{" if self.body else b"X-Slow-%d: 1\r\n" % i)
            # The server closes (or answers 408) once request_read_timeout has passed.
            sock.settimeout(30)
            self.answer = sock.recv(1024)
        except OSError:
            pass
        finally:
            self.closed_by_server_after = time.monotonic() - started
            sock.close()


def _healthz_times(base: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.monotonic()
        resp = requests.get(base + "/healthz", timeout=10)
        assert resp.status_code == 200
        out.append(time.monotonic() - started)
        time.sleep(0.2)
    return out


def test_healthz_and_hook_calls_answer_while_slow_clients_trickle_headers(service):
    slow = [Trickler(service, gap=1.0, lines=60) for _ in range(SLOW_CLIENTS)]
    slow += [Trickler(service, gap=1.0, lines=60, body=True) for _ in range(4)]
    for t in slow:
        t.start()
    for t in slow:
        assert t.connected.wait(10)
    time.sleep(1.5)  # every slow connection has sent part of its request
    try:
        # Generous: each must answer, well before any slow client is cut off (4 s).
        times = _healthz_times(service, 5)
        assert max(times) < 3.0, times
        body = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())
        resp = requests.post(service + "/cds-services/spine-order-select", json=body, timeout=10)
        assert resp.status_code == 200 and resp.json()["cards"]
    finally:
        for t in slow:
            t.join(timeout=READ_TIMEOUT + 15)
    # Every slow client was cut off by the server, after about request_read_timeout, not at 60 s.
    for t in slow:
        assert not t.is_alive()
        assert t.closed_by_server_after is not None and t.closed_by_server_after < READ_TIMEOUT + 10


def test_a_request_sent_in_pieces_within_the_timeout_is_answered(service):
    host, port = service.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for piece in (b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: x\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer.replace(b" ", b"")


def test_keep_alive_connection_serves_several_requests(service):
    with requests.Session() as s:
        for _ in range(5):
            assert s.get(service + "/healthz", timeout=5).status_code == 200
        body = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())
        for _ in range(3):
            assert s.post(service + "/cds-services/spine-order-select", json=body, timeout=10).status_code == 200


def test_body_over_the_limit_is_refused_not_buffered(service):
    resp = requests.post(service + "/cds-services/spine-order-sign", data=b"x" * (11 * 1024 * 1024),
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413
