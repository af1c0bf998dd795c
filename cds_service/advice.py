"""From draft orders and the record to card specs: the clinical half of a hook call.

Recognise the orders (the reader's order classifier), read the record once into
a clinical picture, and let the rules decide the cards. Pure: no HTTP, no Flask.
``spine_orders`` is the handler both services of ``hooks/`` name (``handlers.py``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from .cardbuilder import CardSpec
from .handlers import Advice, Handler, HookCall
from .draft_orders import DraftOrder, extract_orders, is_selected
from .reading import classify_order, read_record
from .reading.model import OrderInfo
from .reading.order_kinds import ELECTRODIAGNOSTIC, is_edx_not_spine
from .record import PatientRecord
from .registry import ServiceDefinition
from .rules.config import RuleConfig
from .rules.engine import OrderInput, advise as run_rules
from .valuesets import ValueSets


def classify_orders(orders: list[DraftOrder], valuesets: ValueSets, patient_id: str) -> list[OrderInput]:
    """The draft orders the clinical reader recognises (spine MRI, EMG/NCS, ...), with what it read.

    Electrodiagnostic lines that are parts of one study (nerve conduction 95910 and the needle
    EMG add-on 95886, for the same patient and the same limbs and side, or limbs/side unstated)
    are one order for advice: one input, studies merged, ``info.parts`` naming every line.
    A facial, single-fibre or junction study line (not spine work-up) takes with it the nerve
    conduction lines that state no limb (a facial study is billed 95907 + 95867): no card.
    """
    out: list[OrderInput] = []
    not_spine_subjects: set[str | None] = set()
    for order in orders:
        info = classify_order(order, valuesets)
        if info is None:
            if is_edx_not_spine(order, valuesets):
                not_spine_subjects.add(_subject(order))
            continue
        if info.kind == ELECTRODIAGNOSTIC:
            study = next((i for i, o in enumerate(out) if _same_study(o, order, info)), None)
            if study is not None:
                out[study] = _merge_study(out[study], order, info)
                continue
        out.append(OrderInput(order, info, patient_id))
    if not_spine_subjects:
        # "95907 + 95867" as two lines: the nerve conduction line belongs to the facial study.
        out = [o for o in out if not (o.info.kind == ELECTRODIAGNOSTIC and o.info.studies == ("ncs",)
                                      and not o.info.limbs and _subject(o.order) in not_spine_subjects)]
    return out


def _subject(order: DraftOrder) -> str | None:
    subject = order.raw.get("subject") if isinstance(order.raw, dict) else None
    ref = subject.get("reference") if isinstance(subject, dict) else None
    return ref if isinstance(ref, str) and ref else None


def _same_study(o: OrderInput, order: DraftOrder, info: OrderInfo) -> bool:
    if o.info.kind != ELECTRODIAGNOSTIC or o.order.resource_type != order.resource_type:
        return False
    a, b = _subject(o.order), _subject(order)
    if a and b and a != b:
        return False
    if o.info.limbs and info.limbs and set(o.info.limbs) != set(info.limbs):
        return False
    return not (o.info.side and info.side and o.info.side != info.side)


def _merge_study(o: OrderInput, order: DraftOrder, info: OrderInfo) -> OrderInput:
    first = o.info
    parts = first.parts or ((first.order_reference,) if first.order_reference else ())
    merged = dataclasses.replace(
        first,
        studies=tuple(s for s in ("emg", "ncs") if s in first.studies or s in info.studies),
        limbs=first.limbs or info.limbs,
        side=first.side or info.side,
        matched_by="coding" if "coding" in (first.matched_by, info.matched_by) else "text",
        evidence=first.evidence + info.evidence,
        indications=first.indications + tuple(i for i in info.indications if i not in first.indications),
        parts=parts + ((info.order_reference,) if info.order_reference else ()),
    )
    # The first line stays the order acted on; its label names every line of the study.
    label = " + ".join(dict.fromkeys(p.text.split("; ")[0].strip() for p in (o.order, order) if p.text.strip()))
    rest = o.order.text.split("; ", 1)[1:] if o.order.text else []
    text = "; ".join([label, *rest]) if label else o.order.text
    return OrderInput(dataclasses.replace(o.order, text=text), merged, o.patient_id)


def relevant_orders(service: ServiceDefinition, drafts: list[OrderInput],
                    selections: list[str] | None) -> list[OrderInput]:
    """The orders this service reasons about (its ``triggers.order_kinds``; on order-select,
    the selected ones only); others get no card."""
    return [d for d in drafts if d.info.kind in service.order_kinds
            and (selections is None or _selected(d, selections))]


def _selected(d: OrderInput, selections: list[str]) -> bool:
    """Selecting any line of a study ordered as several lines selects the study."""
    if is_selected(d.order, selections):
        return True
    return any(s == ref or s.endswith("/" + ref) for ref in d.info.parts for s in selections)


def advise(orders: list[OrderInput], record: PatientRecord, valuesets: ValueSets, rules: RuleConfig,
           now: datetime, drafted: frozenset[str] = frozenset(), system_actions: list[dict] | None = None) -> list[CardSpec]:
    """The card specs; with ``system_actions`` given, the orders' PAMA rating actions are appended to it."""
    picture = read_record(record, valuesets, now)
    return run_rules(orders, picture, rules, now, drafted, system_actions)


class SpineOrders(Handler):
    """spine-order-select and spine-order-sign: advice on the draft spine MRI and EMG/NCS orders."""

    hooks = ("order-select", "order-sign")

    def check(self, service: ServiceDefinition) -> None:
        if not service.order_kinds:
            raise ValueError("triggers.order_kinds: required (which draft orders the service advises on)")

    def scope(self, call: HookCall) -> tuple[list[OrderInput], list[OrderInput]] | None:
        """Every draft order classified once, and the ones this service advises on; None when there are none
        (per the spec, no guidance is an empty card list, and nothing is fetched for it)."""
        context = call.context
        selections = context.get("selections") if call.service.hook == "order-select" else None
        # The selected ones get advice, and all of them say what is already being ordered.
        drafts = classify_orders(extract_orders(context["draftOrders"]), call.engine.valuesets, context["patientId"])
        orders = relevant_orders(call.service, drafts, selections)
        return (drafts, orders) if orders else None

    def advise(self, call: HookCall, scope: tuple[list[OrderInput], list[OrderInput]],
               record: PatientRecord) -> Advice:
        drafts, orders = scope
        drafted = frozenset(d.info.kind for d in drafts)
        system_actions: list[dict] = []  # PAMA ratings on the draft orders (Argonaut CDS Hooks for PAMA)
        specs = advise(orders, record, call.engine.valuesets, call.engine.rules, call.now, drafted, system_actions)
        return Advice(specs, system_actions)


#: The handler of ``hooks/spine-order-select.yaml`` and ``hooks/spine-order-sign.yaml``.
spine_orders = SpineOrders()
