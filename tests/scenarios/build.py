"""Turn a compact clinical scenario (YAML) into FHIR resources and a hook request.

A scenario names what a clinician would see in the chart: conditions with
codes and onset dates, observations, medications, devices, prior MRI and EMG
reports with their impression text, and the draft orders. Anything odd that
the compact form cannot say is written as raw FHIR under ``raw:``.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

SYSTEMS = {
    "icd10": "http://hl7.org/fhir/sid/icd-10-cm",
    "snomed": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "cpt": "http://www.ama-assn.org/go/cpt",
}
REPORT_CODES = {
    "mri-lumbar": ("30679-5", "MR Lumbar spine WO contrast"),
    "mri-cervical": ("30667-0", "MR Cervical spine WO contrast"),
    "mri-thoracic": ("36532-0", "MR Thoracic spine WO contrast"),
    "emg": ("18749-2", "Electromyogram study"),
}


def _coding(spec: str | None, display: str | None) -> dict:
    concept: dict[str, Any] = {}
    if spec:
        alias, code = spec.split(":", 1)
        concept["coding"] = [{"system": SYSTEMS[alias], "code": code, **({"display": display} if display else {})}]
    if display:
        concept["text"] = display
    return concept


def build(scenario: dict, patient_id: str = "pt-1") -> dict:
    """The CDS Hooks request for ``scenario`` with every prefetch key filled."""
    ids = itertools.count(1)
    subject = {"reference": f"Patient/{patient_id}"}
    patient = {"resourceType": "Patient", "id": patient_id, **scenario.get("patient", {})}

    def rid(prefix: str) -> str:
        # Patient-scoped ids, so many scenarios can share one FHIR server.
        return f"{patient_id}-{prefix}-{next(ids)}"

    conditions = []
    for c in scenario.get("conditions", []):
        res = {"resourceType": "Condition", "id": c.get("id") or rid("cond"), "subject": subject,
               "code": _coding(c.get("code"), c.get("display")),
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                              "code": c.get("status", "active")}]}}
        if c.get("onset"):
            res["onsetDateTime"] = str(c["onset"])
        if c.get("recorded"):
            res["recordedDate"] = str(c["recorded"])
        if c.get("note"):
            res["note"] = [{"text": c["note"]}]
        if c.get("verification"):  # provisional | differential | confirmed | refuted | entered-in-error
            res["verificationStatus"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": c["verification"]}]}
        conditions.append(res)

    observations = []
    for o in scenario.get("observations", []):
        res = {"resourceType": "Observation", "id": o.get("id") or rid("obs"), "status": "final", "subject": subject,
               "code": _coding(o.get("code"), o.get("display"))}
        if o.get("date"):
            res["effectiveDateTime"] = str(o["date"])
        if "value" in o:
            value = o["value"]
            if isinstance(value, bool):
                res["valueBoolean"] = value
            elif isinstance(value, (int, float)):
                res["valueQuantity"] = {"value": value, **({"unit": o["unit"]} if o.get("unit") else {})}
            else:
                res["valueString"] = str(value)
        if o.get("interpretation"):
            res["interpretation"] = [{"text": o["interpretation"]}]
        observations.append(res)

    medications = []
    for m in scenario.get("medications", []):
        medications.append({"resourceType": "MedicationRequest", "id": m.get("id") or rid("med"), "status": m.get("status", "active"),
                            "intent": "order", "subject": subject, "authoredOn": str(m.get("date", "2026-01-01")),
                            "medicationCodeableConcept": _coding(m.get("code"), m.get("display"))})

    devices = []
    for d in scenario.get("devices", []):
        devices.append({"resourceType": "Device", "id": d.get("id") or rid("dev"), "patient": subject,
                        "status": d.get("status", "active"), "type": _coding(d.get("code"), d.get("display"))})

    reports = []
    for r in scenario.get("reports", []):
        code, display = REPORT_CODES[r["kind"]]
        res = {"resourceType": "DiagnosticReport", "id": r.get("id") or rid("rep"), "status": r.get("status", "final"),
               "subject": subject, "code": {"coding": [{"system": SYSTEMS["loinc"], "code": code, "display": display}],
                                            "text": display},
               "effectiveDateTime": str(r["date"]), "conclusion": r["conclusion"]}
        if r["kind"] == "emg":
            res["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EN"}]}]
        else:
            res["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}]
        reports.append(res)

    raw = scenario.get("raw", {})
    conditions += raw.get("conditions", [])
    observations += raw.get("observations", [])
    reports += raw.get("reports", [])

    orders = []
    for i, o in enumerate(scenario["orders"], 1):
        res = {"resourceType": o.get("type", "ServiceRequest"), "id": o.get("id", f"draft-{i}"), "status": "draft",
               "intent": "order", "subject": subject}
        if res["resourceType"] == "MedicationRequest":
            res["medicationCodeableConcept"] = _coding(o.get("code"), o.get("display"))
        else:
            res["code"] = _coding(o.get("code"), o.get("display"))
        if o.get("bodySite"):
            res["bodySite"] = [{"text": o["bodySite"]}]
        orders.append(res)

    hook = scenario.get("hook", "order-sign")
    context: dict[str, Any] = {"userId": "Practitioner/pr-1", "patientId": patient_id,
                               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                               "entry": [{"resource": r} for r in orders]}}
    if hook == "order-select":
        selected = scenario.get("selections") or [f"{orders[0]['resourceType']}/{orders[0]['id']}"]
        context["selections"] = selected

    def searchset(resources: list[dict]) -> dict:
        return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                "entry": [{"resource": r} for r in resources]}

    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": {
            "patient": patient,
            "conditions": searchset(conditions),
            "observations": searchset(observations),
            "medications": searchset(medications),
            "devices": searchset(devices),
            "reports": searchset(reports),
        },
    }


def transaction(scenario: dict, patient_id: str) -> dict:
    """The scenario's record as a FHIR transaction Bundle (to load a real FHIR server)."""
    request = build(scenario, patient_id)
    resources = [request["prefetch"]["patient"]]
    for key in ("conditions", "observations", "medications", "devices", "reports"):
        resources += [e["resource"] for e in request["prefetch"][key]["entry"]]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
    ]}
