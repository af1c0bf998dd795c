"""Recognising spine MRI and electrodiagnostic orders, from codings first, then order text.

A coding in one of the order value sets decides the kind (and, for MRI, the
region and contrast the code carries). The order text (``code.text``, coding
displays, ``bodySite``) adds what codes do not say -- the limbs and side of an
EMG/NCS ("EMG/NCV BLE") -- and decides everything when the EHR sends only a
local code ("MRI L-spine w/o").
"""

from __future__ import annotations

import re

from ..draft_orders import DraftOrder
from ..valuesets import ValueSets, canonical_system
from . import lexicon as lx
from .attributes import clip, merge_sides
from .dates import parse_date
from .facts import order_reason_facts
from .model import CODED, TEXT, ConditionFinding, Evidence, OrderInfo, sort_evidence
from .certainty import Certainty

SPINE_MRI, ELECTRODIAGNOSTIC = "spine-mri", "electrodiagnostic"
#: An electrodiagnostic study that is not spine work-up (facial, cranial-nerve, laryngeal,
#: hemidiaphragm, single-fibre, neuromuscular-junction, ocular): recognised so as to give no card.
EDX_NOT_SPINE = "electrodiagnostic-not-spine"

#: Value set -> (kind, region or study).
ORDER_VALUESETS = {
    "order-mri-spine-cervical": (SPINE_MRI, "cervical"),
    "order-mri-spine-thoracic": (SPINE_MRI, "thoracic"),
    "order-mri-spine-lumbar": (SPINE_MRI, "lumbar"),
    "order-mri-spine-unspecified": (SPINE_MRI, None),
    "order-edx-needle-emg": (ELECTRODIAGNOSTIC, "emg"),
    "order-edx-nerve-conduction": (ELECTRODIAGNOSTIC, "ncs"),
    "order-edx-not-spine": (EDX_NOT_SPINE, None),
}
_REGION_ORDER = ("cervical", "thoracic", "lumbar")


def _w(pattern: str) -> re.Pattern:
    return re.compile(r"(?<![A-Za-z0-9])(?:" + pattern + r")(?![A-Za-z0-9])", re.IGNORECASE)


_MRI = _w(lx.ORDER_MRI)
_NOT_SPINE_MRI = _w(lx.ORDER_NOT_SPINE_MRI)
_SPINE = _w(lx.ORDER_SPINE_WORD)
_REGIONS = [(_w(p), regions) for p, regions in lx.ORDER_REGIONS]
_CONTRAST = [(_w(p), value) for p, value in lx.ORDER_CONTRAST]
_EDX_BOTH = _w(lx.ORDER_EDX_BOTH)
_EDX_NOT_SPINE = _w(lx.ORDER_EDX_NOT_SPINE)
_EMG = _w(lx.ORDER_EMG)
_NCS = _w(lx.ORDER_NCS)
_LIMBS = [(_w(p), limbs, side) for p, limbs, side in lx.ORDER_LIMBS]
_SIDE = [(_w(r"bilateral(?:ly)?|both"), "bilateral"), (_w(r"left|lt"), "left"), (_w(r"right|rt"), "right")]


def classify_order(order: DraftOrder, vs: ValueSets) -> OrderInfo | None:
    """The kind and details of ``order``, or None when it is neither a spine MRI nor an EMG/NCS.

    An electrodiagnostic order that is not spine work-up (a code in ``order-edx-not-spine``
    on any of its codings, or order text naming a facial, cranial-nerve, laryngeal, diaphragm,
    single-fibre, neuromuscular-junction or ocular study) gives None too: see ``is_edx_not_spine``.
    Never raises on odd orders (no codings, empty text, unknown systems).
    :raise KeyError: only if an order value set was not loaded (a start-up error).
    """
    if is_edx_not_spine(order, vs):
        return None
    kind = None
    regions: list[str] = []
    contrast = None
    studies: set[str] = set()
    evidence: list[Evidence] = []
    authored_date = parse_date(order.authored_on)
    authored = authored_date.text if authored_date else None
    for coding in order.codings:
        for name, (vs_kind, detail) in ORDER_VALUESETS.items():
            entry = vs.lookup(name, coding.system, coding.code)
            if entry is None:
                continue
            if kind is None:
                kind = vs_kind
            if vs_kind != kind:
                continue
            if vs_kind == SPINE_MRI:
                if detail:
                    regions.append(detail)
                contrast = contrast or entry.attr("contrast")
            else:
                studies.add(detail)
            evidence.append(
                Evidence(
                    resource_type=order.resource_type,
                    resource_id=order.id,
                    date=authored,
                    text=clip(coding.display or entry.display),
                    matched_by=CODED,
                    code=f"{canonical_system(coding.system)}|{coding.code}",
                    value_set=name,
                    verification=entry.verification,
                )
            )
    matched_by = "coding" if kind else "text"
    text = order.text or ""
    site = order.body_site_text or ""
    if kind is None:
        kind = _kind_from_text(text)
        if kind is None:
            return None
        evidence.append(
            Evidence(order.resource_type, order.id, authored, clip(text), TEXT)
        )
    if kind == SPINE_MRI:
        if not regions:
            regions = _regions_from_text(text + " " + site)
        contrast = contrast or _contrast_from_text(text)
        limbs: tuple[str, ...] = ()
        side = None
    else:
        studies |= _studies_from_text(text)
        limbs, side = _limbs_and_side(text + " ; " + site)
    ordered_regions = tuple(r for r in _REGION_ORDER if r in regions)
    indications = _indications(order, vs)
    return OrderInfo(
        kind=kind,
        regions=ordered_regions,
        contrast=contrast if kind == SPINE_MRI else None,
        studies=tuple(s for s in ("emg", "ncs") if s in studies),
        limbs=limbs,
        side=side,
        matched_by=matched_by,
        evidence=tuple(evidence),
        order_reference=order.reference,
        indications=indications,
    )


