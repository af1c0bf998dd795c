"""EMG/NCS safety facts: anticoagulants and antiplatelets, implanted cardiac devices, INR, platelets, fever readings."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any, Callable

from ..valuesets import ValueSets
from .attributes import clip
from .dates import PartialDate, choice_date, parse_date
from .facts import Fact
from .fhir_access import ODD_DATA, as_list, coded_evidence, concept_text, match_coded, quantity, rid, rtype
from .model import TEXT, CardiacDevice, Evidence, LabValue, Medication, sort_evidence
from .policy import ReadingPolicy
from .text import AFFIRMED, CLINICAL, compile_terms, normalise

#: MedicationRequest statuses that mean the drug is (or is about to be) taken.
_TAKEN = {"active", "on-hold", "draft", "unknown"}
#: Device statuses that mean it is not in the patient.
_GONE = {"inactive", "entered-in-error"}
#: "ICD" means a defibrillator only on a Device (on a Condition it is usually the code system).
_ICD_DEVICE = re.compile(r"(?<![A-Za-z])(?:ICD|S-ICD|CRT-D)(?![A-Za-z])")


Skipped = Callable[[str, Exception], None]


def _each(items: list[Any], resource_type: str, skipped: Skipped, read: Callable[[Any], None]) -> None:
    """``read`` every item; one that raises on odd data is reported to ``skipped`` and passed over."""
    for item in items:
        try:
            read(item)
        except ODD_DATA as exc:
            skipped(resource_type, exc)


def medications(
    requests: list[Any], facts: list[Fact], vs: ValueSets, skipped: Skipped
) -> tuple[tuple[Medication, ...], tuple[Medication, ...]]:
    """(anticoagulants, antiplatelets) from MedicationRequests and long-term-use conditions (Z79.01 ...)."""
    found: dict[tuple[str, str | None], list[Evidence]] = {}

    def read(req: Any) -> None:
        status = (getattr(req, "status", None) or "unknown").lower()
        if status not in _TAKEN:
            return
        med = getattr(req, "medicationCodeableConcept", None)
        ref = getattr(req, "medicationReference", None)
        text = concept_text(med) or (getattr(ref, "display", None) or "")
        date = _date_text(parse_date(getattr(req, "authoredOn", None)))
        for kind in ("anticoagulant", "antiplatelet"):
            hits = match_coded(vs, (kind,), med)
            if hits:
                for _, entry, coding in hits:
                    found.setdefault((kind, entry.display), []).append(coded_evidence(req, date, entry, coding))
                continue
            term = _term_match(vs, kind, text)
            if term:
                ev = Evidence(rtype(req), rid(req), date, clip(text), TEXT)
                found.setdefault((kind, term), []).append(ev)

    _each(requests, "MedicationRequest", skipped, read)
    for f in facts:
        if f.key in ("anticoagulant", "antiplatelet") and f.current:
            found.setdefault((f.key, None), []).append(f.evidence)
    anticoag = tuple(Medication("anticoagulant", ing, sort_evidence(ev)) for (k, ing), ev in found.items() if k == "anticoagulant")
    antiplt = tuple(Medication("antiplatelet", ing, sort_evidence(ev)) for (k, ing), ev in found.items() if k == "antiplatelet")
    return anticoag, antiplt


_TERM_CACHE: dict[tuple[int, str], tuple[Any, dict[str, str]]] = {}


def _term_match(vs: ValueSets, name: str, text: str) -> str | None:
    """The ingredient whose name or brand (a value-set designation) is in ``text``."""
    if not text:
        return None
    key = (id(vs), name)
    if key not in _TERM_CACHE:
        to_ingredient = {}
        for entry in vs.concepts(name):
            for term in entry.designations:
                to_ingredient[term.lower()] = entry.display
        _TERM_CACHE[key] = (compile_terms(to_ingredient), to_ingredient)
    rx, to_ingredient = _TERM_CACHE[key]
    m = rx.search(text[:500]) if rx else None
    return to_ingredient.get(" ".join(m.group(0).lower().split())) if m else None


def cardiac_devices(devices: list[Any], facts: list[Fact], vs: ValueSets, skipped: Skipped) -> tuple[CardiacDevice, ...]:
    """Pacemakers and defibrillators from Devices (type, name) and from Conditions (Z95.0 ...)."""
    found: dict[str, list[Evidence]] = {}

    def read(dev: Any) -> None:
        status = (getattr(dev, "status", None) or "").lower()
        if status in _GONE:
            return
        type_cc = getattr(dev, "type", None)
        names = [getattr(n, "name", None) or "" for n in as_list(getattr(dev, "deviceName", None))]
        text = "; ".join(t for t in [concept_text(type_cc), *names] if t)
        hits = match_coded(vs, ("cardiac-device",), type_cc)
        if hits:
            for _, entry, coding in hits:
                found.setdefault(entry.attr("subtype") or "other-cardiac-implant", []).append(coded_evidence(dev, None, entry, coding))
            return
        kind = _device_kind_from_text(text)
        if kind:
            found.setdefault(kind, []).append(Evidence(rtype(dev), rid(dev), None, clip(text), TEXT))

    _each(devices, "Device", skipped, read)
    for f in facts:
        if f.key == "cardiac-device" and f.current:
            found.setdefault(f.subtype or "other-cardiac-implant", []).append(f.evidence)
    return tuple(CardiacDevice(kind, sort_evidence(ev)) for kind, ev in found.items())


def _device_kind_from_text(text: str) -> str | None:
    if not text:
        return None
    if _ICD_DEVICE.search(text):
        return "defibrillator"
    norm, _ = normalise(text)
    kinds = {m.concept for m in CLINICAL.mentions(norm[:500]) if m.certainty == AFFIRMED}
    if "cardiac_defibrillator" in kinds:
        return "defibrillator"
    if "cardiac_pacemaker" in kinds:
        return "pacemaker"
    return None


def fever_readings(observations: list[Any], vs: ValueSets, now: datetime, policy: ReadingPolicy, skipped: Skipped) -> list[Fact]:
    """Fever facts from body temperatures at or above the policy threshold, recent and dated."""
    out: list[Fact] = []

    def read(obs: Any) -> None:
        if (getattr(obs, "status", None) or "").lower() in ("entered-in-error", "cancelled"):
            return
        hits = match_coded(vs, ("body-temperature",), getattr(obs, "code", None))
        if not hits:
            return
        q = quantity(getattr(obs, "valueQuantity", None))
        when = choice_date(obs, "effective") or parse_date(getattr(obs, "issued", None))
        if q is None or when is None or when.days_before(now)[0] > policy.recent_fever_days:
            return
        celsius = _celsius(*q)
        if celsius is None or celsius < policy.fever_celsius:
            return
        _, entry, coding = hits[0]
        ev = coded_evidence(obs, when.text, entry, coding)
        ev = dataclasses.replace(ev, text=clip(f"{entry.display} {q[0]:g} {q[1] or ''}".strip()))
        out.append(Fact("fever", AFFIRMED, ev, when, "onset", True))

    _each(observations, "Observation", skipped, read)
    return out


def _celsius(value: float, unit: str | None) -> float | None:
    unit = (unit or "").strip().lower().replace("°", "deg")
    if unit in ("cel", "c", "degc"):
        return value
    if unit in ("[degf]", "f", "degf"):
        return (value - 32) * 5 / 9
    return value if 30 <= value <= 45 else None  # no unit: a plausible Celsius body temperature


def labs(
    observations: list[Any], vs: ValueSets, now: datetime, policy: ReadingPolicy, skipped: Skipped
) -> tuple[LabValue | None, LabValue | None]:
    """(latest INR, latest platelet count in 10*3/uL) within the policy's lookback."""
    latest: dict[str, tuple[PartialDate, LabValue]] = {}

    def read(obs: Any) -> None:
        if (getattr(obs, "status", None) or "").lower() in ("entered-in-error", "cancelled"):
            return
        for kind, name in (("inr", "inr"), ("platelets", "platelet-count")):
            hits = match_coded(vs, (name,), getattr(obs, "code", None))
            if not hits:
                continue
            q = quantity(getattr(obs, "valueQuantity", None))
            when = choice_date(obs, "effective") or parse_date(getattr(obs, "issued", None))
            if q is None or when is None or when.days_before(now)[0] > policy.lab_lookback_days:
                continue
            value, unit = q if kind == "inr" else _platelets(*q)
            if value is None:
                continue
            _, entry, coding = hits[0]
            ev = coded_evidence(obs, when.text, entry, coding)
            lab = LabValue(kind, value, unit, when.text, (ev,))
            if kind not in latest or when.latest > latest[kind][0].latest:
                latest[kind] = (when, lab)

    _each(observations, "Observation", skipped, read)
    return (latest["inr"][1] if "inr" in latest else None, latest["platelets"][1] if "platelets" in latest else None)


def _platelets(value: float, unit: str | None) -> tuple[float | None, str]:
    """A platelet count in 10*3/uL (= 10*9/L); counts per uL are divided by 1000."""
    u = (unit or "").replace(" ", "").lower()
    if u in ("10*3/ul", "10^3/ul", "k/ul", "10*9/l", "10^9/l", "x10e3/ul", "thou/ul", "10e3/ul"):
        return value, "10*3/uL"
    if u in ("/ul", "1/ul", "/mm3", "cells/ul"):
        return value / 1000, "10*3/uL"
    if not u and value < 2000:
        return value, "10*3/uL"
    return None, "10*3/uL"


def _date_text(d: PartialDate | None) -> str | None:
    return d.text if d else None
