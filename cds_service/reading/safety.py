"""Safety facts: anticoagulants and antiplatelets, implanted cardiac devices, INR, platelets, eGFR, fever readings."""

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
from .thresholds import ReadingThresholds
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


#: The value set of body temperatures the fever reader reads.
TEMPERATURE_VALUESET = "body-temperature"


def fever_readings(observations: list[Any], vs: ValueSets, now: datetime, thresholds: ReadingThresholds, skipped: Skipped) -> list[Fact]:
    """Fever facts from body temperatures at or above the fever threshold, recent and dated."""
    out: list[Fact] = []

    def read(obs: Any) -> None:
        if (getattr(obs, "status", None) or "").lower() in ("entered-in-error", "cancelled"):
            return
        hits = match_coded(vs, (TEMPERATURE_VALUESET,), getattr(obs, "code", None))
        if not hits:
            return
        q = quantity(getattr(obs, "valueQuantity", None))
        when = choice_date(obs, "effective") or parse_date(getattr(obs, "issued", None))
        if q is None or when is None or when.days_before(now)[0] > thresholds.recent_fever_days:
            return
        celsius = _celsius(*q)
        if celsius is None or celsius < thresholds.fever_celsius:
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


#: Lab kind -> its value set.
_LABS = (("inr", "inr"), ("platelets", "platelet-count"), ("egfr", "egfr"))
LAB_VALUESETS = frozenset(name for _, name in _LABS)
_STRING_VALUE = re.compile(r"^\s*(<=|>=|<|>|\u2264|\u2265)?\s*(\d{1,7}(?:,\d{3})*(?:[.,]\d+)?)\s*(\S.{0,40})?$")
_COMPARATOR = {"\u2264": "<=", "\u2265": ">="}


def labs(
    observations: list[Any], vs: ValueSets, skipped: Skipped
) -> tuple[LabValue | None, LabValue | None, LabValue | None]:
    """(latest INR, latest platelet count in 10*3/uL, latest eGFR in mL/min/1.73 m2), dated, whatever their age.

    How recent a value must be to count is the pre-test table's (config/guidelines/pretest.yaml), not the reader's.
    A value may be a bound ("<15" as valueString, or a Quantity comparator): the comparator is kept.
    """
    latest: dict[str, tuple[PartialDate, LabValue]] = {}

    def read(obs: Any) -> None:
        if (getattr(obs, "status", None) or "").lower() in ("entered-in-error", "cancelled"):
            return
        for kind, name in _LABS:
            hits = match_coded(vs, (name,), getattr(obs, "code", None))
            if not hits:
                continue
            when = choice_date(obs, "effective") or parse_date(getattr(obs, "issued", None))
            raw = _lab_value(obs)
            if raw is None or when is None:
                continue
            number, unit, comparator = raw
            value, unit = _NORMALISE[kind](number, unit)
            if value is None:
                continue
            _, entry, coding = hits[0]
            ev = coded_evidence(obs, when.text, entry, coding)
            shown = f"{comparator or ''}{number:g}" + (f" {raw[1]}" if raw[1] else "")
            ev = dataclasses.replace(ev, text=clip(f"{ev.text}: {shown}"))
            lab = LabValue(kind, value, unit, when.text, (ev,), comparator)
            if kind not in latest or when.latest > latest[kind][0].latest:
                latest[kind] = (when, lab)

    _each(observations, "Observation", skipped, read)
    found = {kind: lab for kind, (_, lab) in latest.items()}
    return found.get("inr"), found.get("platelets"), found.get("egfr")


def _lab_value(obs: Any) -> tuple[float, str | None, str | None] | None:
    """(number, unit, comparator) of a valueQuantity or a numeric valueString ("<15", "4.8", ">60 mL/min")."""
    q = getattr(obs, "valueQuantity", None)
    if q is not None:
        got = quantity(q)
        if got is None:
            return None
        comparator = getattr(q, "comparator", None)
        return got[0], got[1], str(comparator) if comparator else None
    text = getattr(obs, "valueString", None)
    m = _STRING_VALUE.match(text) if isinstance(text, str) else None
    if not m:
        return None
    digits = m.group(2)
    digits = digits.replace(",", "") if _THOUSANDS.search(digits) else digits.replace(",", ".")
    comparator = _COMPARATOR.get(m.group(1), m.group(1))
    return float(digits), (m.group(3) or "").strip() or None, comparator


_THOUSANDS = re.compile(r"\d,\d{3}(?:\D|$)")


def _inr(value: float, unit: str | None) -> tuple[float | None, str | None]:
    # An INR is a ratio; a result in seconds is a prothrombin time, not an INR.
    u = (unit or "").strip().lower()
    return (None, None) if u in ("s", "sec", "seconds") else (value, "INR")


def _platelets(value: float, unit: str | None) -> tuple[float | None, str]:
    """A platelet count in 10*3/uL (= 10*9/L); counts per uL are divided by 1000."""
    u = (unit or "").replace(" ", "").lower().replace("\u00b5", "u").replace("\u03bc", "u")
    if u in ("10*3/ul", "10^3/ul", "k/ul", "10*9/l", "10^9/l", "x10e3/ul", "thou/ul", "10e3/ul", "x10^9/l"):
        return value, "10*3/uL"
    if u in ("/ul", "1/ul", "/mm3", "cells/ul"):
        return value / 1000, "10*3/uL"
    if not u:
        # No unit: 150 can only be thousands per uL, 150000 only a count per uL.
        return (value, "10*3/uL") if value < 2000 else (value / 1000, "10*3/uL")
    return None, "10*3/uL"


def _egfr(value: float, unit: str | None) -> tuple[float | None, str]:
    """An eGFR in mL/min/1.73 m2 (SI mL/s/1.73 m2 times 60); no unit: a plausible value as mL/min."""
    u = (unit or "").replace(" ", "").lower()
    if "ml/min" in u:
        return value, "mL/min/1.73m2"
    if "ml/s" in u:
        return value * 60, "mL/min/1.73m2"
    if not u and 0 <= value <= 250:
        return value, "mL/min/1.73m2"
    return None, "mL/min/1.73m2"


_NORMALISE = {"inr": _inr, "platelets": _platelets, "egfr": _egfr}


def _date_text(d: PartialDate | None) -> str | None:
    return d.text if d else None
