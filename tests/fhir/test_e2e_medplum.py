"""End to end against a real FHIR R4 server (Medplum's fhir-router), the demo patients loaded.

The same patient must give the same record whether the service fetches
everything itself or the CDS client prefetches it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import msgspec
import pytest

from cds_service.errors import PreconditionFailed
from cds_service.fhir import gather_record
from cds_service.fhir.reader import read_resource
from cds_service.record import RECORD_TYPES, DataGap, PatientRecord

from .conftest import DEMO_DIR, FhirServer
from .helpers import hook_request, settings, spine_service

pytestmark = pytest.mark.e2e

SERVICE = spine_service()
FILED = set(RECORD_TYPES)
DEMO_IDS = sorted(p.stem for p in DEMO_DIR.glob("*.json"))


def e2e_settings(server: FhirServer, **overrides):
    # A generous budget: the shared 2-core machine may be busy; speed is measured in bench/.
    overrides.setdefault("fhir_budget_seconds", 5.0)
    overrides.setdefault("fhir_read_timeout", 4.0)
    overrides.setdefault("fhir_connect_timeout", 1.0)
    return settings(allowed_fhir_servers=(server.base_url,), **overrides)


def server_request(server: FhirServer, patient_id: str, prefetch: dict | None = None, **kwargs) -> dict:
    return hook_request(prefetch, server=server.base_url, token=kwargs.pop("token", server.token),
                        patient=patient_id, **kwargs)


def demo_resources(patient_id: str) -> dict[tuple[str, str], dict]:
    """What the demo file holds for the record, by (type, id): the independent expectation."""
    bundle = json.loads(Path(DEMO_DIR / f"{patient_id}.json").read_text())
    return {
        (e["resource"]["resourceType"], e["resource"]["id"]): e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] in FILED
    }


def record_resources(record: PatientRecord) -> dict[tuple[str, str], dict]:
    models = ([record.patient] if record.patient else []) + [
        m for attr in PatientRecord.BUCKETS.values() for m in getattr(record, attr)
    ]
    out = {(m.get_resource_type(), m.id): msgspec.to_builtins(m) for m in models}
    assert len(out) == len(models), "a resource was filed twice"
    return out


def client_prefetch(server: FhirServer, patient_id: str) -> dict:
    """Prefetch as a CDS client fills it: each template's query run against its FHIR server.

    The tokens are filled here with a plain replace, not with the service's own code.
    """
    prefetch = {}
    for template in SERVICE.prefetch:
        query = template.query.replace("{{context.patientId}}", patient_id)
        response = server.get(query)
        # Spec: a read that finds nothing may be sent as null.
        prefetch[template.key] = None if response.status_code == 404 else response.json()
        assert response.status_code in (200, 404), response.text[:300]
    return prefetch


@pytest.mark.parametrize("patient_id", DEMO_IDS)
def test_without_prefetch_the_record_is_read_from_the_server(medplum, patient_id):
    record = gather_record(SERVICE, server_request(medplum, patient_id), e2e_settings(medplum))
    assert record.gaps == [] and record.skipped_resources == 0
    got = record_resources(record)
    expected = demo_resources(patient_id)
    assert sorted(got) == sorted(expected)
    # Content survived the round trip: every element the reader reads (the server only adds meta).
    for key, resource in expected.items():
        assert got[key] == msgspec.to_builtins(read_resource(resource))


@pytest.mark.parametrize("patient_id", DEMO_IDS)
def test_prefetch_gives_the_same_record(medplum, patient_id):
    fetched = gather_record(SERVICE, server_request(medplum, patient_id), e2e_settings(medplum))
    prefetch = client_prefetch(medplum, patient_id)
    prefetched = gather_record(
        SERVICE, hook_request(prefetch, server=None, token=None, patient=patient_id), e2e_settings(medplum)
    )
    assert prefetched.gaps == []
    assert record_resources(prefetched) == record_resources(fetched)


def test_partial_prefetch_is_completed_from_the_server(medplum):
    patient_id = "demo-anticoag-1"
    full = client_prefetch(medplum, patient_id)
    partial = {"patient": full["patient"], "conditions": full["conditions"],
               "devices": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}}
    record = gather_record(SERVICE, server_request(medplum, patient_id, partial), e2e_settings(medplum))
    assert record.gaps == []
    assert record_resources(record) == record_resources(
        gather_record(SERVICE, server_request(medplum, patient_id), e2e_settings(medplum)))
    assert [d.id for d in record.devices] == ["demo-anticoag-1-device-1"]


def test_a_patient_the_server_does_not_know(medplum):
    record = gather_record(SERVICE, server_request(medplum, "no-such-patient"), e2e_settings(medplum))
    # Searches answer with empty Bundles (no data, not a gap); the read answers 404.
    assert record.gaps == [DataGap("patient", "http-404")]
    assert record.conditions == [] and record.patient is None


def test_a_wrong_token_is_412_and_never_printed(medplum, caplog):
    wrong = "wrong-" + medplum.token[::-1]
    with caplog.at_level(logging.DEBUG), pytest.raises(PreconditionFailed) as info:
        gather_record(SERVICE, server_request(medplum, "demo-lumbar-1", token=wrong), e2e_settings(medplum))
    assert info.value.errors == {"conditions": "http-401"}
    for text in (caplog.text, str(info.value), repr(info.value.errors)):
        assert wrong not in text and medplum.token not in text


def test_the_server_needs_the_token(medplum):
    # The e2e server really checks it, so the tests above prove the token was sent.
    import requests

    assert requests.get(f"{medplum.base_url}/Patient/demo-lumbar-1", timeout=10).status_code == 401
