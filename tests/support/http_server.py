"""A real HTTP server on 127.0.0.1 in a daemon thread: the base of the test stand-ins
for the servers the service calls (JWK Set endpoints, a faulty FHIR server)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class LocalHttpServer:
    """Serves ``handler`` on a free port; ``stopping`` is set by ``stop()``, so a handler
    that stalls on purpose waits on it and no thread outlives the server."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