def is_edx_not_spine(order: DraftOrder, vs: ValueSets) -> bool:
    """Whether ``order`` is an electrodiagnostic study that is not spine work-up.

    A coding in ``order-edx-not-spine`` decides it, whatever else the order carries (a facial
    study is billed as a nerve conduction code plus a cranial-nerve EMG code); so does order
    text that names an electrodiagnostic test ("EMG", "NCS", "blink reflex", "single fiber EMG",
    "repetitive nerve stimulation") and a non-spine target or method.
    """
    for coding in order.codings:
        if vs.lookup("order-edx-not-spine", coding.system, coding.code) is not None:
            return True
    return names_edx_not_spine(order.text or "")


def names_edx_not_spine(text: str) -> bool:
    """Whether a title ("EMG facial nerve", "Blink reflex", "Single fiber EMG") names an
    electrodiagnostic test of a non-spine target or by a non-spine method."""
    text = text[:500]
    if not text.strip() or not _EDX_NOT_SPINE.search(text):
        return False
    # "Blink reflex", "single fiber EMG", "repetitive nerve stimulation" name the test themselves.
    return bool(_EDX_BOTH.search(text) or _EMG.search(text) or _NCS.search(text) or _EDX_METHOD.search(text))


_EDX_METHOD = _w(r"blink(?: reflex(?:es)?)?|single[- ]fib(?:er|re)|sf[- ]?emg|jitter|repetitive (?:nerve )?stimulation|rns"
                 r"|neuromuscular junction (?:testing|study)|nerve stimulation")


def _indications(order: DraftOrder, vs: ValueSets) -> tuple[ConditionFinding, ...]:
    grouped: dict[str, list] = {}
    for fact in order_reason_facts(order, vs):
        grouped.setdefault(fact.key, []).append(fact)
    out = []
    for key, facts in grouped.items():
        out.append(
            ConditionFinding(
                kind=key,
                side=merge_sides(*(f.side for f in facts)),
                subtype=next((f.subtype for f in facts if f.subtype), None),
                certainty=Certainty.AFFIRMED if any(f.certainty == Certainty.AFFIRMED for f in facts) else Certainty.HEDGED,
                onset=None,
                evidence=sort_evidence(f.evidence for f in facts),
                region=next((f.region for f in facts if f.region), None),
            )
        )
    return tuple(out)


def kind_from_text(text: str) -> str | None:
    """``spine-mri``, ``electrodiagnostic`` or None, from a free-text title ("MRI L-spine w/o", "EMG/NCV BLE")."""
    return _kind_from_text(text)


def _kind_from_text(text: str) -> str | None:
    if not text or not text.strip():
        return None
    text = text[:500]
    if _MRI.search(text) and _SPINE.search(text) and not _NOT_SPINE_MRI.search(text):
        return SPINE_MRI
    if _EDX_BOTH.search(text) or _EMG.search(text) or _NCS.search(text):
        return ELECTRODIAGNOSTIC
    return None


def regions_from_text(text: str) -> tuple[str, ...]:
    return tuple(r for r in _REGION_ORDER if r in _regions_from_text(text))


def _regions_from_text(text: str) -> list[str]:
    found: list[str] = []
    for rx, regions in _REGIONS:
        if rx.search(text[:500]):
            found.extend(regions)
    return list(dict.fromkeys(found))


def _contrast_from_text(text: str) -> str | None:
    for rx, value in _CONTRAST:
        if rx.search(text[:500]):
            return value
    return None


def _studies_from_text(text: str) -> set[str]:
    text = text[:500]
    if _EDX_BOTH.search(text):
        return {"emg", "ncs"}
    out = set()
    if _EMG.search(text):
        out.add("emg")
    if _NCS.search(text):
        out.add("ncs")
    return out


def _limbs_and_side(text: str) -> tuple[tuple[str, ...], str | None]:
    text = text[:600]
    limbs: list[str] = []
    sides: list[str] = []
    for rx, these, side in _LIMBS:
        for m in rx.finditer(text):
            limbs.extend(these)
            if side:
                sides.append(side)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    if not sides:
        for rx, side in _SIDE:
            if rx.search(text):
                sides.append(side)
    side = None
    if sides:
        side = "bilateral" if "bilateral" in sides or {"left", "right"} <= set(sides) else sides[0]
    ordered = tuple(x for x in ("upper", "lower") if x in limbs)
    return ordered, side
