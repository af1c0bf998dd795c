"""From the orders and the record to card specs: which cards, with which facts.

PLACEHOLDER rules (issue 2): recognise a spine MRI or EMG/NCS order by its CPT
code and note it. Issue 4 brings the order classifier and the clinical reader,
issue 5 the real card rules; both plug in here.
"""

from __future__ import annotations

from datetime import datetime

from .cardbuilder import CardSpec
from .orders import DraftOrder
from .record import PatientRecord
from .registry import ServiceDefinition

_CPT = "http://www.ama-assn.org/go/cpt"
_KINDS = {
    **{str(c): "spine-mri" for c in (72141, 72142, 72146, 72147, 72148, 72149, 72156, 72157, 72158)},
    **{str(c): "electrodiagnostic" for c in (*range(95860, 95873), *range(95885, 95888), *range(95907, 95914))},
}


def order_kind(order: DraftOrder) -> str | None:
    """The order kind a service's ``triggers.order_kinds`` names, or None."""
    for coding in order.codings:
        if coding.system == _CPT and coding.code in _KINDS:
            return _KINDS[coding.code]
    return None


def relevant_orders(service: ServiceDefinition, orders: list[DraftOrder]) -> list[DraftOrder]:
    """The orders this service reasons about; no FHIR data is fetched without one."""
    return [o for o in orders if order_kind(o) in service.order_kinds]


def advise(service: ServiceDefinition, orders: list[DraftOrder], record: PatientRecord, now: datetime) -> list[CardSpec]:
    counts = {
        "conditions": len(record.conditions),
        "observations": len(record.observations),
        "reports": len(record.diagnostic_reports),
    }
    return [
        CardSpec(
            kind="spine-order-noted",
            context={
                "order_label": order.text or ("Spine MRI" if order_kind(order) == "spine-mri" else "EMG/NCS"),
                "order_reference": order.reference or "draft order",
                "record_counts": counts,
            },
        )
        for order in orders
    ]
