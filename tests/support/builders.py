"""Small builders for CDS Hooks requests and FHIR resources used across tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

CPT = "http://www.ama-assn.org/go/cpt"


def service_request(rid: str = "sr-1", cpt: str | None = "72148", display: str = "Mri lumbar spine w/o dye",
                    patient: str = "p-1", **extra: Any) -> dict:
    coding = [{"system": CPT, "code": cpt, "display": display}] if cpt else [{}]
    resource = {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": coding, "text": display},
    }
    resource.update(extra)
    return resource


def bundle(*resources: dict, type_: str | None = "collection") -> dict:
    out: dict[str, Any] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    if type_:
        out["type"] = type_
    return out


def searchset(*resources: dict) -> dict:
    return bundle(*resources, type_="searchset")


def condition(cid: str, code: str, system: str = "http://hl7.org/fhir/sid/icd-10-cm", display: str = "",
              patient: str = "p-1", onset: str | None = None) -> dict:
    resource = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{patient}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
    }
    if onset:
        resource["onsetDateTime"] = onset
    return resource


def days_ago(n: int) -> str:
    """A date n days before today (UTC), for records whose meaning depends on time."""
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc).date() - timedelta(days=n)).isoformat()


def acute_back_pain_prefetch(days: int = 10) -> dict:
    """Low back pain that began ``days`` ago, no red flag: a lumbar MRI order gets a card."""
    return {"conditions": searchset(condition("c-lbp", "M54.50", display="Low back pain", onset=days_ago(days)))}


def hook_request(hook: str = "order-select", orders: list[dict] | None = None,
                 selections: list[str] | None = None, prefetch: dict | None = None,
                 patient: str = "p-1", **extra: Any) -> dict:
    """A valid request; pass ``prefetch=None`` explicitly via extra to drop the key."""
    orders = [service_request(patient=patient)] if orders is None else orders
    context: dict[str, Any] = {
        "userId": "Practitioner/pr-1",
        "patientId": patient,
        "draftOrders": bundle(*orders),
    }
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"{o['resourceType']}/{o['id']}" for o in orders[:1]
        ]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch if prefetch is not None else {"conditions": searchset()},
    }
    body.update(extra)
    return copy.deepcopy(body)


def service_id(hook: str) -> str:
    return {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}[hook]
