"""Issue 17: the JSON depth guard read UTF-8 bytes, but json.loads also took UTF-16/32.

A UTF-16 code unit such as U+0122 has a lone 0x22 byte (a quote to the byte scan), so the
brackets after it looked like string content; the deep draft order then reached code that
recursed past Python's limit and the call ended in a 500. Non-UTF-8 JSON is now refused with
415 before anything is parsed, and a RecursionError is never a 500.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.security.json_depth import is_utf8_json
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
PATH = "/cds-services/spine-order-select"
EXAMPLE = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())


@pytest.fixture(scope="module")
def app_client():
    app = create_app(make_settings())
    app.testing = True
    return app.test_client()


def _deep_order_body(depth: int) -> dict:
    deep: object = 1
    for _ in range(depth):
        deep = {"a": deep}
    body = copy.deepcopy(EXAMPLE)
    body["context"]["draftOrders"]["entry"][0]["resource"]["note"] = [{"text": "x", "extension": [deep]}]
    return body


def _dumps_deep(body: dict) -> str:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        return json.dumps(body)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32", "utf-32-be", "utf-8-sig"])
def test_deep_draft_order_in_another_encoding_is_refused_with_415(app_client, encoding):
    # The quote-bearing code unit first, then 600 levels: the scan saw depth ~1 here before.
    text = '{"x": "\u0122",' + _dumps_deep(_deep_order_body(600))[1:]
    resp = app_client.post(PATH, data=text.encode(encoding), content_type="application/json")
    assert resp.status_code == 415, resp.get_json()
    assert "UTF-8" in resp.get_json()["error"]


def test_charset_other_than_utf8_is_refused_with_415(app_client):
    resp = app_client.post(PATH, data=json.dumps(EXAMPLE).encode("latin-1"),
                           content_type="application/json; charset=iso-8859-1")
    assert resp.status_code == 415


def test_utf8_body_with_explicit_charset_is_accepted(app_client):
    resp = app_client.post(PATH, data=json.dumps(EXAMPLE).encode(), content_type="application/json; charset=UTF-8")
    assert resp.status_code == 200


def test_deep_draft_order_never_gives_500_even_with_a_high_depth_limit():
    # 250 levels pass json.loads and the scan (limit 256) and go on into the pipeline.
    app = create_app(make_settings(json_max_depth=256))
    app.testing = True
    resp = app.test_client().post(PATH, data=_dumps_deep(_deep_order_body(250)), content_type="application/json")
    assert resp.status_code in (200, 400), resp.get_json()


def test_depth_limit_above_256_is_refused_at_start_up():
    from cds_service.settings import SettingsError

    with pytest.raises(SettingsError, match="json_max_depth"):
        create_app(make_settings(json_max_depth=5000))


@pytest.mark.parametrize("body, ok", [
    (b'{"a": 1}', True), (b' \n[1]', True), (b'"\xc3\xa9"', True),
    ('{"a": 1}'.encode("utf-16-le"), False), ('{"a": 1}'.encode("utf-16"), False),
    ('{"a": 1}'.encode("utf-32-be"), False), (b"\xef\xbb\xbf{}", False),
])
def test_is_utf8_json(body, ok):
    assert is_utf8_json(body) is ok
