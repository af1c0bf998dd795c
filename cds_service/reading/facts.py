"""From one Condition or Observation to the clinical facts it states, coded first, text second.

A *fact* is one concept (``urinary-retention``, ``carpal-tunnel-syndrome``,
``radiculopathy`` ...) stated by one resource, with its evidence, certainty,
dates and attributes (side, region, levels, roots, limb, subtype). The
findings module groups facts into the finding types cards use.

Which resources count:

- Condition with verificationStatus refuted or entered-in-error: never.
- Condition provisional/differential/unconfirmed: counts, as ``hedged``.
- Condition current = clinicalStatus active/recurrence/relapse, or no
  clinicalStatus and no abatement. Non-current conditions still yield facts
  (``current=False``); the findings module decides per concept (cancer history
  counts, a resolved sciatica does not).
- Observation with status entered-in-error or cancelled: never. Observations
  state a sign *present* unless their value says absent (valueBoolean false,
  a "negative/absent/no" value).
"""

from __future__ import annotations

import dataclasses
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from ..valuesets import ValueSets
from . import attributes as at
from . import memo
from .dates import PartialDate, choice_date, parse_date
from .fhir_access import (
    as_list, coded_evidence, codings, concept_text, is_code_wording, match_coded, rtype, status_codes, text_evidence,
    value_wording,
)
from .levels import disc_levels, find_level_tokens, group_tokens, region_of
from .model import Evidence
from .text import AFFIRMED, CLINICAL, HEDGED, normalise, split_sentences


#: What one call reads of its Conditions' and Observations' own words (labels, values, notes) and codings.
#: Reading text costs ~1 us per character with concept words in it; a body within max_body_bytes could
#: hold millions of label characters (bench/bounded_cost.py, "long-labels": 12.8 s of CPU at 10 MiB).
#: Both readers (facts, localisation) count. The heavy bench patient reads ~54,000 characters and 700 codings.
MAX_RECORD_TEXT_CHARS = 100_000
MAX_RECORD_CODINGS = 20_000


class ReadingBudget:
    """What is left of one call's :data:`MAX_RECORD_TEXT_CHARS` and :data:`MAX_RECORD_CODINGS`, and the
    resource types whose text or codings went unread once it ran out (``read_record`` makes them data gaps)."""

    def __init__(self, text_chars: int = MAX_RECORD_TEXT_CHARS, codings: int = MAX_RECORD_CODINGS):
        self.text_left = text_chars
        self.codings_left = codings
        #: resourceType -> reasons ("record-text-limit", "record-coding-limit").
        self.unread: dict[str, set[str]] = {}

    def _spent(self, resource: Any, reason: str) -> bool:
        self.unread.setdefault(rtype(resource), set()).add(reason)
        return False

    def take_text(self, resource: Any, text: str) -> bool:
        """Whether ``text`` may be read: not when it does not fit in what is left (a shorter later one may)."""
        if len(text) > self.text_left:
            return self._spent(resource, "record-text-limit")
        self.text_left -= len(text)
        return True

    def take_codings(self, resource: Any, found: list) -> list:
        """``found`` if its codings fit in what is left, else none of them (a later, smaller concept may fit)."""
        if len(found) > self.codings_left:
            self._spent(resource, "record-coding-limit")
            return []
        self.codings_left -= len(found)
        return found


_BUDGET: ContextVar[ReadingBudget | None] = ContextVar("reading_budget", default=None)


def reading_budget_now() -> ReadingBudget | None:
    """The budget the current call's reading counts against, if any."""
    return _BUDGET.get()


@contextmanager
def reading_budget(budget: ReadingBudget):
    """Count the facts read meanwhile (in this context) against ``budget``."""
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


@dataclass(frozen=True)
class ConceptSpec:
    """A concept the reader looks for: its value sets (coded) and its lexicon concepts (text)."""

    key: str
    valuesets: tuple[str, ...]
    text: tuple[str, ...]


def _spec(key: str, valuesets: tuple[str, ...] = (), text: tuple[str, ...] = ()) -> ConceptSpec:
    return ConceptSpec(key, valuesets, text)


