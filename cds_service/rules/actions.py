"""CDS Hooks suggestion actions on draft orders: delete, create, update.

The EHR applies them as a transaction against its own FHIR server, so created
resources carry the patient reference and draft status, and updates carry the
whole resource (the spec: "the updated resource in its entirety").
"""

from __future__ import annotations

import copy
import uuid

from ..draft_orders import DraftOrder
from .config import Orderable


def delete_order(order: DraftOrder, label: str) -> dict:
    return {"type": "delete", "description": f"Remove the draft order: {label}",
            "resourceId": order.reference or f"{order.resource_type}/unknown"}


def delete_study(order: DraftOrder, parts: tuple[str, ...], label: str) -> tuple[dict, ...]:
    """Remove every line of a study ordered as several lines (``OrderInfo.parts``), else the one order."""
    refs = parts or (order.reference or f"{order.resource_type}/unknown",)
    return tuple({"type": "delete", "description": f"Remove the draft order: {label}", "resourceId": ref}
                 for ref in dict.fromkeys(refs))


def create_order(patient_id: str, orderable: Orderable, priority: str, reason: str, note: str | None = None) -> dict:
    resource = {
        "resourceType": "ServiceRequest",
        "id": str(uuid.uuid4()),
        "status": "draft",
        "intent": "order",
        "priority": priority,
        "code": {"coding": [orderable.coding()], "text": orderable.text},
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
    }
    if note:
        resource["note"] = [{"text": note}]
    return {"type": "create", "description": f"Create a {priority} order: {orderable.text}", "resource": resource}


def update_order(order: DraftOrder, description: str, *, priority: str | None = None, note: str | None = None) -> dict:
    resource = copy.deepcopy(order.raw)
    if priority:
        resource["priority"] = priority
    if note:
        resource["note"] = [*resource.get("note", []), {"text": note}] if isinstance(resource.get("note"), list) \
            else [{"text": note}]
    return {"type": "update", "description": description, "resource": resource}
