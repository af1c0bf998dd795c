"""MRI safety facts: implanted neurostimulators, current pregnancy (Conditions and positive tests), dialysis.

The reader says what the record states, with dates; whether a pregnancy or an eGFR is recent enough
to matter is the pre-test table's (``config/guidelines/pretest.yaml``, applied by the rules).
"""

from __future__ import annotations

import re
from typing import Any

from ..valuesets import ValueSets
from .attributes import clip
from .dates import choice_date, parse_date
from .facts import Fact
from .fhir_access import as_list, coded_evidence, concept_text, match_coded, status_codes
from .model import TEXT, ConditionFinding, Evidence, Neurostimulator, sort_evidence
from .safety import Skipped, _each
from .text import AFFIRMED, CLINICAL, normalise

_GONE = {"inactive", "entered-in-error"}
_SPINAL = re.compile(r"spinal cord|dorsal column|\bscs\b", re.IGNORECASE)
_POSITIVE = re.compile(r"\b(?:positive|pos|detected|reactive)\b", re.IGNORECASE)
_NOT_POSITIVE = re.compile(r"\b(?:negative|neg|not detected|non-?reactive|no|not|indeterminate|equivocal)\b", re.IGNORECASE)


def neurostimulators(devices: list[Any], facts: list[Fact], skipped: Skipped) -> tuple[Neurostimulator, ...]:
    """Neurostimulators from Device type text and names, and from Conditions (Z96.82, or the words)."""
    found: dict[str, list[Evidence]] = {}

    def read(dev: Any) -> None:
        if (getattr(dev, "status", None) or "").lower() in _GONE:
            return
        names = [getattr(n, "name", None) or "" for n in as_list(getattr(dev, "deviceName", None))]
        text = "; ".join(t for t in [concept_text(getattr(dev, "type", None)), *names] if t)
        norm, _ = normalise(text) if text else ("", None)
        if any(m.concept == "neurostimulator" and m.certainty == AFFIRMED for m in CLINICAL.mentions(norm[:500])):
            found.setdefault(_kind(text), []).append(Evidence(_rtype(dev), getattr(dev, "id", None), None, clip(text), TEXT))

    _each(devices, "Device", skipped, read)
    for f in facts:
        if f.key == "neurostimulator" and f.current and f.certainty == AFFIRMED:
            found.setdefault(_kind(f.evidence.text), []).append(f.evidence)
    return tuple(Neurostimulator(kind, sort_evidence(ev)) for kind, ev in found.items())


def _kind(text: str) -> str:
    return "spinal-cord-stimulator" if _SPINAL.search(text or "") else "neurostimulator"


def _rtype(resource: Any) -> str:
    try:
        return resource.get_resource_type()
    except AttributeError:
        return type(resource).__name__


#: The value set of pregnancy tests the pregnancy reader reads.
PREGNANCY_TEST_VALUESET = "pregnancy-test"


def pregnancy(facts: list[Fact], observations: list[Any], vs: ValueSets, skipped: Skipped) -> tuple[ConditionFinding, ...]:
    """One finding per current pregnancy Condition and per positive pregnancy test, each with its own date."""
    out = [ConditionFinding("pregnancy", None, None, f.certainty, f.onset, (f.evidence,))
           for f in facts if f.key == "pregnancy" and f.current and f.certainty == AFFIRMED]

    def read(obs: Any) -> None:
        if (getattr(obs, "status", None) or "").lower() in ("entered-in-error", "cancelled", "registered"):
            return
        hits = match_coded(vs, (PREGNANCY_TEST_VALUESET,), getattr(obs, "code", None))
        if not hits or not _positive(obs):
            return
        when = choice_date(obs, "effective") or parse_date(getattr(obs, "issued", None))
        if when is None:
            return  # an undated test cannot be said to be recent
        _, entry, coding = hits[0]
        ev = coded_evidence(obs, when.text, entry, coding)
        ev = Evidence(ev.resource_type, ev.resource_id, ev.date, clip(f"{ev.text}: positive"), ev.matched_by,
                      ev.certainty, ev.code, ev.value_set, ev.verification)
        out.append(ConditionFinding("pregnancy", None, "positive-test", AFFIRMED, when, (ev,)))

    _each(observations, "Observation", skipped, read)
    return tuple(out)


def _positive(obs: Any) -> bool:
    """The test says positive: a positive value (coded, text, true) or a POS interpretation; never on a negative word."""
    if getattr(obs, "valueBoolean", None) is True:
        return True
    value = concept_text(getattr(obs, "valueCodeableConcept", None)) or (getattr(obs, "valueString", None) or "")
    if isinstance(value, str) and value.strip():
        return bool(_POSITIVE.search(value)) and not _NOT_POSITIVE.search(value)
    codes = set()
    for cc in as_list(getattr(obs, "interpretation", None)):
        codes |= status_codes(cc)
    return "pos" in codes
