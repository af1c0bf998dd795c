"""The orders a hook call is about, read from ``context.draftOrders``.

Orders are kept close to their JSON: the codings and text the clinical reader
needs are pulled out here, so an order that is not a valid FHIR resource (the
sandbox's first call sends ``code.coding: [{}]``) is still read, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

#: Request types a draft order may be; ServiceRequest is what this service
#: reasons about, the others are tolerated and passed over by the reader.
ORDER_TYPES = (
    "ServiceRequest",
    "MedicationRequest",
    "NutritionOrder",
    "VisionPrescription",
    "DeviceRequest",
    "CommunicationRequest",
    "ImmunizationRecommendation",
)

#: The element holding what is being ordered, per request type.
_CODE_ELEMENT = {"MedicationRequest": "medicationCodeableConcept", "DeviceRequest": "codeCodeableConcept"}


@dataclass(frozen=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None


@dataclass(frozen=True)
class DraftOrder:
    resource_type: str
    id: str | None
    #: The order's JSON as the EHR sent it (used for suggestions that replace it).
    raw: dict
    #: Codings of what is ordered (``code`` for a ServiceRequest).
    codings: tuple[Coding, ...]
    #: Human text of what is ordered: code.text, then coding displays.
    text: str
    #: Reason codings and texts (reasonCode), for context.
    reason_codings: tuple[Coding, ...]
    reason_text: str
    #: Body site texts and codings, e.g. "left arm" on an NCS order.
    body_site_text: str
    priority: str | None
    authored_on: str | None

    @property
    def reference(self) -> str | None:
        return f"{self.resource_type}/{self.id}" if self.id else None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _codings(concepts: Iterable[Any]) -> tuple[Coding, ...]:
    out = []
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        for c in _as_list(concept.get("coding")):
            if isinstance(c, dict) and (c.get("code") or c.get("display")):
                out.append(Coding(_str(c.get("system")), _str(c.get("code")), _str(c.get("display"))))
    return tuple(out)


def _texts(concepts: Iterable[Any]) -> str:
    parts: list[str] = []
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        if isinstance(concept.get("text"), str) and concept["text"].strip():
            parts.append(concept["text"].strip())
        for c in _as_list(concept.get("coding")):
            if isinstance(c, dict) and isinstance(c.get("display"), str) and c["display"].strip():
                parts.append(c["display"].strip())
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return "; ".join(seen)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_order(resource: dict) -> DraftOrder | None:
    """One draft order from its JSON, or None when it is not a request resource."""
    rtype = resource.get("resourceType")
    if rtype not in ORDER_TYPES:
        return None
    code = [resource.get(_CODE_ELEMENT.get(rtype, "code"))]
    reasons = _as_list(resource.get("reasonCode"))
    sites = _as_list(resource.get("bodySite"))
    return DraftOrder(
        resource_type=rtype,
        id=_str(resource.get("id")),
        raw=resource,
        codings=_codings(code),
        text=_texts(code),
        reason_codings=_codings(reasons),
        reason_text=_texts(reasons),
        body_site_text=_texts(sites),
        priority=_str(resource.get("priority")),
        authored_on=_str(resource.get("authoredOn")),
    )


def _matches(order: DraftOrder, selection: str) -> bool:
    # Selections are "Type/id"; some clients send an absolute URL ending in it.
    ref = order.reference
    return bool(ref) and (selection == ref or selection.endswith("/" + ref))


def extract_orders(draft_orders: dict, selections: list[str] | None = None) -> list[DraftOrder]:
    """The draft orders of a Bundle, ServiceRequests first, in bundle order otherwise.

    With ``selections`` (order-select), only the selected orders are returned:
    the cards of that hook are about what the user just selected.
    """
    orders = []
    for entry in _as_list(draft_orders.get("entry")):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            order = read_order(resource)
            if order is not None:
                orders.append(order)
    if selections is not None:
        orders = [o for o in orders if is_selected(o, selections)]
    # Stable: keeps bundle order within each group.
    return sorted(orders, key=lambda o: o.resource_type != "ServiceRequest")


def is_selected(order: DraftOrder, selections: list[str]) -> bool:
    """Whether ``selections`` (order-select's ``context.selections``) name ``order``."""
    return any(_matches(order, s) for s in selections)
