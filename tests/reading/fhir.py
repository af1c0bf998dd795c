"""Small builders for R4B resources in tests: only the fields a test cares about."""

from __future__ import annotations

import base64

from fhir.resources.R4B import get_fhir_model_class

from cds_service.record import PatientRecord

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_SUBJECT = {"reference": "Patient/p1"}
_counter = iter(range(1, 10**6))


def cc(text: str | None = None, *codings: tuple) -> dict:
    out: dict = {}
    if codings:
        out["coding"] = [dict(zip(("system", "code", "display"), c)) for c in codings]
    if text is not None:
        out["text"] = text
    return out


def model(resource: dict):
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def patient(birth: str | None = "1970-05-20", gender: str | None = "female"):
    r = {"resourceType": "Patient", "id": "p1"}
    if birth:
        r["birthDate"] = birth
    if gender:
        r["gender"] = gender
    return model(r)


def condition(code: dict, clinical: str | None = "active", verification: str | None = None, **extra):
    r = {"resourceType": "Condition", "id": f"c{next(_counter)}", "subject": _SUBJECT, "code": code}
    if clinical:
        r["clinicalStatus"] = cc(None, ("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical))
    if verification:
        r["verificationStatus"] = cc(None, ("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification))
    r.update(extra)
    return model(r)


def observation(code: dict, status: str = "final", **extra):
    r = {"resourceType": "Observation", "id": f"o{next(_counter)}", "status": status, "subject": _SUBJECT, "code": code}
    r.update(extra)
    return model(r)


def report(code: dict, status: str = "final", conclusion: str | None = None, text: str | None = None,
           content_type: str = "text/plain", **extra):
    r = {"resourceType": "DiagnosticReport", "id": f"r{next(_counter)}", "status": status, "subject": _SUBJECT, "code": code}
    if conclusion is not None:
        r["conclusion"] = conclusion
    if text is not None:
        r["presentedForm"] = [{"contentType": content_type, "data": base64.b64encode(text.encode()).decode()}]
    r.update(extra)
    return model(r)


def med_request(medication: dict, status: str = "active", **extra):
    r = {"resourceType": "MedicationRequest", "id": f"m{next(_counter)}", "status": status, "intent": "order",
         "subject": _SUBJECT, "medicationCodeableConcept": medication}
    r.update(extra)
    return model(r)


def device(type_: dict | None = None, status: str | None = "active", **extra):
    r = {"resourceType": "Device", "id": f"d{next(_counter)}", "patient": _SUBJECT}
    if type_ is not None:
        r["type"] = type_
    if status:
        r["status"] = status
    r.update(extra)
    return model(r)


def record(*resources, with_patient: bool = True) -> PatientRecord:
    rec = PatientRecord()
    if with_patient:
        rec.add(patient())
    for r in resources:
        rec.add(r)
    return rec
