"""A real HTTP server on 127.0.0.1 serving JWK Sets, with hit counts and failure modes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JwksServer:
    """Serves ``documents[path]`` as JSON; ``status[path]`` forces an error status;
    paths in ``hang`` accept the request and never answer (until stop)."""

    def __init__(self):
        self.documents: dict[str, dict] = {}
        self.status: dict[str, int] = {}
        self.hang: set[str] = set()
        self.hits: Counter[str] = Counter()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] += 1
                if self.path in server.hang:
                    server._release.wait(10)
                    return
                status = server.status.get(self.path, 200 if self.path in server.documents else 404)
                body = json.dumps(server.documents.get(self.path, {})).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def publish(self, path: str, *jwks: dict) -> str:
        self.documents[path] = {"keys": list(jwks)}
        self.status.pop(path, None)
        return self.url(path)

    def reset(self) -> None:
        self.documents.clear()
        self.status.clear()
        self.hang.clear()
        self.hits.clear()

    def start(self) -> "JwksServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
