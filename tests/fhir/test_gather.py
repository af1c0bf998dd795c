"""gather_record over `responses`: prefetch rules, allowlist, failures, 412, budget, logs."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import requests
import responses

from cds_service.errors import PreconditionFailed
from cds_service.fhir import events, gather_record
from cds_service.metrics import NullMetrics
from cds_service.record import DataGap
from cds_service.registry import PrefetchTemplate, ServiceDefinition

from .helpers import (
    BASE,
    HOOK_INSTANCE,
    TOKEN,
    condition,
    full_prefetch,
    hook_request,
    observation,
    outcome,
    patient,
    queries,
    searchset,
    settings,
    spine_service,
)

SERVICE = spine_service()
Q = queries()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def gap_reasons_are_documented(monkeypatch):
    """Every gap any test here produces uses a reason listed in events.GAP_REASONS."""
    real = events.log_gap

    def checked(service_id, hook_instance, key, reason):
        assert reason in events.GAP_REASONS or reason.startswith("http-"), reason
        real(service_id, hook_instance, key, reason)

    monkeypatch.setattr(events, "log_gap", checked)


class _FetchEvents(NullMetrics, list):
    """Metrics that keep every ``fetch`` call, as metrics would see them."""

    def fetch(self, key: str, outcome: str, seconds: float) -> None:
        self.append((key, outcome, seconds))


@pytest.fixture
def fetch_events():
    """Pass as ``gather_record(..., metrics=fetch_events)``; a list of (key, outcome, seconds)."""
    return _FetchEvents()


def serve_all(rsps, patient_id: str = "p-1", **overrides):
    """Register every query of the spine service; ``overrides`` maps key -> responses kwargs (None: leave out)."""
    bodies = full_prefetch(patient_id)
    for key, url in queries(patient_id).items():
        answer = overrides.get(key, {"json": bodies[key]})
        if answer is not None:
            rsps.get(url, **answer)


def ids(models) -> list[str]:
    return sorted(m.id for m in models)


def without(prefetch: dict, *keys: str) -> dict:
    return {k: v for k, v in prefetch.items() if k not in keys}


def test_full_prefetch_makes_no_request(rsps, fetch_events):
    record = gather_record(SERVICE, hook_request(full_prefetch()), settings(), metrics=fetch_events)
    assert len(rsps.calls) == 0
    assert record.patient.id == "p-1" and ids(record.conditions) == ["c-1"] and ids(record.observations) == ["o-1"]
    assert record.gaps == [] and record.skipped_resources == 0
    assert sorted((k, o) for k, o, _ in fetch_events) == sorted((k, "prefetch") for k in Q)


def test_absent_keys_are_fetched_with_the_same_query(rsps, fetch_events):
    serve_all(rsps)
    prefetch = without(full_prefetch(), "conditions", "observations")
    record = gather_record(SERVICE, hook_request(prefetch), settings(), metrics=fetch_events)
    assert sorted(c.request.url for c in rsps.calls) == sorted([Q["conditions"], Q["observations"]])
    assert ids(record.conditions) == ["c-1"] and ids(record.observations) == ["o-1"]
    assert dict((k, o) for k, o, _ in fetch_events)["conditions"] == "fetched"


def test_null_means_no_data_and_is_not_fetched(rsps, fetch_events):
    prefetch = {**full_prefetch(), "conditions": None, "devices": None}
    record = gather_record(SERVICE, hook_request(prefetch), settings(), metrics=fetch_events)
    assert len(rsps.calls) == 0
    assert record.conditions == [] and record.gaps == []  # an essential key may be empty
    assert dict((k, o) for k, o, _ in fetch_events)["conditions"] == "prefetch-null"


@pytest.mark.parametrize("failed", [outcome(), searchset(outcome("fatal")), "not a resource", observation("o-9")])
def test_a_key_the_client_could_not_fill_is_fetched(rsps, failed):
    serve_all(rsps)
    record = gather_record(SERVICE, hook_request({**full_prefetch(), "conditions": failed}), settings())
    assert [c.request.url for c in rsps.calls] == [Q["conditions"]]
    assert ids(record.conditions) == ["c-1"] and record.gaps == []


def test_no_prefetch_fetches_everything_in_one_call(rsps):
    serve_all(rsps)
    record = gather_record(SERVICE, hook_request(), settings())
    assert sorted(c.request.url for c in rsps.calls) == sorted(Q.values())
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in rsps.calls)
    assert record.patient.id == "p-1" and ids(record.conditions) == ["c-1"] and record.gaps == []


def test_an_open_allowed_server_is_read_without_a_token(rsps):
    serve_all(rsps)
    gather_record(SERVICE, hook_request(token=None), settings())
    assert len(rsps.calls) == 6 and all("Authorization" not in c.request.headers for c in rsps.calls)


def test_queries_run_concurrently(rsps):
    # Each answer waits until all six queries are in flight: run one after
    # another, the barrier breaks and every key becomes a gap.
    barrier = threading.Barrier(len(Q), timeout=3)
    bodies = full_prefetch()

    def answer(key):
        def callback(request):
            barrier.wait()
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(bodies[key])

        return callback

    for key, url in Q.items():
        rsps.add_callback(responses.GET, url, callback=answer(key))
    record = gather_record(SERVICE, hook_request(), settings(fhir_budget_seconds=5))
    assert record.gaps == [] and ids(record.conditions) == ["c-1"]


def test_a_server_off_the_allowlist_gets_no_request(rsps, caplog):
    prefetch = without(full_prefetch(), "observations", "reports")
    request = hook_request(prefetch, server="https://evil.test/fhir")
    with caplog.at_level(logging.WARNING):
        record = gather_record(SERVICE, request, settings())
    assert len(rsps.calls) == 0
    assert record.gaps == [DataGap("observations", "not-allowed-server"), DataGap("reports", "not-allowed-server")]
    assert ids(record.conditions) == ["c-1"]  # the prefetch alone is used
    assert "evil.test" not in caplog.text


def test_an_essential_key_off_the_allowlist_is_412(rsps):
    request = hook_request(without(full_prefetch(), "conditions"), server="https://evil.test/fhir")
    with pytest.raises(PreconditionFailed) as info:
        gather_record(SERVICE, request, settings())
    assert len(rsps.calls) == 0
    assert info.value.status == 412 and info.value.errors == {"conditions": "not-allowed-server"}
    assert "conditions" in info.value.message


@pytest.mark.parametrize(
    ("conditions", "reason"),
    [("absent", "not-sent"), (outcome(), "prefetch-operation-outcome"), ("garbage", "invalid-prefetch")],
)
def test_without_a_fhir_server_a_missing_essential_key_is_412(conditions, reason):
    prefetch = without(full_prefetch(), "conditions")
    if conditions != "absent":
        prefetch["conditions"] = conditions
    with pytest.raises(PreconditionFailed) as info:
        gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert info.value.errors == {"conditions": reason}


def test_without_a_fhir_server_missing_optional_keys_are_gaps():
    prefetch = without(full_prefetch(), "devices", "patient")
    record = gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert record.gaps == [DataGap("patient", "not-sent"), DataGap("devices", "not-sent")]
    assert ids(record.conditions) == ["c-1"]


def test_failures_leave_what_was_obtained(rsps, caplog, fetch_events):
    serve_all(
        rsps,
        patient={"status": 404, "json": outcome(code="not-found")},
        observations={"status": 500, "json": outcome()},
        medications={"body": requests.exceptions.ReadTimeout()},
        devices={"body": "<html>oops</html>", "content_type": "text/html"},
        reports={"status": 403, "json": outcome(code="forbidden")},
    )
    with caplog.at_level(logging.WARNING, logger="cds_service.fhir"):
        record = gather_record(SERVICE, hook_request(), settings(), metrics=fetch_events)
    assert ids(record.conditions) == ["c-1"] and record.patient is None
    expected = [
        DataGap("patient", "http-404"),
        DataGap("observations", "http-500"),
        DataGap("medications", "timeout"),
        DataGap("devices", "invalid-json"),
        DataGap("reports", "http-403"),
    ]
    assert record.gaps == expected
    gap_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("FHIR data gap")]
    assert len(gap_lines) == 5
    assert all("p-1" not in line for line in gap_lines)  # the patient id is in every URL, never in a log line
    assert "key=medications reason=timeout" in " ".join(gap_lines)
    assert {k: o for k, o, _ in fetch_events} == {
        "conditions": "fetched", **{g.key: g.reason for g in expected}}


def test_an_essential_key_that_fails_is_412(rsps):
    serve_all(rsps, conditions={"status": 403, "json": outcome(code="forbidden")})
    with pytest.raises(PreconditionFailed) as info:
        gather_record(SERVICE, hook_request(), settings())
    assert info.value.errors == {"conditions": "http-403"}


def test_the_budget_bounds_the_wait(rsps):
    release = threading.Event()

    def slow(request):
        release.wait(5)  # longer than the budget; released when the test ends
        return 200, {}, "{}"

    serve_all(rsps, reports=None)
    rsps.add_callback(responses.GET, Q["reports"], callback=slow)
    try:
        record = gather_record(SERVICE, hook_request(), settings(fhir_budget_seconds=0.3))
    finally:
        release.set()
    assert record.gaps == [DataGap("reports", "budget-exceeded")]
    assert ids(record.conditions) == ["c-1"]


def test_invalid_and_unexpected_resources_are_skipped_and_counted(rsps, caplog):
    bad = {**condition("c-bad"), "onsetDateTime": "last week"}
    serve_all(rsps, conditions={"json": searchset(condition("c-1"), bad, observation("o-x"), condition("c-2"))})
    with caplog.at_level(logging.WARNING, logger="cds_service.fhir"):
        record = gather_record(SERVICE, hook_request(), settings())
    assert ids(record.conditions) == ["c-1", "c-2"] and record.skipped_resources == 2
    assert record.gaps == []
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("FHIR resources skipped")]
    prefix = f"FHIR resources skipped: service={SERVICE.id} hookInstance={HOOK_INSTANCE} key=conditions count=1"
    assert sorted(skipped) == [f"{prefix} why=invalid", f"{prefix} why=unexpected-type"]
    assert "last week" not in caplog.text


def test_another_patients_data_is_dropped(rsps):
    serve_all(rsps, conditions={"json": searchset(condition("c-1"), condition("c-other", patient="p-2"))},
              patient={"json": patient("p-2")})
    record = gather_record(SERVICE, hook_request(), settings())
    assert ids(record.conditions) == ["c-1"] and record.patient is None
    assert record.skipped_resources == 2
    assert DataGap("conditions", "other-patient-data") in record.gaps


def test_included_resources_of_other_types_are_accepted(rsps):
    bundle = searchset(condition("c-1"))
    bundle["entry"].append({"resource": {"resourceType": "Practitioner", "id": "pr-1"}, "search": {"mode": "include"}})
    serve_all(rsps, conditions={"json": bundle})
    record = gather_record(SERVICE, hook_request(), settings())
    assert record.skipped_resources == 0 and record.gaps == []


def test_a_paginated_prefetch_is_read_to_the_end(rsps):
    page2 = f"{BASE}/Condition?patient=p-1&page=2"
    rsps.get(page2, json=searchset(condition("c-2"), condition("c-1")))  # overlap: c-1 again
    prefetch = {**full_prefetch(), "conditions": searchset(condition("c-1"), next_url=page2)}
    record = gather_record(SERVICE, hook_request(prefetch), settings())
    assert [c.request.url for c in rsps.calls] == [page2]
    assert ids(record.conditions) == ["c-1", "c-2"] and record.gaps == []


def test_a_paginated_prefetch_without_server_keeps_the_first_page():
    prefetch = {**full_prefetch(), "conditions": searchset(condition("c-1"), next_url=f"{BASE}/Condition?page=2")}
    record = gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert ids(record.conditions) == ["c-1"] and record.gaps == [DataGap("conditions", "unread-pages")]


def test_a_truncated_search_is_a_gap(rsps):
    serve_all(rsps, conditions={"json": searchset(condition("c-1"), total=700)})
    record = gather_record(SERVICE, hook_request(), settings())
    assert ids(record.conditions) == ["c-1"] and record.gaps == [DataGap("conditions", "truncated")]


def test_unfillable_tokens_are_gaps_and_other_tokens_are_filled(rsps):
    service = ServiceDefinition(
        id="t", hook="order-select", title="t", description="t", usage_requirements=None, order_kinds=("x",),
        prefetch=(
            PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}", True),
            PrefetchTemplate("encounter", "Encounter/{{context.encounterId}}", False),
            PrefetchTemplate("user", "Practitioner/{{userPractitionerId}}", False),
        ),
    )
    rsps.get(f"{BASE}/Condition?patient=p-1", json=searchset(condition("c-1")))
    rsps.get(f"{BASE}/Practitioner/pr-1", json={"resourceType": "Practitioner", "id": "pr-1"})
    record = gather_record(service, hook_request(), settings())
    assert record.gaps == [DataGap("encounter", "unresolved-token")]
    assert len(rsps.calls) == 2


# --- the token never leaks ----------------------------------------------------------

LEAKY_SCENARIOS = {
    "server errors": dict(conditions={"status": 500, "body": f"error for {TOKEN}"}),
    "401 echoing the token": dict(conditions={"status": 401, "json": outcome(code=TOKEN)}),
    "timeouts": dict(conditions={"body": requests.exceptions.ConnectTimeout(f"connect to x with {TOKEN}")}),
    "connection errors": dict(conditions={"body": requests.exceptions.ConnectionError(TOKEN)}),
    "garbage": dict(conditions={"body": f"<html>{TOKEN}</html>"}, observations={"body": "[]"}),
    "wrong patient": dict(conditions={"json": searchset(condition(TOKEN, patient=TOKEN))}),
}


@pytest.mark.parametrize("scenario", sorted(LEAKY_SCENARIOS))
def test_the_token_never_reaches_logs_errors_or_gaps(rsps, caplog, scenario):
    serve_all(rsps, **LEAKY_SCENARIOS[scenario])
    message = ""
    with caplog.at_level(logging.DEBUG):  # every logger, urllib3 included
        try:
            record = gather_record(SERVICE, hook_request(), settings())
            gaps = repr(record.gaps)
        except PreconditionFailed as exc:
            message = f"{exc} {exc.message} {exc.errors} {exc.args} {exc!r}"
            gaps = ""
    assert caplog.records  # something was logged, so the check below means something
    assert TOKEN not in caplog.text
    assert TOKEN not in message and TOKEN not in gaps


def test_an_unusable_token_is_never_sent_or_printed(rsps, caplog):
    bad = "abc\r\nX-Evil: 1"
    request = hook_request(without(full_prefetch(), "devices"), token=bad)
    with caplog.at_level(logging.DEBUG):
        record = gather_record(SERVICE, request, settings())
    assert len(rsps.calls) == 0
    assert record.gaps == [DataGap("devices", "invalid-token")]
    assert "X-Evil" not in caplog.text


def test_a_call_waiting_on_fhir_lets_another_call_compute(rsps):
    # Call A holds its worker's computing slot and waits on slow queries; its answers come only
    # once call B (full prefetch) has finished. Were the slot not given up while A waits, B
    # could not run until A's budget ran out, and A's keys would all be gaps.
    from cds_service import compute

    b_done = threading.Event()
    bodies = full_prefetch()

    def answer(key):
        def callback(request):
            b_done.wait(4)
            return 200, {"Content-Type": "application/fhir+json"}, json.dumps(bodies[key])

        return callback

    for key, url in Q.items():
        rsps.add_callback(responses.GET, url, callback=answer(key))
    got: dict = {}

    def call_a():
        with compute.computing():
            got["a"] = gather_record(SERVICE, hook_request(), settings(fhir_budget_seconds=3))

    a = threading.Thread(target=call_a)
    a.start()
    time.sleep(0.2)  # A is waiting on its queries
    with compute.computing():
        got["b"] = gather_record(SERVICE, hook_request(full_prefetch()), settings())
    b_done.set()
    a.join(10)
    assert got["b"].gaps == [] and got["a"].gaps == [] and ids(got["a"].conditions) == ["c-1"]