#: Every concept read from Conditions and Observations.
CONCEPTS: tuple[ConceptSpec, ...] = (
    # red flags
    _spec("cauda-equina-syndrome", ("cauda-equina",), ("cauda_equina",)),
    _spec("urinary-retention", ("urinary-retention",), ("urinary_retention",)),
    _spec("urinary-incontinence", ("urinary-incontinence",), ("urinary_incontinence",)),
    _spec("bladder-dysfunction", ("bladder-dysfunction",), ("bladder_dysfunction",)),
    _spec("fecal-incontinence", ("fecal-incontinence",), ("fecal_incontinence",)),
    _spec("saddle-anesthesia", (), ("saddle_anesthesia",)),
    _spec("progressive-weakness", (), ("progressive_weakness",)),
    _spec("severe-weakness", (), ("severe_weakness",)),
    _spec("foot-drop", ("foot-drop",), ("foot_drop",)),
    _spec("myelopathy", ("myelopathy",), ("myelopathy",)),
    _spec("gait-disturbance", ("gait-disturbance",), ("gait_disturbance",)),
    _spec("balance-disturbance", (), ("balance_disturbance",)),
    _spec("hand-clumsiness", (), ("hand_clumsiness",)),
    _spec("hyperreflexia", (), ("hyperreflexia",)),
    _spec("hoffmann-sign", (), ("hoffmann_sign",)),
    _spec("clonus", (), ("clonus",)),
    _spec("babinski-sign", (), ("babinski_sign",)),
    _spec("lhermitte-sign", (), ("lhermitte_sign",)),
    _spec("fever", ("fever",), ("fever",)),
    _spec("spinal-infection", ("spinal-infection",), ("spinal_infection",)),
    _spec("iv-drug-use", (), ("iv_drug_use",)),
    _spec("cancer", ("cancer",), ("malignancy", "metastasis")),
    # A cancer code also in this set is not the cancer red flag (reading.red_flags).
    _spec("non-melanoma-skin-cancer", ("non-melanoma-skin-cancer",), ()),
    _spec("spine-fracture", ("spine-fracture",), ("spine_fracture",)),
    _spec("significant-trauma", (), ("significant_trauma",)),
    # root problem and axial pain
    _spec("radiculopathy", ("radiculopathy",), ("radiculopathy",)),
    _spec("sciatica", ("sciatica",), ("sciatica",)),
    _spec("spinal-stenosis", ("spinal-stenosis",), ("spinal_stenosis",)),
    _spec("disc-herniation", (), ("disc_herniation",)),
    _spec("axial-pain", ("axial-pain",), ("low_back_pain", "neck_pain", "thoracic_back_pain")),
    # mimics
    _spec("carpal-tunnel-syndrome", ("carpal-tunnel-syndrome",), ("carpal_tunnel",)),
    _spec("ulnar-neuropathy", ("ulnar-neuropathy",), ("ulnar_neuropathy",)),
    _spec("peroneal-neuropathy", ("peroneal-neuropathy",), ("peroneal_neuropathy",)),
    _spec("tarsal-tunnel-syndrome", ("tarsal-tunnel-syndrome",), ("tarsal_tunnel",)),
    _spec("radial-neuropathy", ("radial-neuropathy",), ("radial_neuropathy",)),
    _spec("meralgia-paresthetica", ("meralgia-paresthetica",), ("meralgia_paresthetica",)),
    _spec("polyneuropathy", ("polyneuropathy",), ("polyneuropathy",)),
    _spec("plexopathy", ("plexopathy",), ("plexopathy",)),
    _spec("myopathy", ("myopathy",), ("myopathy",)),
    _spec("motor-neuron-disease", ("motor-neuron-disease",), ("motor_neuron_disease",)),
    _spec("myasthenia", ("myasthenia",), ("nmj_disorder",)),
    # symptom character
    _spec("sensory", ("sensory-symptoms",), ("sensory",)),
    _spec("weakness", ("muscle-weakness",), ("weakness",)),
    _spec("intermittent", (), ("intermittent",)),
    _spec("radiating-pain", (), ("radiating_pain",)),
    _spec("limb-pain", ("limb-pain",), ()),
    # other conditions that bear on the order
    _spec("diabetes", ("diabetes",), ("diabetes",)),
    _spec("bleeding-disorder", ("bleeding-disorder",), ("bleeding_disorder",)),
    _spec("lymphedema", ("lymphedema",), ("lymphedema",)),
    _spec("anticoagulant", ("anticoagulant",), ()),
    _spec("antiplatelet", ("antiplatelet",), ()),
    _spec("cardiac-device", ("cardiac-device",), ("cardiac_pacemaker", "cardiac_defibrillator")),
    # before a spine MRI (coded only: a word "pregnancy" or "dialysis" in a note is too often about something else)
    _spec("neurostimulator", ("neurostimulator",), ("neurostimulator",)),
    _spec("dialysis", ("dialysis",), ()),
    _spec("pregnancy", ("pregnancy",), ()),
)
_BY_TEXT: Mapping[str, ConceptSpec] = {t: spec for spec in CONCEPTS for t in spec.text}
_BY_VALUESET: Mapping[str, tuple[ConceptSpec, ...]] = {
    name: tuple(spec for spec in CONCEPTS if name in spec.valuesets) for spec in CONCEPTS for name in spec.valuesets
}
#: Text concepts that name a device kind (the value sets use a subtype attribute).
_DEVICE_SUBTYPE = {"cardiac_pacemaker": "pacemaker", "cardiac_defibrillator": "defibrillator"}
_TEXT_SUBTYPE = {"metastasis": "metastasis", **_DEVICE_SUBTYPE}
#: Text concepts that a longer mention of another concept swallows ("ulnar neuropathy" is not
#: also a polyneuropathy; "progressive weakness" is a red flag, not just weakness).
_GENERIC_TEXT = frozenset({"polyneuropathy", "weakness", "sensory", "spinal_stenosis", "low_back_pain", "neck_pain", "malignancy", "radiating_pain"})

