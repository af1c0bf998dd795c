"""WSGI middleware: a request body of declared length is read in one piece before the app sees it.

werkzeug reads ``wsgi.input`` in 64 kB pieces; gunicorn's reader copies all it still holds on
every read, so a body the worker buffered whole (``ops/worker.py``) costs time quadratic in its
size: gunicorn's body reader gave 4 MiB in 64 kB pieces in ~28 ms of CPU, in one read in ~2 ms.
Bodies over the limit, without a length or chunked are left to werkzeug, which refuses or
streams them as before.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable


class WholeBody:
    def __init__(self, app: Callable, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        declared = environ.get("CONTENT_LENGTH") or ""
        length = int(declared) if declared.isdigit() else 0
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        if 0 < length <= self.max_bytes and not chunked:
            # A short body (the client went away) stays short: werkzeug's length check sees it.
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        return self.app(environ, start_response)
