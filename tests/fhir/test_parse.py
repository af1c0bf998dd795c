"""Bundle helpers, and full R4B validation (for what the service emits and tests): one resource at a time, never fatal."""

from __future__ import annotations

import pytest

from cds_service.fhir.parse import InvalidResource, entries, next_link, parse_resource, truncated

from .helpers import condition, observation, outcome, patient, searchset

#: Odd but legal R4: primitive extensions, contained resources, choice types,
#: modifier extensions, absolute references.
ODD_BUT_LEGAL = [
    {
        "resourceType": "Patient",
        "id": "p-1",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                      "valueCode": "unknown"}]},
        "name": [{"text": "Anon"}],
    },
    {
        "resourceType": "Condition",
        "id": "c-odd",
        "contained": [{"resourceType": "Practitioner", "id": "pr"}],
        "asserter": {"reference": "#pr"},
        "code": {"text": "Sciatica, left"},
        "subject": {"reference": "https://ehr.example.org/fhir/r4/Patient/p-1"},
        "onsetAge": {"value": 52, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
        "modifierExtension": [{"url": "http://example.org/x", "valueBoolean": False}],
    },
    {
        "resourceType": "Observation",
        "id": "o-odd",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "subject": {"reference": "Patient/p-1/_history/3"},
        "valueQuantity": {"value": 36.9, "unit": "Cel"},
        "component": [{"code": {"text": "site"}, "valueString": "oral"}],
    },
]


@pytest.mark.parametrize("raw", ODD_BUT_LEGAL, ids=lambda r: r["id"])
def test_odd_but_legal_resources_parse(raw):
    model = parse_resource(raw)
    assert model.get_resource_type() == raw["resourceType"] and model.id == raw["id"]


@pytest.mark.parametrize(
    "raw",
    [
        {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"}, "bogusField": "Jane Secretname"},
        {"resourceType": "Observation", "id": "o", "code": {"text": "x"}},  # status is required
        {"resourceType": "Patient", "birthDate": "Jane Secretname"},
        {"resourceType": "NotAType", "id": "x"},
        # fhir_core raises KeyError, not a ValidationError, for a contained resource of an unknown type.
        {"resourceType": "Condition", "subject": {"reference": "Patient/p-1"},
         "contained": [{"resourceType": "Secretname", "id": "x"}]},
        {"id": "no-type"},
        "Jane Secretname",
    ],
)
def test_invalid_resources_raise_without_content(raw):
    with pytest.raises(InvalidResource) as info:
        parse_resource(raw)
    assert "Secretname" not in str(info.value)
    # A traceback shows no pydantic error (which quotes the input values).
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_entries_of_a_bundle_and_of_a_resource():
    bundle = searchset(condition("c-1"), observation("o-1"))
    bundle["entry"].append({"resource": outcome("warning"), "search": {"mode": "outcome"}})
    bundle["entry"].append({"fullUrl": "urn:uuid:no-resource"})
    bundle["entry"].append("not an entry")
    found = list(entries(bundle))
    assert [(e.resource["id"] if "id" in e.resource else e.resource["resourceType"], e.mode) for e in found] == [
        ("c-1", "match"), ("o-1", "match"), ("OperationOutcome", "outcome")]
    assert [e.resource for e in entries(patient())] == [patient()]
    assert list(entries({"resourceType": "Bundle", "entry": "nope"})) == []
    assert list(entries(None)) == []


def test_next_link():
    assert next_link(searchset(next_url="https://x/fhir?page=2")) == "https://x/fhir?page=2"
    assert next_link(searchset()) is None
    assert next_link({"resourceType": "Bundle", "link": [{"relation": "self", "url": "u"}, "junk"]}) is None
    assert next_link(patient()) is None


def test_truncated():
    assert truncated([searchset(condition("c-1"), total=3)])
    assert not truncated([searchset(condition("c-1"), total=1)])
    assert not truncated([searchset(condition("c-1"))])  # no total: cannot tell
    assert not truncated([searchset(condition("c-1"), total=3, next_url="https://x/fhir?p=2")])
    with_include = searchset(condition("c-1"), total=1)
    with_include["entry"].append({"resource": patient(), "search": {"mode": "include"}})
    assert not truncated([with_include])
    assert truncated([searchset(condition("c-1"), total=3, next_url="u"), searchset(condition("c-2"))])
    assert not truncated([patient()])
