"""Localising findings from problem-list, exam and order-reason text: areas, muscles, reflexes, tests, contexts.

A text is split into sentences (the reader's own splitter, so negation and hedging cues work the
same as everywhere else). Each anatomy term mentioned in a sentence becomes a finding whose kind
comes from the words around it: a strength grade ("EHL 4/5", "inversion 5/5"), a deficit or a
normal word ("weak", "spared"), a reflex word ("absent Achilles", "brisk"), a test result
("positive Spurling"), a sensory or pain word in the sentence ("numbness of the thumb and index
finger"). The sites each finding points to come from the anatomy tables, never from code here.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Iterable, NamedTuple

from ..reading import memo
from ..reading.attributes import side_in
from ..reading.dates import PartialDate, choice_date, parse_date
from ..reading.facts import reading_budget_now
from ..reading.fhir_access import as_list, concept_text, is_code_wording, status_codes, text_evidence, value_wording
from ..reading.text import (
    AFFIRMED,
    HEDGED,
    NEGATED,
    Lexicon,
    normalise,
    split_sentences,
)
from .anatomy import anatomy
from .model import EXAM, SYMPTOM, LocFinding
from ..reading.certainty import Certainty

_TRAJECTORY = [
    (re.compile(r"\b(?:progressive|progressing|worsening|worse over|getting worse|increasing)\b", re.I), "progressive"),
    (re.compile(r"\b(?:new|new[- ]onset|sudden|acute(?:ly)?)\b", re.I), "new"),
    (re.compile(r"\b(?:stable|unchanged|static|longstanding|long-standing|chronic)\b", re.I), "stable"),
    (re.compile(r"\b(?:improving|improved|recovering|better)\b", re.I), "improving"),
    (re.compile(r"\b(?:resolved|recovered)\b", re.I), "resolved"),
]
_GRADE = re.compile(r"(?<![\d.])([0-5])(?:\s*([+-]))?\s*/\s*5\b")
_NEVER = {"refuted", "entered-in-error"}


class _Hit(NamedTuple):
    """One term in one sentence, from the text alone (the resource adds side, dates and evidence)."""

    group: str
    term: str
    kind: str  # sensory | pain | motor | spared | reflex | provocation | context | upper-motor-neuron | sphincter | gait
    certainty: str
    side: str | None
    sentence: str
    element: str
    trajectory: str | None


class _Lexicons:
    def __init__(self):
        a = anatomy()
        self.terms = Lexicon({t.id: list(t.words) for t in a.terms.values()}, exclusive=True, experiencer=True)

        def cue(name: str) -> re.Pattern:
            return re.compile(r"(?<![A-Za-z0-9])(?:%s)(?![A-Za-z0-9])" % "|".join(a.cues[name]), re.I)

        self.sensory, self.pain, self.weak, self.spared = cue("sensory"), cue("pain"), cue("weak"), cue("spared")
        self.reflex_low, self.reflex_normal = cue("reflex-low"), cue("reflex-normal")
        self.positive, self.negative = cue("positive"), cue("negative")
        self.brisk = re.compile(r"\b(?:brisk|3\+|4\+|hyperactive|exaggerated|increased)\b", re.I)


@lru_cache(maxsize=1)
def _lex() -> _Lexicons:
    return _Lexicons()


def read_text(text: str, code_wording: bool = False) -> tuple[_Hit, ...]:
    """Localising hits in one clinical text (memoised: the same label recurs; ``reading/memo.py``)."""
    return memo.read("localisation", text, _read_text, code_wording)


def _read_text(text: str) -> tuple[_Hit, ...]:
    lex = _lex()
    norm, _ = normalise(text)
    if not lex.terms.could_mention(norm):
        return ()
    a = anatomy()
    out: list[_Hit] = []
    for sentence in split_sentences(norm):
        s = sentence.text
        if sentence.section == "family history":
            continue
        mentions = [m for m in lex.terms.mentions(s) if m.certainty != Certainty.OTHER]
        if not mentions:
            continue
        trajectory = next((t for rx, t in _TRAJECTORY if rx.search(s)), None)
        spans = [(m.start, m.end) for m in mentions]
        for i, m in enumerate(mentions):
            term = a.terms[m.concept]
            # The words that belong to this mention: up to the neighbouring mentions, at most 40 characters.
            lo = max(spans[i - 1][1] if i else 0, m.start - 40)
            hi = min(spans[i + 1][0] if i + 1 < len(spans) else len(s), m.end + 40)
            before, after = s[lo:m.start], s[m.end:hi]
            local = before + " " + after
            kind, certainty = _classify(term.group, m, s, before, after, local, lex)
            if kind is None:
                continue
            side = side_in(before[-25:] + " " + m.text + " " + after[:25]) or side_in(s)
            out.append(_Hit(term.group, term.id, kind, certainty, side, s, _element(s, m, after, term.group, kind),
                            trajectory))
    return tuple(out)


def _element(sentence: str, m, after: str, group: str, kind: str) -> str:
    """What was observed, short: a muscle as its mention and grade ("EHL 4/5", "wrist drop", "biceps
    weakness"); other terms as their sentence unless it is long."""
    grade = _GRADE.match(after.lstrip(" :"))
    text = m.text + (f" {grade.group(0)}" if grade else "")
    if group == "muscles" and kind in ("motor", "spared"):
        if grade or m.text.lower().endswith(("drop", "walking", "walk", "sign")):
            return text
        return f"{m.text} {'weakness' if kind == 'motor' else 'normal'}"
    return text if len(sentence) > 120 else sentence


def _classify(group, m, s, before, after, local, lex) -> tuple[str | None, str]:
    certainty = m.certainty if m.certainty in (AFFIRMED, HEDGED, NEGATED) else AFFIRMED
    if group == "muscles":
        grade = _GRADE.search(after[:14]) or _GRADE.search(before[-10:])
        if grade:
            return ("spared" if grade.group(1) == "5" and grade.group(2) != "-" else "motor"), AFFIRMED
        if certainty == NEGATED:
            return "spared", AFFIRMED  # "no weakness of inversion", "normal hip abduction"
        # A muscle sign ("Froment's sign positive", "positive Trendelenburg") is that muscle's weakness.
        if lex.negative.search(after[:20]) or lex.negative.search(before[-12:]):
            return "spared", AFFIRMED
        if lex.positive.search(after[:20]) or lex.positive.search(before[-12:]):
            return "motor", certainty
        if lex.spared.search(local) and not lex.weak.search(local):
            return "spared", AFFIRMED
        if lex.weak.search(local) or lex.weak.search(s) or m.text.lower().endswith(("drop", "walking")):
            return "motor", certainty
        return None, certainty
    if group == "reflexes":
        if lex.brisk.search(local):
            return "upper-motor-neuron", AFFIRMED
        # "absent" and "reduced" are the finding here, not a negation of it.
        if lex.reflex_low.search(local):
            return "reflex", HEDGED if certainty == HEDGED else AFFIRMED
        if lex.reflex_normal.search(local) or certainty == NEGATED:
            return "spared", AFFIRMED
        return None, certainty
    if group == "tests":
        if lex.negative.search(local) or certainty == NEGATED:
            return "spared", AFFIRMED
        if lex.positive.search(local) or lex.positive.search(s):
            return "provocation", certainty
        return None, certainty
    if group == "areas":
        if lex.sensory.search(s):
            return "sensory", certainty
        if lex.pain.search(s):
            return "pain", certainty
        return None, certainty
    if group == "contexts":
        return "context", certainty
    if group == "cord-signs":
        if m.concept == "sphincter":
            return "sphincter", certainty
        if m.concept == "gait":
            return "gait", certainty
        if m.concept in ("saddle", "sensory-level"):
            return "sensory", certainty
        return "upper-motor-neuron", certainty
    return None, certainty


def _sites(hit: _Hit, limb: str | None) -> tuple[str, ...]:
    a = anatomy()
    if hit.group == "cord-signs":
        return tuple(f"cord:{k}" if k != "cauda-equina" else k for k, e in a.cord.items() if hit.term in (e.get("signs") or ()))
    return a.sites_for(hit.group, hit.term, limb)


def resource_findings(resource: Any, texts: Iterable[str], modality: str, date: PartialDate | None,
                      site_side: str | None = None, first_is_code_wording: bool = False) -> list[LocFinding]:
    """``first_is_code_wording``: the first text is code-system wording only (``fhir_access.is_code_wording``)."""
    a = anatomy()
    out: list[LocFinding] = []
    date_text = date.text if date else None
    budget = reading_budget_now()
    for i, text in enumerate(texts):
        if not text or not text.strip():
            continue
        if budget is not None and not budget.take_text(resource, text):
            continue  # past the call's reading budget (reading/facts.py): a data gap
        for hit in read_text(text, i == 0 and first_is_code_wording):
            term = a.terms[hit.term]
            side = hit.side or site_side
            modality_here = EXAM if hit.kind in ("spared", "reflex", "provocation", "upper-motor-neuron") or hit.group == "tests" else modality
            out.append(LocFinding(
                sites=_sites(hit, term.limb), side=side, limb=term.limb, modality=modality_here, kind=hit.kind,
                element=hit.element, certainty=hit.certainty, term=hit.term, trajectory=hit.trajectory, onset=date,
                evidence=(text_evidence(resource, date_text, hit.sentence, hit.certainty),),
            ))
    return out


def record_findings(record: Any, now: datetime, lookback_days: int) -> tuple[LocFinding, ...]:
    """Localising findings from the record's Conditions and Observations (current ones only)."""
    out: list[LocFinding] = []
    for c in record.conditions:
        if status_codes(getattr(c, "verificationStatus", None)) & _NEVER:
            continue
        clinical = status_codes(getattr(c, "clinicalStatus", None))
        if clinical and not clinical & {"active", "recurrence", "relapse"}:
            continue
        date = choice_date(c, "onset") or parse_date(getattr(c, "recordedDate", None))
        site_side = side_in(concept_text(getattr(c, "bodySite", None)))
        code = getattr(c, "code", None)
        texts = [concept_text(code)] + [getattr(n, "text", None) or "" for n in as_list(getattr(c, "note", None))]
        out += resource_findings(c, texts, SYMPTOM, date, site_side, is_code_wording(code))
    for o in record.observations:
        if (getattr(o, "status", None) or "").lower() in ("entered-in-error", "cancelled"):
            continue
        date = choice_date(o, "effective") or parse_date(getattr(o, "issued", None))
        if date is not None and date.days_before(now)[0] > lookback_days:
            continue
        code = getattr(o, "code", None)
        label = concept_text(code)
        value, value_is_code = value_wording(o)
        if getattr(o, "valueBoolean", None) is False:
            label = f"no {label}"  # "Spurling test: false"
        texts = [f"{label}: {value}" if label and value else (label or value)]
        texts += [getattr(n, "text", None) or "" for n in as_list(getattr(o, "note", None))]
        out += resource_findings(o, texts, SYMPTOM, date, side_in(concept_text(getattr(o, "bodySite", None))),
                                 value_is_code and is_code_wording(code))
    return tuple(out)