#: Text concepts that name their spine region whatever else the sentence says.
_CONCEPT_REGION = {"low_back_pain": "lumbar", "thoracic_back_pain": "thoracic", "neck_pain": "cervical", "sciatica": "lumbar"}

_CURRENT = {"active", "recurrence", "relapse"}
_NEVER = {"refuted", "entered-in-error"}
_HEDGED_VERIFICATION = {"provisional", "differential", "unconfirmed"}
_ABSENT_VALUE = re.compile(r"^\s*(?:no|none|absent|negative|not present|not seen|denies|denied|nil|neg)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Fact:
    key: str
    certainty: str
    evidence: Evidence
    onset: PartialDate | None
    onset_basis: str | None
    current: bool
    side: str | None = None
    region: str | None = None
    levels: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    limb: str | None = None
    subtype: str | None = None


def required_valuesets() -> set[str]:
    return {name for spec in CONCEPTS for name in spec.valuesets} | {"finding-absent"}


def condition_facts(condition: Any, vs: ValueSets, birth: PartialDate | None) -> list[Fact]:
    """Facts a Condition states. Refuted or entered-in-error conditions state none."""
    verification = status_codes(getattr(condition, "verificationStatus", None))
    if verification & _NEVER:
        return []
    clinical = status_codes(getattr(condition, "clinicalStatus", None))
    abated = any(
        getattr(condition, "abatement" + s, None) is not None
        for s in ("DateTime", "Age", "Period", "Range", "String", "Boolean")
    )
    current = bool(clinical & _CURRENT) if clinical else not abated
    certainty = HEDGED if verification & _HEDGED_VERIFICATION else AFFIRMED
    onset = choice_date(condition, "onset", birth)
    basis = "onset" if onset else None
    if onset is None:
        onset = parse_date(getattr(condition, "recordedDate", None))
        basis = "recorded" if onset else None
    date_text = onset.text if onset else None
    code = getattr(condition, "code", None)
    site_text = concept_text(getattr(condition, "bodySite", None))
    texts = [concept_text(code)] + [getattr(n, "text", None) or "" for n in as_list(getattr(condition, "note", None))]
    # A provisional verification hedges the diagnosis (the code and its text), not the exam findings its
    # notes record ("Positive Hoffmann sign on both sides"): those are read at their own words.
    return _facts(condition, vs, [code], texts, site_text, certainty, onset, basis, current, date_text,
                  note_certainty=AFFIRMED, first_is_code_wording=is_code_wording(code))


def order_reason_facts(order: Any, vs: ValueSets) -> list[Fact]:
    """Facts an order's reasonCode states (codings and text), as if it were a current Condition."""
    shim = OrderShim(order)
    concept = _Concept(list(getattr(order, "reason_codings", ()) or ()))
    texts = [getattr(order, "reason_text", "") or ""]
    # The reason text repeats the coding displays: read it only for what the codes did not say.
    authored = parse_date(getattr(order, "authored_on", None))
    return _facts(shim, vs, [concept], texts, "", AFFIRMED, None, None, True, authored.text if authored else None)


@dataclass(frozen=True)
class _Concept:
    coding: list


class OrderShim:
    """A DraftOrder seen as a resource for evidence (type and id)."""

    def __init__(self, order: Any):
        self._order = order
        self.id = getattr(order, "id", None)

    def get_resource_type(self) -> str:
        return getattr(self._order, "resource_type", "ServiceRequest")


def observation_facts(observation: Any, vs: ValueSets, now: datetime, lookback_days: int) -> list[Fact]:
    """Facts an Observation states (signs and symptoms), unless its value says the sign is absent."""
    status = (getattr(observation, "status", None) or "").lower()
    if status in ("entered-in-error", "cancelled"):
        return []
    when = choice_date(observation, "effective") or parse_date(getattr(observation, "issued", None))
    if when is not None and when.days_before(now)[0] > lookback_days:
        return []
    code = getattr(observation, "code", None)
    value_cc = getattr(observation, "valueCodeableConcept", None)
    value_text, value_is_code = value_wording(observation)
    if _observation_absent(observation, vs, value_text):
        return []
    label = concept_text(code)
    texts = [f"{label}: {value_text}" if label and value_text else (label or value_text)]
    texts += [getattr(n, "text", None) or "" for n in as_list(getattr(observation, "note", None))]
    date_text = when.text if when else None
    return _facts(observation, vs, [code, value_cc], texts, "", AFFIRMED, when, "onset" if when else None, True, date_text,
                  first_is_code_wording=value_is_code and is_code_wording(code))


def _observation_absent(observation: Any, vs: ValueSets, value_text: str) -> bool:
    if getattr(observation, "valueBoolean", None) is False:
        return True
    value_cc = getattr(observation, "valueCodeableConcept", None)
    if value_cc is not None and match_coded(vs, ("finding-absent",), value_cc):
        return True
    interpretation = set()
    for cc in as_list(getattr(observation, "interpretation", None)):
        interpretation |= status_codes(cc)
    if "neg" in interpretation:
        return True
    return bool(value_text) and bool(_ABSENT_VALUE.match(value_text))


def _facts(resource, vs, concepts, texts, site_text, certainty, onset, basis, current, date_text,
           note_certainty: str | None = None, first_is_code_wording: bool = False) -> list[Fact]:
    """``texts[0]`` is the concept's own text, read at ``certainty``; later texts (notes) at ``note_certainty``
    (default the same). A text fact of a concept the codes already state only enriches the coded fact.
    ``first_is_code_wording``: ``texts[0]`` is code-system wording only (the memo may keep its reading)."""
    facts: list[Fact] = []
    coded_keys: set[str] = set()
    budget = _BUDGET.get()
    found = codings(concepts)
    if budget is not None:
        found = budget.take_codings(resource, found)
    for coding in found:
        for entry in vs.memberships(getattr(coding, "system", None), getattr(coding, "code", None)):
            for spec in _BY_VALUESET.get(entry.value_set, ()):
                coded_keys.add(spec.key)
                level = entry.attr("spine-level")
                facts.append(
                    Fact(
                        key=spec.key,
                        certainty=certainty,
                        evidence=coded_evidence(resource, date_text, entry, coding, certainty),
                        onset=onset,
                        onset_basis=basis,
                        current=current,
                        side=entry.attr("laterality") or at.side_in(site_text),
                        region=entry.attr("spine-region") or (region_of(level) if level else None),
                        levels=(level,) if level else (),
                        limb=entry.attr("limb"),
                        subtype=entry.attr("subtype"),
                    )
                )
    for i, text in enumerate(texts):
        if not text or not text.strip():
            continue
        if budget is not None and not budget.take_text(resource, text):
            continue
        text_certainty = certainty if i == 0 or note_certainty is None else note_certainty
        code_wording = i == 0 and first_is_code_wording
        for fact in _text_facts(resource, text, site_text, text_certainty, onset, basis, current, date_text, code_wording):
            if fact.key in coded_keys:
                # Coded first: the text only adds detail the code lacks (side, roots, levels), and
                # the code's own label may hedge it ("Right S1 radiculopathy, suspected").
                hedge = i == 0 and fact.certainty == HEDGED
                facts = [_enrich(f, fact, hedge) if f.key == fact.key and f.evidence.matched_by == "coded" else f for f in facts]
            else:
                facts.append(fact)
    return facts


def _enrich(coded: Fact, text: Fact, hedge: bool = False) -> Fact:
    evidence = coded.evidence
    if hedge and coded.certainty != HEDGED:
        evidence = dataclasses.replace(evidence, certainty=HEDGED)
    return Fact(
        key=coded.key,
        certainty=HEDGED if hedge else coded.certainty,
        evidence=evidence,
        onset=coded.onset,
        onset_basis=coded.onset_basis,
        current=coded.current,
        side=coded.side or text.side,
        region=coded.region or text.region,
        levels=coded.levels or text.levels,
        roots=coded.roots or text.roots,
        limb=coded.limb or text.limb,
        subtype=coded.subtype or text.subtype,
    )


def _text_facts(resource, text, site_text, certainty, onset, basis, current, date_text, code_wording=False) -> list[Fact]:
    out: list[Fact] = []
    for hit in memo.read("clinical", text, _read_clinical_text, code_wording):
        fact_certainty = HEDGED if HEDGED in (hit.certainty, certainty) else AFFIRMED
        evidence_certainty = hit.certainty if hit.certainty != AFFIRMED else fact_certainty
        out.append(
            Fact(
                key=hit.key,
                certainty=fact_certainty,
                evidence=text_evidence(resource, date_text, hit.sentence, evidence_certainty),
                onset=onset,
                onset_basis=basis,
                current=current,
                side=hit.side or at.side_in(site_text),
                region=hit.region,
                levels=hit.levels,
                roots=hit.roots,
                limb=hit.limb,
                subtype=hit.subtype,
            )
        )
    return out


@dataclass(frozen=True)
class _TextHit:
    """One concept a clinical text states, from the text alone (the resource adds the rest)."""

    key: str
    #: The mention's own certainty (affirmed or hedged).
    certainty: str
    sentence: str
    side: str | None
    region: str | None
    levels: tuple[str, ...]
    roots: tuple[str, ...]
    limb: str | None
    subtype: str | None


def _read_clinical_text(text: str) -> tuple[_TextHit, ...]:
    norm, _ = normalise(text)
    if not CLINICAL.could_mention(norm):
        return ()
    out: list[_TextHit] = []
    for sentence in split_sentences(norm):
        s = sentence.text
        mentions = CLINICAL.mentions(s)
        if not mentions:
            continue
        mentions = _drop_swallowed(mentions)
        section_other = sentence.section == "family history"
        tokens = find_level_tokens(s)
        groups = group_tokens(s, tokens)
        for m in mentions:
            spec = _BY_TEXT.get(m.concept)
            if spec is None or m.certainty not in (AFFIRMED, HEDGED) or section_other:
                continue
            pre = at.last_words(s[: m.start], 4)
            post = s[m.end : m.end + 40]
            side = at.merge_sides(at.side_in(pre), at.side_in(m.text)) or at.side_after(post)
            # In a problem list "L5" is a root and "L4-5" a disc level (an EMG report reads
            # "L4-5" as two roots; a clinician's problem entry usually means the disc).
            found_roots = tuple(t.first for t in tokens if not t.is_pair) if spec.key == "radiculopathy" else ()
            found_levels = tuple(lv for g in groups for lv in disc_levels(g))
            region = at.region_in(s) or (region_of((found_roots or found_levels)[0]) if (found_roots or found_levels) else None)
            if m.concept in _CONCEPT_REGION:
                # Plain "back pain" beside a thoracic level ("tender at T7") is that level's pain.
                thoracic_back = m.concept == "low_back_pain" and m.text.lower() == "back pain" and (
                    region == "thoracic" or any(region_of(t.first) == "thoracic" and not t.is_pair for t in tokens))
                region = "thoracic" if thoracic_back else _CONCEPT_REGION[m.concept]
            out.append(
                _TextHit(spec.key, m.certainty, s, side, region, found_levels, found_roots, at.limb_in(s), _TEXT_SUBTYPE.get(m.concept))
            )
    return tuple(out)


def _drop_swallowed(mentions):
    out = []
    for m in mentions:
        if m.concept in _GENERIC_TEXT and any(
            o is not m and o.concept != m.concept and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
            for o in mentions
        ):
            continue
        out.append(m)
    return out
