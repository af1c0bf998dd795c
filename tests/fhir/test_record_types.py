"""One table (cds_service.record.RECORD_TYPES) lists the resource types the record reads; everything
that knows about them agrees with it: the reader's Structs, the record's buckets, the hooks'
prefetch templates, and the other-patient check (no type may slip through it)."""

from __future__ import annotations

import typing

import pytest

from cds_service.fhir import gather_record
from cds_service.fhir.prefetch import query_resource_type
from cds_service.fhir.reader import PATIENT_ELEMENT, STRUCTS, Reference, owner, read_resource
from cds_service.record import RECORD_TYPES, PatientRecord
from cds_service.registry import load_definitions
from cds_service.settings import PROJECT_ROOT

from .helpers import hook_request, settings

SERVICES = load_definitions(PROJECT_ROOT / "hooks")
OTHER = {"reference": "Patient/p-other"}

#: A minimal valid resource of each type, about another patient.
ABOUT_ANOTHER_PATIENT = {
    "Patient": {"resourceType": "Patient", "id": "p-other"},
    "Condition": {"resourceType": "Condition", "id": "x", "subject": OTHER, "code": {"text": "sciatica"}},
    "Observation": {"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "EHL 4/5"},
                    "subject": OTHER},
    "MedicationRequest": {"resourceType": "MedicationRequest", "id": "x", "status": "active", "intent": "order",
                          "subject": OTHER, "medicationCodeableConcept": {"text": "apixaban"}},
    "Device": {"resourceType": "Device", "id": "x", "patient": OTHER, "type": {"text": "pacemaker"}},
    "DiagnosticReport": {"resourceType": "DiagnosticReport", "id": "x", "status": "final",
                         "code": {"text": "MRI lumbar spine"}, "subject": OTHER, "conclusion": "L4-5 protrusion"},
}


def test_the_reader_has_a_struct_for_exactly_the_record_types():
    assert set(STRUCTS) == set(RECORD_TYPES) == set(PATIENT_ELEMENT)


@pytest.mark.parametrize("rtype", sorted(RECORD_TYPES))
def test_each_type_declares_its_patient_element_and_has_its_bucket(rtype):
    entry = RECORD_TYPES[rtype]
    assert hasattr(PatientRecord(), entry.bucket)
    if rtype == "Patient":
        assert entry.bucket == "patient" and entry.patient_element is None
        return
    assert PatientRecord.BUCKETS[rtype] == entry.bucket
    hints = typing.get_type_hints(STRUCTS[rtype])
    assert Reference in (typing.get_args(hints[entry.patient_element]) or (hints[entry.patient_element],))


def test_the_hooks_prefetch_exactly_the_record_types_under_the_tables_keys():
    for service in SERVICES:
        by_key = {t.key: query_resource_type(t.query.split("?")[0].split("/")[0]) for t in service.prefetch}
        for key, rtype in by_key.items():
            assert rtype in RECORD_TYPES, f"{service.id}: prefetch key {key} reads {rtype}, which the record does not"
            assert key in RECORD_TYPES[rtype].prefetch_keys, f"{service.id}: key {key} not listed for {rtype}"
        for rtype, entry in RECORD_TYPES.items():
            for key in entry.prefetch_keys:
                assert by_key.get(key) == rtype, f"{service.id}: no prefetch key {key} reading {rtype}"


def test_every_example_is_valid_and_every_type_has_one():
    assert set(ABOUT_ANOTHER_PATIENT) == set(RECORD_TYPES)
    for raw in ABOUT_ANOTHER_PATIENT.values():
        assert owner(read_resource(raw)) == "p-other"


@pytest.mark.parametrize("rtype", sorted(RECORD_TYPES))
def test_the_other_patient_check_covers_every_type(rtype):
    # The same resource about this patient is filed; about another it is dropped, as a gap.
    keys = {key: None for service in SERVICES for key in (t.key for t in service.prefetch)}
    key = RECORD_TYPES[rtype].prefetch_keys[0]
    raw = ABOUT_ANOTHER_PATIENT[rtype]
    mine = {**raw, "id": "p-1"} if rtype == "Patient" else {
        **raw, RECORD_TYPES[rtype].patient_element: {"reference": "Patient/p-1"}}
    service = SERVICES[0]
    for resource, filed in ((mine, True), (raw, False)):
        prefetch = {**keys, "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []}}
        prefetch[key] = resource if rtype == "Patient" else {"resourceType": "Bundle", "type": "searchset",
                                                              "entry": [{"resource": resource}]}
        record = gather_record(service, hook_request(prefetch, server=None, token=None), settings())
        bucket = getattr(record, RECORD_TYPES[rtype].bucket)
        held = [bucket] if rtype == "Patient" and bucket is not None else (bucket if rtype != "Patient" else [])
        assert (len(held) == 1) is filed, (rtype, filed)
        assert record.skipped_resources == (0 if filed else 1)
        assert any(g.reason == "other-patient-data" for g in record.gaps) is not filed


def test_each_service_tells_the_ehr_every_type_it_reads():
    # usageRequirements (discovery) names the resources a fhirAuthorization token must read.
    for service in SERVICES:
        for rtype in RECORD_TYPES:
            if rtype != "Patient":
                assert rtype in " ".join((service.usage_requirements or "").split()), (service.id, rtype)
