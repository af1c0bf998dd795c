"""The record's one FHIR reader (cds_service/fhir/reader.py): what it checks, explicitly, and what it gives.

The checks R4B validation used to do for the service's safety are here on their own: an
invalid resource is dropped and counted without losing the others, a non-FHIR id or a
reference that names no patient is refused (so the other-patient check knows whose each
resource is), and dates read as the R4B models' values read.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
import yaml

from cds_service.fhir import gather_record
from cds_service.fhir.parse import entries, parse_resource
from cds_service.fhir.reader import STRUCTS, InvalidResource, UnknownPatient, owner, read_resource
from cds_service.reading.dates import parse_date
from cds_service.record import RECORD_TYPES, DataGap
from cds_service.settings import PROJECT_ROOT
from tests.scenarios.build import build

from .helpers import condition, hook_request, observation, patient, searchset, settings, spine_service

SERVICE = spine_service()
SUBJECT = {"reference": "Patient/p-1"}


def _cond(**elements):
    return {"resourceType": "Condition", "id": "c-x", "subject": SUBJECT, **elements}


def _obs(**elements):
    return {"resourceType": "Observation", "id": "o-x", "status": "final", "code": {"text": "exam"},
            "subject": SUBJECT, **elements}


def _report(**elements):
    return {"resourceType": "DiagnosticReport", "id": "r-x", "status": "final", "code": {"text": "MRI L-spine"},
            "subject": SUBJECT, **elements}


# --- invalid resources: dropped, never the others ------------------------------------------------

INVALID = {
    "no resourceType": {"id": "x", "subject": SUBJECT},
    "resourceType not a string": {"resourceType": 5, "id": "x"},
    "a type the record does not read": {"resourceType": "Practitioner", "id": "x"},
    "not a FHIR type": {"resourceType": "Secretname", "id": "x"},
    "not an object": "Jane Secretname",
    "id with a space": _cond(id="Jane Secretname"),
    "id too long": _cond(id="x" * 65),
    "id with a final newline": _cond(id="c-1\n"),
    "date with a final newline": _cond(recordedDate="2024-05-01\n"),
    "id a number": _cond(id=5),
    "code.text a number": _cond(code={"text": 5}),
    "coding not a list": _cond(code={"coding": {"code": "M54.16"}}),
    "a null coding": _cond(code={"coding": [None]}),
    "coding.code a list": _cond(code={"coding": [{"code": ["M54.16"]}]}),
    "note without text": _cond(note=[{"authorString": "Dr Secretname"}]),
    "subject a string": _cond(subject="Patient/p-1"),
    "Condition without subject": {"resourceType": "Condition", "id": "c-x"},
    "reference a number": _cond(subject={"reference": 5}),
    "onset not a date": _cond(onsetDateTime="last week, Jane Secretname"),
    "onset a number": _cond(onsetDateTime=20240501),
    "month 13": _cond(onsetDateTime="2024-13-01"),
    "30 February": _cond(onsetDateTime="2023-02-30"),
    "time without zone": _cond(onsetDateTime="2024-05-01T10:00:00"),
    "recordedDate with a space": _cond(recordedDate=" 2024-05-01"),
    "period start not a date": _cond(onsetPeriod={"start": "soon"}),
    "onsetAge value a string of words": _cond(onsetAge={"value": "fifty", "code": "a"}),
    "Observation without status": {**_obs(), "status": None},
    "Observation without code": {k: v for k, v in _obs().items() if k != "code"},
    "valueBoolean a string": _obs(valueBoolean="true"),
    "valueQuantity.value a bool": _obs(valueQuantity={"value": True}),
    "valueQuantity.value infinite": _obs(valueQuantity={"value": float("inf")}),
    "issued a date only (an instant needs a time)": _obs(issued="2024-05-01"),
    "interpretation not a list": _obs(interpretation={"text": "high"}),
    "conclusion a number": _report(conclusion=5),
    "attachment data not base64": _report(presentedForm=[{"contentType": "text/plain", "data": "aGVsbG8"}]),
    "deviceName without name": {"resourceType": "Device", "id": "d", "deviceName": [{"type": "user-friendly-name"}]},
    "MedicationRequest status a number": {"resourceType": "MedicationRequest", "id": "m", "status": 1,
                                          "subject": SUBJECT},
    "birthDate with a time": {"resourceType": "Patient", "id": "p-1", "birthDate": "1970-05-20T00:00:00Z"},
}


@pytest.mark.parametrize("raw", INVALID.values(), ids=INVALID.keys())
def test_invalid_resources_are_refused_without_content(raw):
    with pytest.raises(InvalidResource) as info:
        read_resource(raw)
    assert "Secretname" not in str(info.value) and "last week" not in str(info.value)
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_an_invalid_resource_is_dropped_and_counted_without_losing_the_others():
    bad = [r for r in INVALID.values() if isinstance(r, dict) and r.get("resourceType") == "Condition"]
    bundle = searchset(condition("c-1"), *bad, condition("c-2"))
    prefetch = {"conditions": bundle, "observations": searchset(observation("o-1"), _obs(valueBoolean="yes")),
                "patient": patient(), "medications": None, "devices": None, "reports": None}
    record = gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert [c.id for c in record.conditions] == ["c-1", "c-2"]
    assert [o.id for o in record.observations] == ["o-1"]
    assert record.skipped_resources == len(bad) + 1 and record.gaps == []


def test_missing_resource_type_in_a_bundle_is_counted():
    bundle = searchset(condition("c-1"))
    bundle["entry"].append({"resource": {"id": "x"}})
    prefetch = {"conditions": bundle, "patient": None, "observations": None, "medications": None, "devices": None,
                "reports": None}
    record = gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert [c.id for c in record.conditions] == ["c-1"] and record.skipped_resources == 1


# --- whose it is -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "who"),
    [
        (condition("c-1", patient="p-9"), "p-9"),
        (_cond(subject={"reference": "https://ehr/fhir/Patient/p-2"}), "p-2"),
        (_obs(subject={"reference": "Patient/p-3/_history/2"}), "p-3"),
        ({"resourceType": "Device", "patient": {"reference": "Patient/p-4"}}, "p-4"),
        (_obs(subject=None), None),  # Observation.subject is 0..1: it does not say
        ({"resourceType": "Device", "id": "d"}, None),
        (patient("p-5"), "p-5"),
        ({"resourceType": "Patient"}, None),
    ],
)
def test_owner(raw, who):
    assert owner(read_resource(raw)) == who


@pytest.mark.parametrize("ref", [{"reference": "Group/g-1"}, {"identifier": {"value": "123"}}, {"display": "Jane"},
                                 {"reference": "Patient/Jane Secretname"}, {"reference": "Patient/"},
                                 {"reference": "urn:uuid:9d0f1f0e-1111-2222-3333-444455556666"}])
def test_a_reference_naming_no_patient_is_refused(ref):
    for raw in (_cond(subject=ref), _obs(subject=ref), {"resourceType": "Device", "patient": ref}):
        with pytest.raises(UnknownPatient):
            owner(read_resource(raw))


def test_unknown_and_other_patients_are_refused_by_gathering():
    conditions = searchset(condition("c-1"), condition("c-other", patient="p-2"),
                           _cond(id="c-group", subject={"reference": "Group/g-1"}),
                           _cond(id="c-ident", subject={"identifier": {"value": "p-1"}}))
    prefetch = {"conditions": conditions, "patient": patient("p-2"), "observations": None, "medications": None,
                "devices": searchset({"resourceType": "Device", "id": "d-1", "patient": {"reference": "Patient/p-9"}}),
                "reports": None}
    record = gather_record(SERVICE, hook_request(prefetch, server=None, token=None), settings())
    assert [c.id for c in record.conditions] == ["c-1"] and record.patient is None and record.devices == []
    assert record.skipped_resources == 5
    assert DataGap("conditions", "other-patient-data") in record.gaps


# --- what the readers get ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2024", "2024-05", "2024-05-01", "2024-02-29", "2024-05-01T10:00:00Z",
                                   "2024-05-01T23:30:00-05:00", "2024-05-01T23:30:00.123456789+14:00",
                                   "2024-12-31T23:59:59.5-13:59"])
def test_dates_read_as_the_r4b_values_read(value):
    # R4B gives a str for "2024" and "2024-05", a date for a day, an aware datetime with a time;
    # the reader keeps the text: parse_date must make the same PartialDate of both.
    raw = _obs(effectiveDateTime=value, effectivePeriod=None, issued="2024-05-01T10:00:00Z")
    raw.pop("effectivePeriod")
    ours, r4b = read_resource(raw), parse_resource(raw)
    assert ours.effectiveDateTime == value
    assert parse_date(ours.effectiveDateTime) == parse_date(r4b.effectiveDateTime)
    assert parse_date(ours.issued) == parse_date(r4b.issued)
    cond = _cond(onsetPeriod={"start": value}, recordedDate=value)
    assert parse_date(read_resource(cond).onsetPeriod.start) == parse_date(parse_resource(cond).onsetPeriod.start)
    if "T" not in value:
        pat = {"resourceType": "Patient", "id": "p-1", "birthDate": value}
        assert parse_date(read_resource(pat).birthDate) == parse_date(parse_resource(pat).birthDate)


def test_values_are_typed_as_r4b_gives_them():
    obs = read_resource(_obs(valueQuantity={"value": 1.1, "unit": "ratio", "comparator": ">"}))
    r4b = parse_resource(_obs(valueQuantity={"value": 1.1}))
    assert obs.valueQuantity.value == Decimal("1.1") == r4b.valueQuantity.value
    text = "Impression: L4-5 disc protrusion."
    report = read_resource(_report(presentedForm=[{"contentType": "text/plain",
                                                   "data": base64.b64encode(text.encode()).decode()}]))
    assert report.presentedForm[0].data == text.encode()  # decoded, as R4B does
    pdf = read_resource(_report(presentedForm=[{"contentType": "application/pdf", "data": "JVBERi0="}]))
    assert pdf.presentedForm[0].data == "JVBERi0="  # not read by the reader: not decoded
    assert obs.get_resource_type() == "Observation" and obs.note is None and getattr(obs, "component", None) is None
    with pytest.raises(AttributeError):
        obs.status = "amended"  # read-only


ODD_BUT_LEGAL = [
    {"resourceType": "Patient", "id": "p-1", "name": [{"text": "Anon"}],
     "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                   "valueCode": "unknown"}]}},
    {"resourceType": "Condition", "id": "c-odd", "contained": [{"resourceType": "Secretname", "id": "pr"}],
     "asserter": {"reference": "#pr"}, "code": {"text": "Sciatica, left"},
     "subject": {"reference": "https://ehr.example.org/fhir/r4/Patient/p-1"},
     "onsetAge": {"value": 52, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
     "modifierExtension": [{"url": "http://example.org/x", "valueBoolean": False}], "code_": None, "futureElement": 5},
    {"resourceType": "Observation", "id": "o-odd", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}], "text": None},
     "subject": {"reference": "Patient/p-1/_history/3"}, "valueQuantity": {"value": 36.9, "unit": "Cel"},
     "component": [{"code": {"text": "site"}, "valueString": "oral"}], "extension": [{"deeply": [[[[[{}]]]]]}]},
]


@pytest.mark.parametrize("raw", ODD_BUT_LEGAL, ids=lambda r: r["id"])
def test_elements_the_reader_does_not_read_are_passed_over(raw):
    resource = read_resource(raw)
    assert resource.get_resource_type() == raw["resourceType"] and resource.id == raw["id"]


def test_reading_is_bounded_whatever_the_nesting_of_unread_elements():
    # Unread elements are never walked: a 10,000-deep extension costs nothing (the request's
    # json_max_depth refuses it earlier anyway); read elements have a fixed depth (Struct types).
    deep: dict = {}
    for _ in range(10_000):
        deep = {"extension": [deep]}
    assert read_resource(_obs(extension=[deep])).id == "o-x"


def _requests():
    for path in sorted((PROJECT_ROOT / "tests" / "scenarios").glob("*.yaml")):
        yield from (build(scenario) for scenario in yaml.safe_load(path.read_text()))
    for path in sorted((PROJECT_ROOT / "demo" / "requests").glob("*.json")):
        yield json.loads(path.read_text())


def test_the_scenarios_and_demo_patients_read_alike_through_the_reader_and_r4b():
    # Every resource of every scenario and demo request: accepted by both, same values where the reader declares them.
    count = 0
    for request in _requests():
        for value in (request.get("prefetch") or {}).values():
            for entry in entries(value):
                raw = entry.resource
                if raw.get("resourceType") not in RECORD_TYPES:
                    continue
                ours, r4b = read_resource(raw), parse_resource(raw)
                for name in STRUCTS[raw["resourceType"]].__struct_fields__:
                    _same(getattr(ours, name), getattr(r4b, name), f"{raw['resourceType']}.{name}")
                count += 1
    assert count > 400


def _same(ours, r4b, path):
    if ours is None or r4b is None:
        assert ours is None and r4b is None, path
    elif isinstance(ours, list):
        assert len(ours) == len(r4b), path
        for a, b in zip(ours, r4b):
            _same(a, b, path)
    elif hasattr(ours, "__struct_fields__"):
        for name in ours.__struct_fields__:
            _same(getattr(ours, name), getattr(r4b, name), f"{path}.{name}")
    elif isinstance(ours, str) and not isinstance(r4b, str) and not isinstance(r4b, bytes):
        assert parse_date(ours) == parse_date(r4b), path  # a date as text vs a date or datetime
    else:
        assert ours == r4b, (path, json.dumps(str(ours))[:80])
