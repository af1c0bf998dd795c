"""The request body is read from the server in one piece (ops/whole_body.py)."""

from __future__ import annotations

import io

from cds_service.ops.whole_body import WholeBody


class CountingInput(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def _call(app, body: bytes, **headers):
    stream = CountingInput(body)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)), "wsgi.input": stream, **headers}
    seen = {}

    def inner(env, start_response):
        seen["body"] = env["wsgi.input"].read()
        return [b""]

    app_ = app(inner)
    app_(environ, lambda *a: None)
    return stream, seen["body"]


def test_a_body_within_the_limit_is_read_once_whole():
    body = b'{"a": "' + b"x" * 300_000 + b'"}'
    stream, seen = _call(lambda inner: WholeBody(inner, 1_000_000), body)
    assert seen == body
    assert stream.sizes == [len(body)]  # one read of the declared length, not werkzeug's 8 kB pieces


def test_a_body_over_the_limit_or_chunked_is_left_to_the_app():
    body = b"y" * 5000
    stream, seen = _call(lambda inner: WholeBody(inner, 4999), body)
    assert seen == body and stream.sizes == [-1]  # the app read it itself (werkzeug refuses it: 413)
    stream, _ = _call(lambda inner: WholeBody(inner, 10_000), body, HTTP_TRANSFER_ENCODING="chunked")
    assert stream.sizes == [-1]
