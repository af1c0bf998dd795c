"""A server that trickles its answer: one byte at a time, each well inside a read timeout."""

from __future__ import annotations

import json
import time

from tests.support.http_server import LocalHttpServer, QuietHandler


class TrickleServer:
    """``/body``: headers at once, then the body a byte per ``gap`` s; ``/headers``: the status
    line, then a header line per ``gap`` s. Each stops after ``limit`` s (so a test that fails
    still ends). ``body`` is what is trickled (a JWK Set or a FHIR resource)."""

    def __init__(self, body: dict, gap: float = 0.05, limit: float = 6.0):
        self.gap, self.limit = gap, limit
        payload = json.dumps(body).encode() + b" " * 4000  # long enough to outlast any budget
        server = self

        class Handler(QuietHandler):
            def do_GET(self):
                started = time.monotonic()

                def pause() -> bool:
                    server._http.stopping.wait(server.gap)
                    return time.monotonic() - started < server.limit and not server._http.stopping.is_set()

                try:
                    if self.path.startswith("/headers"):
                        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                        self.wfile.flush()
                        i = 0
                        while pause():
                            self.wfile.write(f"X-Slow-{i}: y\r\n".encode())
                            self.wfile.flush()
                            i += 1
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    for byte in payload:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        if not pause():
                            return
                except OSError:
                    return  # the client hung up: what the deadline should make it do

        self._http = LocalHttpServer(Handler)

    def url(self, path: str) -> str:
        return self._http.origin + path

    @property
    def base(self) -> str:
        return self._http.origin

    def start(self) -> "TrickleServer":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
