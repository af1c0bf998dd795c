"""Prefetch templates: token filling and what the client's prefetch value means (pure)."""

from __future__ import annotations

import pytest

from cds_service.fhir.prefetch import (
    PrefetchState,
    UnresolvedToken,
    classify,
    plan,
    query_resource_type,
    render_query,
)
from cds_service.registry import PrefetchTemplate

from .helpers import condition, outcome, patient, searchset

CONTEXT = {
    "userId": "Practitioner/pr-9",
    "patientId": "p-1",
    "encounterId": "enc-7",
    "draftOrders": {"resourceType": "Bundle"},
    "flag": True,
    "count": 3,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Patient/{{context.patientId}}", "Patient/p-1"),
        ("Condition?patient={{context.patientId}}&_count=500", "Condition?patient=p-1&_count=500"),
        ("Encounter/{{context.encounterId}}", "Encounter/enc-7"),
        ("{{context.userId}}", "Practitioner/pr-9"),
        ("Practitioner/{{userPractitionerId}}", "Practitioner/pr-9"),
        ("PractitionerRole?practitioner={{ userPractitionerId }}", "PractitionerRole?practitioner=pr-9"),
        ("Observation?patient={{context.patientId}}&encounter={{context.encounterId}}",
         "Observation?patient=p-1&encounter=enc-7"),
        ("Flag?active={{context.flag}}&n={{context.count}}", "Flag?active=true&n=3"),
        ("/Condition?patient={{context.patientId}}", "Condition?patient=p-1"),
    ],
)
def test_render_fills_tokens(template, expected):
    assert render_query(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "Encounter/{{context.missing}}",
        "Bundle/{{context.draftOrders}}",  # not a primitive
        "Bundle/{{context.draftOrders.id}}",  # not root level
        "PractitionerRole/{{userPractitionerRoleId}}",  # userId is a Practitioner
        "Patient/{{userPatientId}}",
        "X/{{unknownToken}}",
    ],
)
def test_render_refuses_tokens_without_a_value(template):
    with pytest.raises(UnresolvedToken) as info:
        render_query(template, CONTEXT)
    assert "p-1" not in str(info.value)


def test_user_tokens_follow_the_user_type():
    ctx = {"userId": "https://ehr.example.org/fhir/PractitionerRole/role-1"}
    assert render_query("PractitionerRole?_id={{userPractitionerRoleId}}", ctx) == "PractitionerRole?_id=role-1"
    with pytest.raises(UnresolvedToken):
        render_query("Practitioner/{{userPractitionerId}}", ctx)


@pytest.mark.parametrize(
    ("patient_id", "expected"),
    [
        ("a&b=c", "Condition?patient=a%26b%3Dc"),  # cannot add a query parameter
        ("../../admin", "Condition?patient=..%2F..%2Fadmin"),  # cannot leave the resource path
        ("x y#z", "Condition?patient=x%20y%23z"),
        (" p-1 ", "Condition?patient=p-1"),
    ],
)
def test_token_values_are_url_encoded(patient_id, expected):
    assert render_query("Condition?patient={{context.patientId}}", {"patientId": patient_id}) == expected


@pytest.mark.parametrize("patient_id", ["..", ".", "", "   "])
def test_dot_and_empty_ids_are_refused(patient_id):
    with pytest.raises(UnresolvedToken):
        render_query("Patient/{{context.patientId}}", {"patientId": patient_id})


def test_query_resource_type():
    assert query_resource_type("Condition?patient=1") == "Condition"
    assert query_resource_type("Patient/1") == "Patient"
    assert query_resource_type("metadata") is None


@pytest.mark.parametrize(
    ("value", "state"),
    [
        (patient(), PrefetchState.DATA),
        (searchset(condition("c-1")), PrefetchState.DATA),
        (searchset(), PrefetchState.DATA),
        (None, PrefetchState.NO_DATA),
        (outcome(), PrefetchState.OUTCOME),
        ({"resourceType": "OperationOutcome"}, PrefetchState.OUTCOME),
        (searchset(outcome()), PrefetchState.OUTCOME),
        ("123", PrefetchState.INVALID),
        ({"id": "no-type"}, PrefetchState.INVALID),
        ([], PrefetchState.INVALID),
    ],
)
def test_classify(value, state):
    assert classify({"k": value}, "k") is state


def test_classify_absent_and_no_prefetch():
    assert classify({}, "k") is PrefetchState.ABSENT
    assert classify(None, "k") is PrefetchState.ABSENT


def test_a_warning_outcome_in_a_searchset_keeps_the_data():
    assert classify({"k": searchset(condition("c-1"), outcome("warning"))}, "k") is PrefetchState.DATA


def test_a_single_resource_of_another_type_is_invalid():
    assert classify({"k": condition("c-1")}, "k", expected_type="Patient") is PrefetchState.INVALID
    assert classify({"k": patient()}, "k", expected_type="Patient") is PrefetchState.DATA


def test_plan_per_key():
    templates = [
        PrefetchTemplate("patient", "Patient/{{context.patientId}}", False),
        PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}", True),
        PrefetchTemplate("encounter", "Encounter/{{context.encounterId}}", False),
        PrefetchTemplate("devices", "Device?patient={{context.patientId}}", False),
    ]
    request = {"context": {"patientId": "p-1"}, "prefetch": {"patient": patient(), "devices": None}}
    plans = {p.key: p for p in plan(templates, request)}
    assert plans["patient"].state is PrefetchState.DATA and not plans["patient"].must_fetch
    assert plans["patient"].value["id"] == "p-1"
    assert plans["conditions"].must_fetch and plans["conditions"].query == "Condition?patient=p-1"
    assert plans["conditions"].essential and plans["conditions"].resource_type == "Condition"
    assert plans["encounter"].query is None  # no encounterId in the context
    assert plans["devices"].state is PrefetchState.NO_DATA and not plans["devices"].must_fetch
