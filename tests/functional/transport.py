"""Send the same HTTP request through the Flask test client or to live gunicorn.

Status-code tests run on both, so what the tests see is what an EHR sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    text: str


class FlaskTransport:
    name = "flask"

    def __init__(self, client):
        self.client = client

    def send(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
             content_type: str | None = None, headers: dict | None = None) -> Reply:
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body)
            kwargs["content_type"] = content_type or "application/json"
        elif data is not None:
            kwargs["data"] = data
            if content_type:
                kwargs["content_type"] = content_type
        resp = self.client.open(path, method=method, **kwargs)
        text = resp.get_data(as_text=True)
        return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, _json(text), text)


class LiveTransport:
    name = "gunicorn"

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def send(self, method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
             content_type: str | None = None, headers: dict | None = None) -> Reply:
        headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body)
            content_type = content_type or "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        resp = self.session.request(method, self.base + path, data=data, headers=headers, timeout=10)
        return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, _json(resp.text), resp.text)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
