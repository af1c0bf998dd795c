"""Security headers on every response; JSON nesting limit before parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.security.headers import STRICT_CSP
from cds_service.security.json_depth import exceeds_depth, max_depth_of
from tests.fuzz.strategies import JSON, budget
from tests.security.conftest import FEEDBACK_PATH, ISS, SERVICE_PATH
from tests.security.keys import claims

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def assert_base_headers(resp):
    for name, value in ALWAYS.items():
        assert resp.headers.get(name) == value, name


def bearer(key, path=SERVICE_PATH):
    return {"Authorization": f"Bearer {key.sign(claims(ISS, 'http://localhost' + path))}"}


def test_hook_response_headers(client, es_key):
    resp = client.post(SERVICE_PATH, json={}, headers=bearer(es_key))
    assert resp.status_code == 200
    assert_base_headers(resp)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"] == STRICT_CSP


def test_feedback_response_is_no_store(client, es_key):
    resp = client.post(FEEDBACK_PATH, json={}, headers=bearer(es_key, FEEDBACK_PATH))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"


def test_refusal_has_the_headers_too(client):
    resp = client.post(SERVICE_PATH, json={})
    assert resp.status_code == 401
    assert_base_headers(resp)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"] == STRICT_CSP


def test_discovery_and_not_found_get_headers_but_no_forced_no_store(client):
    for resp in (client.get("/cds-services"), client.get("/nope")):
        assert_base_headers(resp)
        assert resp.headers["Content-Security-Policy"] == STRICT_CSP
        assert resp.headers.get("Cache-Control") != "no-store"


def test_page_with_its_own_csp_keeps_it(client):
    resp = client.get("/console")
    assert_base_headers(resp)
    assert resp.headers["Content-Security-Policy"] == "default-src 'self'"


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_body_at_the_depth_limit_is_parsed(make_client, es_key):
    client = make_client(json_max_depth=64)
    resp = client.post(SERVICE_PATH, data=nested(64), content_type="application/json", headers=bearer(es_key))
    assert resp.status_code == 200 and resp.get_json()["depthOk"] is True


def test_body_over_the_depth_limit_is_refused_with_400(make_client, es_key):
    client = make_client(json_max_depth=64)
    resp = client.post(SERVICE_PATH, data=nested(65), content_type="application/json", headers=bearer(es_key))
    assert resp.status_code == 400
    assert "nested deeper than 64" in resp.get_json()["error"]


def test_very_deep_body_is_refused_before_the_parser_would_recurse(client, es_key):
    # json.loads would raise RecursionError on this; the scan refuses it first.
    resp = client.post(
        SERVICE_PATH, data=b"[" * 200_000 + b"]" * 200_000, content_type="application/fhir+json",
        headers=bearer(es_key),
    )
    assert resp.status_code == 400
    assert "nested deeper" in resp.get_json()["error"]


def test_depth_limit_checked_after_authentication(client):
    resp = client.post(SERVICE_PATH, data=nested(100), content_type="application/json")
    assert resp.status_code == 401


@pytest.mark.parametrize(
    "body, depth",
    [
        (b"1", 0),
        (b"{}", 1),
        (b'[[], [[]], {"a": [{}]}]', 4),
        (b'{"a": "[[[[{{{{"}', 1),  # brackets inside strings do not count
        (rb'{"a": "\"[[[", "b": "\\"}', 1),  # escaped quote, then an escaped backslash
        (rb'["\\\\", [[]]]', 3),
        (b'"unterminated [[[[', 0),
    ],
)
def test_depth_scan(body, depth):
    assert max_depth_of(body) == depth


def test_depth_scan_linear_on_adversarial_strings():
    # Many quotes with escapes and no end: a backtracking scan would take hours here.
    assert not exceeds_depth(b'"' + b'\\"[' * 500_000, 1)
    assert not exceeds_depth(b'"\\"' * 300_000 + b"\\", 1)


# --- the scan against the truth, on any JSON ----------------------------------------------

#: Strings full of what the scan must see through: quotes, backslashes, brackets.
_TRICKY = st.text(alphabet='"\\[]{}/ab\u00e9\u2028', max_size=12)
_NESTED = st.recursive(
    JSON | _TRICKY,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TRICKY, children, max_size=3),
    max_leaves=20,
)


def _true_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_true_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_true_depth(v) for v in value), default=0)
    return 0


@budget(400)
@given(_NESTED, st.booleans(), st.sampled_from([None, 0, 2]))
def test_depth_scan_equals_the_true_depth_of_any_json(value, ascii_only, indent):
    # surrogatepass: a lone surrogate in a string is legal for json.dumps, not for plain UTF-8
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode("utf-8", "surrogatepass")
    assert max_depth_of(body) == _true_depth(value)


@budget(300)
@given(st.binary(max_size=200) | st.text(alphabet='"\\[]{}, 1', max_size=60).map(str.encode))
def test_depth_scan_takes_any_bytes_and_is_exact_on_those_that_parse(body):
    depth = max_depth_of(body)  # never raises, whatever the bytes
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return
    assert depth == _true_depth(value)
