"""From draft orders and the record to card specs: the clinical half of a hook call.

Recognise the orders (the reader's order classifier), read the record once into
a clinical picture, and let the rules decide the cards. Pure: no HTTP, no Flask.
"""

from __future__ import annotations

from datetime import datetime

from .cardbuilder import CardSpec
from .orders import DraftOrder
from .reading import classify_order, read_record
from .record import PatientRecord
from .registry import ServiceDefinition
from .rules.config import RuleConfig
from .rules.engine import OrderInput, advise as run_rules
from .valuesets import ValueSets


def relevant_orders(service: ServiceDefinition, orders: list[DraftOrder], valuesets: ValueSets,
                    patient_id: str) -> list[OrderInput]:
    """The orders this service reasons about (its ``triggers.order_kinds``); others get no card."""
    out = []
    for order in orders:
        info = classify_order(order, valuesets)
        if info is not None and info.kind in service.order_kinds:
            out.append(OrderInput(order, info, patient_id))
    return out


def drafted_kinds(orders: list[DraftOrder], valuesets: ValueSets) -> frozenset[str]:
    """Order kinds among all draft orders (selected or not): what is already being ordered."""
    return frozenset(info.kind for info in (classify_order(o, valuesets) for o in orders) if info is not None)


def advise(orders: list[OrderInput], record: PatientRecord, valuesets: ValueSets, rules: RuleConfig,
           now: datetime, drafted: frozenset[str] = frozenset()) -> list[CardSpec]:
    picture = read_record(record, valuesets, now)
    return run_rules(orders, picture, rules, now, drafted)
