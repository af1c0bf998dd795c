"""Builders for the FHIR access tests: requests, settings, resources, searchsets."""

from __future__ import annotations

from typing import Any

from cds_service.registry import load_definitions
from cds_service.settings import PROJECT_ROOT, Settings

BASE = "https://ehr.example.org/fhir/r4"
#: Distinctive so a leak anywhere (log, message, gap) is found by a substring search.
TOKEN = "sEcReT-tok3n.ABCdef_0123456789"
PATIENT = "p-1"
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"


def spine_service():
    """The real order-select service definition from hooks/ (six keys, conditions essential)."""
    return next(d for d in load_definitions(PROJECT_ROOT / "hooks") if d.id == "spine-order-select")


def settings(**overrides: Any) -> Settings:
    overrides.setdefault("allowed_fhir_servers", (BASE,))
    return Settings.load(env={}, yaml_path=None, **overrides)


def hook_request(prefetch: dict | None = None, *, server: str | None = BASE, token: str | None = TOKEN,
                 patient: str = PATIENT, **extra: Any) -> dict:
    request: dict[str, Any] = {
        "hook": "order-select",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/pr-1", "patientId": patient, "draftOrders": {"resourceType": "Bundle"}},
    }
    if server is not None:
        request["fhirServer"] = server
    if token is not None:
        request["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "spine-cds",
        }
    if prefetch is not None:
        request["prefetch"] = prefetch
    request.update(extra)
    return request


def condition(cid: str, code: str = "M54.16", patient: str = PATIENT) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def observation(oid: str, patient: str = PATIENT) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueInteger": 6,
    }


def patient(pid: str = PATIENT) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1960-01-01"}


def searchset(*resources: dict, next_url: str | None = None, total: int | None = None) -> dict:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    if total is not None:
        bundle["total"] = total
    return bundle


def outcome(severity: str = "error", code: str = "exception") -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code}]}


def queries(patient_id: str = PATIENT) -> dict[str, str]:
    """Each prefetch key's query of the spine service, as the FHIR server receives it."""
    return {
        p.key: f"{BASE}/" + p.query.replace("{{context.patientId}}", patient_id)
        for p in spine_service().prefetch
    }


def full_prefetch(patient_id: str = PATIENT) -> dict:
    return {
        "patient": patient(patient_id),
        "conditions": searchset(condition("c-1", patient=patient_id)),
        "observations": searchset(observation("o-1", patient=patient_id)),
        "medications": searchset(),
        "devices": searchset(),
        "reports": searchset(),
    }
