"""Bugs the reliability work found, pinned: each was a 500, lost feedback, or openapi.yaml saying
something the service does not do."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from cds_service.security.replay import ReplayCacheError, SQLiteReplayCache
from cds_service.store import StoreError
from cds_service.store.sqlite import SQLiteStore
from tests.store.helpers import issued, outcome
from tests.support import openapi
from tests.support.builders import hook_request, service_request

FEEDBACK = "/cds-services/spine-order-sign/feedback"
SUMMARY = "/cds-services/spine-order-sign/feedback/summary"


def _checked(resp, method: str, path: str):
    openapi.validate_response(method, path, resp.status_code, resp.get_json(), resp.headers["Content-Type"])
    return resp


# --- 500s --------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_outcome_time_with_no_utc_equivalent_is_400_not_500(client, when):
    # Valid RFC 3339, but converted to UTC (as stored) it falls outside years 1-9999.
    body = {"feedback": [{"card": "c-1", "outcome": "overridden", "outcomeTimestamp": when}]}
    resp = _checked(client.post(FEEDBACK, json=body), "POST", FEEDBACK)
    assert resp.status_code == 400 and "outcomeTimestamp" in resp.get_json()["errors"]["feedback"]["0"]


@pytest.mark.parametrize("query,status", [
    ("?to=0001-01-01", 200),  # the default 30 days before it do not exist
    ("?from=0001-01-01&to=0001-01-02", 200),
    ("?from=9999-12-30&to=9999-12-31", 400),  # the day after 'to' does not exist
    ("?to=9999-12-31", 400),
])
def test_summary_ranges_at_the_ends_of_the_calendar_are_answered_not_500(client, query, status):
    assert _checked(client.get(SUMMARY + query), "GET", SUMMARY).status_code == status


@pytest.mark.parametrize("member", ["entry", "link"])
@pytest.mark.parametrize("value", [True, 7])
def test_a_prefetch_bundle_with_a_non_list_entry_or_link_is_read_not_500(client, member, value):
    # `for x in bundle.get(member) or []` raised TypeError on true or a number.
    orders = [service_request(cpt="95886", display="EMG/NCS left lower extremity")]
    body = hook_request("order-sign", orders=orders, prefetch={"conditions": {
        "resourceType": "Bundle", "type": "searchset", member: value}})
    path = "/cds-services/spine-order-sign"
    assert _checked(client.post(path, json=body), "POST", path).status_code == 200


# --- feedback acknowledged into a deleted file ----------------------------------------------


def test_a_store_file_deleted_under_open_connections_is_an_error_and_a_restored_file_is_used(tmp_path):
    path = tmp_path / "store" / "store.sqlite3"
    store = SQLiteStore(path, timeout=0.2)
    try:
        store.record_issued([issued(card_uuid="card-1"), issued(card_uuid="card-2")])  # feedback needs issued cards
        store.record_feedback([outcome("card-1")])
        backup = tmp_path / "backup.sqlite3"
        with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        shutil.rmtree(path.parent)
        # Before: the open connection went on writing to the unlinked file and said "stored".
        with pytest.raises(StoreError):
            store.record_feedback([outcome("card-2")])
        with pytest.raises(StoreError):
            store.ping()
        assert not path.exists()  # not re-created empty either
        path.parent.mkdir()
        shutil.copy(backup, path)  # restored from the backup: used at once
        assert [s.new for s in store.record_feedback([outcome("card-2")])] == [True]
        assert [s.new for s in store.record_feedback([outcome("card-1")])] == [False]
    finally:
        store.close()


def test_a_replay_cache_file_deleted_under_open_connections_fails_closed(tmp_path):
    path = tmp_path / "replay" / "replay.sqlite3"
    cache = SQLiteReplayCache(path, busy_timeout=0.2)
    try:
        assert cache.seen_before("jti-1", "iss", 4_000_000_000) is False
        shutil.rmtree(path.parent)
        with pytest.raises(ReplayCacheError):  # 503, not a replay window
            cache.seen_before("jti-1", "iss", 4_000_000_000)
    finally:
        cache.close()


# --- openapi.yaml vs the validator ----------------------------------------------------------


def _set(body: dict, dotted: str, value) -> dict:
    *parents, leaf = dotted.split(".")
    target = body
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return body


_DELETE = object()
_AUTH = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "cds"}

#: Request bodies both openapi.yaml and the service refuse (the schema used to accept them):
#: (name, hook, dotted field, value, field the 400 names).
REFUSED = [
    ("empty userId", "order-sign", "context.userId", "", "context.userId"),
    ("encounterId not a FHIR id", "order-sign", "context.encounterId", "enc/1", "context.encounterId"),
    ("selections missing", "order-select", "context.selections", _DELETE, "context.selections"),
    ("selection not a reference", "order-select", "context.selections", ["draft-1"], "context.selections"),
    ("token without fhirServer", "order-sign", "fhirAuthorization", _AUTH, "fhirServer"),
    ("empty access_token", "order-sign", "fhirAuthorization", {**_AUTH, "access_token": ""}, "fhirAuthorization"),
    ("patient not a FHIR id", "order-sign", "fhirAuthorization", {**_AUTH, "patient": "p 1"}, "fhirAuthorization"),
    ("fhirServer not http(s)", "order-sign", "fhirServer", "ftp://ehr.example.org/fhir", "fhirServer"),
]


@pytest.mark.parametrize("name,hook,field,value,named", REFUSED, ids=[r[0] for r in REFUSED])
def test_hook_requests_openapi_refuses_the_service_refuses_too(client, name, hook, field, value, named):
    path = "/cds-services/" + {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}[hook]
    body = _set(hook_request(hook), field, value)
    assert openapi.request_errors("POST", path, body), f"openapi.yaml accepts: {name}"
    resp = _checked(client.post(path, json=body), "POST", path)
    assert resp.status_code == 400 and named in resp.get_json()["errors"], resp.get_json()


@pytest.mark.parametrize("field,value", [
    ("context.patientId", "p-1\n"),
    ("context.encounterId", "e-1\n"),
    ("context.selections", ["ServiceRequest/sr-1\n"]),
    ("context.selections", ["https://ehr.example.org/fhir\x1d/ServiceRequest/sr-1"]),
])
def test_ids_and_references_with_a_final_newline_or_control_character_are_refused(client, field, value):
    # Python's `$` matches before a final newline: "p-1\n" passed as a FHIR id, into query URLs.
    body = _set(hook_request("order-select"), field, value)
    resp = _checked(client.post("/cds-services/spine-order-select", json=body), "POST", "/cds-services/spine-order-select")
    assert resp.status_code == 400 and field in resp.get_json()["errors"], resp.get_json()


FEEDBACK_REFUSED = [
    ("empty card", {"card": "", "outcome": "overridden"}),
    ("card over 128", {"card": "c" * 129, "outcome": "overridden"}),
    ("accepted without suggestions", {"card": "c", "outcome": "accepted"}),
    ("accepted with none", {"card": "c", "outcome": "accepted", "acceptedSuggestions": []}),
    ("empty suggestion id", {"card": "c", "outcome": "accepted", "acceptedSuggestions": [{"id": ""}]}),
]


@pytest.mark.parametrize("name,item", FEEDBACK_REFUSED, ids=[r[0] for r in FEEDBACK_REFUSED])
def test_feedback_openapi_refuses_the_service_refuses_too(client, name, item):
    body = {"feedback": [{**item, "outcomeTimestamp": "2026-11-26T10:00:00Z"}]}
    assert openapi.request_errors("POST", FEEDBACK, body), f"openapi.yaml accepts: {name}"
    assert _checked(client.post(FEEDBACK, json=body), "POST", FEEDBACK).status_code == 400


def test_an_integral_expires_in_written_as_a_float_is_accepted(client):
    # JSON Schema (so openapi.yaml) counts 300.0 as an integer; the validator now agrees.
    body = hook_request("order-sign", fhirServer="https://ehr.example.org/fhir",
                        fhirAuthorization={**_AUTH, "expires_in": 300.0})
    assert not openapi.request_errors("POST", "/cds-services/spine-order-sign", body)
    resp = _checked(client.post("/cds-services/spine-order-sign", json=body), "POST", "/cds-services/spine-order-sign")
    assert resp.status_code == 200, resp.get_json()
