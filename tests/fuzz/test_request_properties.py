"""The request validator and the hook-call path on arbitrary input: only the documented answers.

Any JSON (or bytes) posted to a hook or feedback endpoint gets 200, 400 or 412
(hooks; 415 for bytes that are not UTF-8 JSON) / 200 or 400 (feedback), valid against openapi.yaml, never a 500. And
the scenarios' valid requests with parts replaced by arbitrary JSON, run
through ``pipeline.call_service`` (validation, orders, record gathering,
reading, rules, cards), give a valid card response or a documented error
(InvalidRequest 400, PreconditionFailed 412), never another exception.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.app import create_app
from cds_service.errors import InvalidRequest, PreconditionFailed
from cds_service.pipeline import call_service
from cds_service.protocol import CardResponseSchema
from tests.fuzz.strategies import JSON, NASTY_STRINGS, budget
from tests.scenarios.build import build
from tests.scenarios.test_scenarios import SCENARIOS
from tests.support import openapi

HOOKS = {"order-select": "/cds-services/spine-order-select", "order-sign": "/cds-services/spine-order-sign"}
FEEDBACK = "/cds-services/spine-order-sign/feedback"
SUMMARY = "/cds-services/spine-order-sign/feedback/summary"
NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("fuzz-requests")
    app = create_app(make_settings(store_path=tmp / "store.sqlite3", replay_cache_path=tmp / "replay.sqlite3",
                                   log_level="ERROR"))
    app.testing = True
    yield app
    app.extensions["cds_ops"].store.close()


def _answered(resp, method: str, path: str, allowed: set[int]) -> None:
    assert resp.status_code in allowed, (resp.status_code, resp.get_data(as_text=True)[:500])
    openapi.validate_response(method, path, resp.status_code, resp.get_json(), resp.headers["Content-Type"])


# --- over HTTP: any body, any query ------------------------------------------------------

#: A body that looks like a call, with any value in any field (the validator's real work).
CALL_SHAPED = st.fixed_dictionaries(
    {},
    optional={"hook": st.sampled_from(list(HOOKS)) | JSON, "hookInstance": st.uuids().map(str) | JSON,
              "fhirServer": st.sampled_from(["https://ehr.example.org/fhir", "http://127.0.0.1:9/fhir"]) | JSON,
              "fhirAuthorization": JSON,
              "context": st.fixed_dictionaries({}, optional={
                  "userId": JSON, "patientId": st.sampled_from(["p-1", "p 1", "p-1\n"]) | JSON, "encounterId": JSON,
                  "selections": JSON, "draftOrders": JSON}) | JSON,
              "prefetch": st.dictionaries(st.sampled_from(["patient", "conditions", "reports", "x"]), JSON) | JSON},
)


@budget(150)
@given(body=CALL_SHAPED | JSON, hook=st.sampled_from(list(HOOKS)))
def test_any_json_posted_to_a_hook_gets_a_documented_answer(app, body, hook):
    resp = app.test_client().post(HOOKS[hook], data=json.dumps(body), content_type="application/json")
    _answered(resp, "POST", HOOKS[hook], {200, 400, 412})


@budget(60)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), hook=st.sampled_from(list(HOOKS)))
def test_any_bytes_posted_to_a_hook_get_a_documented_answer(app, raw, hook):
    resp = app.test_client().post(HOOKS[hook], data=raw, content_type="application/json")
    # 415: bytes that are not UTF-8 JSON text (a NUL in the first four bytes reads as UTF-16/32).
    _answered(resp, "POST", HOOKS[hook], {200, 400, 412, 415})


FEEDBACK_SHAPED = st.fixed_dictionaries({"feedback": st.lists(st.fixed_dictionaries({}, optional={
    "card": st.uuids().map(str) | JSON, "outcome": st.sampled_from(["accepted", "overridden"]) | JSON,
    "outcomeTimestamp": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | NASTY_STRINGS | JSON,
    "acceptedSuggestions": st.lists(st.fixed_dictionaries({"id": JSON})) | JSON,
    "overrideReason": st.fixed_dictionaries({}, optional={"reason": JSON, "userComment": JSON}) | JSON,
}) | JSON, max_size=4) | JSON})


@budget(150)
@given(body=FEEDBACK_SHAPED | JSON)
def test_any_feedback_gets_200_or_400(app, body):
    resp = app.test_client().post(FEEDBACK, data=json.dumps(body), content_type="application/json")
    _answered(resp, "POST", FEEDBACK, {200, 400})


# What a URL can carry (a lone surrogate cannot be encoded, by the test client or any other).
_DAY = (st.dates().map(str) | NASTY_STRINGS.filter(lambda t: "\ud800" not in t)
        | st.text(st.characters(exclude_categories=["Cs"]), max_size=12))


@budget(80)
@given(start=_DAY, end=_DAY)
def test_any_summary_range_gets_200_or_400(app, start, end):
    resp = app.test_client().get(SUMMARY, query_string={"from": start, "to": end})
    _answered(resp, "GET", SUMMARY, {200, 400})


# --- in process: valid calls with parts replaced ---------------------------------------------


def _slots(node, path=()):
    """Every (path) to a value inside ``node``."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield path + (key,)
        yield from _slots(value, path + (key,))


@st.composite
def mutated_calls(draw):
    scenario = draw(st.sampled_from(SCENARIOS))
    # A copy: build() puts the scenario's raw resources into the body as they are.
    body = build(copy.deepcopy(scenario), patient_id=draw(st.sampled_from(["p-1", "pt-fuzz.2"])))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(sorted(_slots(body), key=repr)))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON | NASTY_STRINGS)
    return scenario.get("hook", "order-sign"), body


@budget(200)
@given(call=mutated_calls())
def test_a_valid_call_with_any_part_replaced_gives_cards_or_a_documented_error(app, call):
    hook, body = call
    engine = app.extensions["cds_engine"]
    service = engine.registry.get(HOOKS[hook].rsplit("/", 1)[1])
    try:
        response = call_service(engine, service, copy.deepcopy(body), now=NOW)
    except (InvalidRequest, PreconditionFailed):
        return
    assert CardResponseSchema().validate(response) == {}
    openapi.validate_response("POST", HOOKS[hook], 200, json.loads(json.dumps(response)), "application/json")
