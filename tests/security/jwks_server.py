"""A real HTTP server on 127.0.0.1 serving JWK Sets, with hit counts and failure modes."""

from __future__ import annotations

import json
from collections import Counter

from tests.support.http_server import LocalHttpServer, QuietHandler


class JwksServer:
    """Serves ``documents[path]`` as JSON; ``status[path]`` forces an error status;
    paths in ``hang`` accept the request and never answer (until stop)."""

    def __init__(self):
        self.documents: dict[str, dict] = {}
        self.status: dict[str, int] = {}
        self.hang: set[str] = set()
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(QuietHandler):
            def do_GET(self):
                server.hits[self.path] += 1
                if self.path in server.hang:
                    server._http.stopping.wait(10)
                    return
                status = server.status.get(self.path, 200 if self.path in server.documents else 404)
                body = json.dumps(server.documents.get(self.path, {})).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = LocalHttpServer(Handler)

    @property
    def base(self) -> str:
        return self._http.origin

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

    def start(self) -> JwksServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
