"""From draft orders and the record to card specs: the clinical half of a hook call.

Recognise the orders (the reader's order classifier), read the record once into
a clinical picture, and let the rules decide the cards. Pure: no HTTP, no Flask.
"""

from __future__ import annotations

from datetime import datetime

from .cardbuilder import CardSpec
from .orders import DraftOrder, is_selected
from .reading import classify_order, read_record
from .record import PatientRecord
from .registry import ServiceDefinition
from .rules.config import RuleConfig
from .rules.engine import OrderInput, advise as run_rules
from .valuesets import ValueSets


def classify_orders(orders: list[DraftOrder], valuesets: ValueSets, patient_id: str) -> list[OrderInput]:
    """The draft orders the clinical reader recognises (spine MRI, EMG/NCS, ...), with what it read."""
    out = []
    for order in orders:
        info = classify_order(order, valuesets)
        if info is not None:
            out.append(OrderInput(order, info, patient_id))
    return out


def relevant_orders(service: ServiceDefinition, drafts: list[OrderInput],
                    selections: list[str] | None) -> list[OrderInput]:
    """The orders this service reasons about (its ``triggers.order_kinds``; on order-select,
    the selected ones only); others get no card."""
    return [d for d in drafts if d.info.kind in service.order_kinds
            and (selections is None or is_selected(d.order, selections))]


def advise(orders: list[OrderInput], record: PatientRecord, valuesets: ValueSets, rules: RuleConfig,
           now: datetime, drafted: frozenset[str] = frozenset()) -> list[CardSpec]:
    picture = read_record(record, valuesets, now)
    return run_rules(orders, picture, rules, now, drafted)
