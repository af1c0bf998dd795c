"""Imaging appropriateness of a drafted lumbar MRI: the ACR Low Back Pain variant the record places the
patient in, the card that follows, and the order's PAMA rating.

The variants, their conditions, studies, ratings and actions are the table of
``config/guidelines/imaging-appropriateness.yaml`` (loaded once: ``rules.appropriateness_table``).
:func:`place` applies it to one order; :func:`appropriateness_card` and :func:`rating_action` act on the
placement. Nothing is guessed: undated pain, or a record that cannot tell two variants apart, places
the patient nowhere, and such an order gets no card and no rating.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..cardbuilder import CardSpec, Suggestion
from ..reading.attributes import clip
from ..reading.model import ClinicalPicture, Evidence, RecordEntry
from ..reading.text import AFFIRMED, normalise, split_sentences
from ..valuesets import canonical_code, canonical_system
from . import actions
from .appropriateness_table import AppropriatenessTable, Background, Clause, Variant
from .common import OrderInput, days_ago, evidence_lines, order_fact, order_region
from .mri import lbp_premature_card
from .red_flags import Assessment
from ..reading.certainty import Certainty

if TYPE_CHECKING:
    from .config import RuleConfig

KIND = "imaging-study-choice"
_CONTRAST_KEY = {"without": "without", "with": "with", "without-and-with": "with-and-without", None: "unstated"}


@dataclass(frozen=True)
class Pain:
    """The record's lumbar back pain and root problems: every item, and how long it can have lasted."""

    evidence: tuple[Evidence, ...]
    #: (fewest, most) days since the earliest onset; None when any item is undated or dated only by its recording.
    days: tuple[int, int] | None
    onset_date: str | None


@dataclass(frozen=True)
class Placement:
    #: The variant the record places the patient in; None when it places them in none, or cannot tell.
    variant: Variant | None
    #: Variants that hold but the record cannot tell apart (2 and 3): explanation only.
    undecided: tuple[int, ...]
    #: What placed the patient: [{kind: red-flag category | background fact | age, evidence, age?}].
    basis: tuple[dict, ...]
    pain: Pain


def place(o: OrderInput, picture: ClinicalPicture, cfg: "RuleConfig", now: datetime, flags: Assessment) -> Placement | None:
    """The variant of ``o``, a spine MRI of the table's region (or of no stated region); None for other orders."""
    table: AppropriatenessTable = cfg.appropriateness
    if o.info.kind != "spine-mri" or order_region(o, picture) not in (table.applies_to, None):
        return None
    pain = _pain(picture, now)
    facts = _Facts(o, picture, table, now, flags)
    undecided: list[int] = []
    for v in table.variants:
        held = [b for b in (facts.clause(c, pain) for c in v.when) if b is not None]
        if not held:
            continue
        # Every clause that holds says why (osteoporosis and age 83), each thing once.
        basis = list({b["kind"]: b for clause in held for b in clause}.values())
        if not v.placeable:
            undecided.append(v.number)
            continue
        if undecided:
            break  # an earlier variant holds that the record cannot tell from others: not placed
        return Placement(v, (), tuple(basis), pain)
    return Placement(None, tuple(undecided), (), pain)


# --- the facts a clause asks about ------------------------------------------------------------------------


def _pain(picture: ClinicalPicture, now: datetime) -> Pain:
    items = [(p.onset, p.evidence, p.onset_basis) for p in picture.root_problems
             if p.region in ("lumbar", None) and p.certainty == Certainty.AFFIRMED]
    items += [(a.onset, a.evidence, "onset") for a in picture.axial_pain
              if a.region in ("lumbar", None) and a.certainty == Certainty.AFFIRMED]
    evidence = tuple(e for _, ev, _ in items for e in ev)
    # An undated problem, or one dated only by when it was recorded, may be long-standing: no duration.
    if not items or any(onset is None or basis != "onset" for onset, _, basis in items):
        return Pain(evidence, None, None)
    first = min((onset for onset, _, _ in items), key=lambda d: d.earliest)
    return Pain(evidence, (days_ago(first.latest, now), days_ago(first.earliest, now)), first.text)


class _Facts:
    """The conditions of the table's clauses for one order, each worked out once."""

    def __init__(self, o: OrderInput, picture: ClinicalPicture, table: AppropriatenessTable, now: datetime,
                 flags: Assessment):
        self.o, self.picture, self.table, self.now, self.flags = o, picture, table, now, flags
        self._background: dict[str, tuple[Evidence, ...]] = {}

    def clause(self, c: Clause, pain: Pain) -> list[dict] | None:
        """What makes clause ``c`` hold (one item per condition that names something), or None."""
        basis: list[dict] = []
        if c.pain is not None and not self._pain_holds(c.pain, pain):
            return None
        if c.red_flags == "none":
            if self.flags.any:
                return None
        elif c.red_flags:
            raised = [f for f in self.flags.critical + self.flags.other + self.flags.hedged if f.category in c.red_flags]
            if not raised:
                return None
            basis += [_basis(f.category, evidence_lines(f.evidence), level=f.level, signs=[x.sign for x in f.signs])
                      for f in raised]
        if c.background:
            found = [(name, self.background(name)) for name in c.background]
            found = [(name, ev) for name, ev in found if ev]
            if not found:
                return None
            basis += [_basis(name, evidence_lines(ev)) for name, ev in found]
        if c.age_at_least is not None:
            age = self.picture.age_years
            if age is None or age < self.table.thresholds[c.age_at_least]:
                return None
            basis.append(_basis("age", [], age=age))
        return basis

    def _pain_holds(self, kind: str, pain: Pain) -> bool:
        if kind == "current":
            return bool(pain.evidence)
        if pain.days is None or pain.days[1] < 0:
            return False
        fewest, most = pain.days
        t = self.table.thresholds
        return {"acute": most < t["acute_days"], "subacute-or-chronic": fewest >= t["acute_days"],
                "new": most <= t["new_pain_days"]}[kind]

    def background(self, name: str) -> tuple[Evidence, ...]:
        if name not in self._background:
            fact = self.table.background[name]
            entries = list(self.picture.entries) + [_order_reason(self.o)]
            self._background[name] = tuple(e for entry in entries for e in _matches(fact, entry, self.now))
        return self._background[name]


def _basis(kind: str, evidence: list[dict], level: str = "affirmed", signs: list[str] | None = None,
           age: int | None = None) -> dict:
    """One thing that placed the order, every key always there (the templates are strict)."""
    return {"kind": kind, "level": level, "signs": signs or [], "age": age, "evidence": evidence}


def _order_reason(o: OrderInput) -> RecordEntry:
    """The draft order's reasonCode as an entry ("recurrent pain after L4-5 discectomy")."""
    raw = o.order.raw if isinstance(o.order.raw, dict) else {}
    texts, codes = [], []
    for concept in raw.get("reasonCode") or []:
        if not isinstance(concept, dict):
            continue
        if isinstance(concept.get("text"), str):
            texts.append(concept["text"])
        for c in concept.get("coding") or []:
            if isinstance(c, dict) and isinstance(c.get("code"), str):
                system = canonical_system(c.get("system"))
                codes.append((system, canonical_code(system, c["code"]), c.get("display")))
    return RecordEntry(o.order.resource_type, raw.get("id") if isinstance(raw.get("id"), str) else None,
                       tuple(codes), tuple(texts), True, AFFIRMED, None)


def _matches(fact: Background, entry: RecordEntry, now: datetime) -> list[Evidence]:
    if entry.certainty != AFFIRMED or (fact.current_only and not entry.current):
        return []
    date = entry.date.text if entry.date else None
    if entry.resource_type == "MedicationRequest":
        if fact.medication_words is None or not entry.current or not any(fact.medication_words.search(t) for t in entry.texts):
            return []
        if fact.medication_days is not None and (entry.date is None or entry.date.days_before(now)[0] < fact.medication_days):
            return []  # not known to be long-term
        return [Evidence(entry.resource_type, entry.resource_id, date, clip(entry.texts[0]), "text")]
    out: list[Evidence] = []
    words = " ".join(entry.texts)
    for system, code, display in entry.codes:
        generic = any(c.matches(system, code) for c in fact.generic_codes)
        if any(c.matches(system, code) for c in fact.codes) or (generic and fact.spine and fact.spine.search(words)):
            out.append(Evidence(entry.resource_type, entry.resource_id, date, clip(display or code), "coded",
                                code=f"{system}|{code}"))
    if out or fact.lexicon is None:
        return out
    for text in entry.texts:
        norm, _ = normalise(text)
        if not fact.lexicon.could_mention(norm):
            continue
        for sentence in split_sentences(norm):
            if sentence.section == "family history" or (fact.not_with and fact.not_with.search(sentence.text)):
                continue
            if any(m.certainty == AFFIRMED for m in fact.lexicon.mentions(sentence.text)):
                out.append(Evidence(entry.resource_type, entry.resource_id, date, clip(sentence.text), "text"))
                break
    return out


# --- what follows from a placement -----------------------------------------------------------------------


def appropriateness_card(o: OrderInput, picture: ClinicalPicture, cfg: "RuleConfig", now: datetime,
                         placed: Placement | None) -> CardSpec | None:
    """Variant 1: the premature card; a variant whose study differs from the draft: the study-choice card."""
    if placed is None or placed.variant is None:
        return None
    v = placed.variant
    if v.action == "premature":
        return lbp_premature_card(o, picture, cfg, now)
    if v.action != "replace" or _is_the_study(o, v):
        return None
    region = cfg.appropriateness.applies_to
    orderable = cfg.radiograph[region] if v.study_kind == "radiograph" else cfg.urgent_mri[f"{region}-contrast"]
    label = order_fact(o)["label"]
    reason = f"{v.title} (ACR Low Back Pain variant {v.number})"
    suggestion = Suggestion(f"Replace with {orderable.text}", (
        actions.delete_order(o.order, label), actions.create_order(o.patient_id, orderable, "routine", reason),
    ), is_recommended=True)
    evidence = [e for b in placed.basis for e in b["evidence"]] + evidence_lines(placed.pain.evidence)
    return CardSpec(
        KIND,
        {"order": order_fact(o), "variant": {"number": v.number, "title": v.title},
         "study": {"kind": v.study_kind, "contrast": v.study_contrast, "label": orderable.text, "code": orderable.code},
         "draft_contrast": o.info.contrast, "basis": [dict(b) for b in placed.basis],
         "pain": {"days": placed.pain.days[1] if placed.pain.days else None, "onset_date": placed.pain.onset_date},
         "evidence": _unique(evidence)},
        suggestions=(suggestion,),
        reasons=(f"acr-lbp-variant-{v.number}", *dict.fromkeys(b["kind"] for b in placed.basis)),
        links=v.cites,
    )


def _is_the_study(o: OrderInput, v: Variant) -> bool:
    if v.study_kind != "mri":
        return False
    want = {"none": ("without",), "with-and-without": ("without-and-with",),
            "none-or-with-and-without": ("without", "without-and-with")}[v.study_contrast or "none"]
    return o.info.contrast in want


def _unique(lines: list[dict]) -> list[dict]:
    seen, out = set(), []
    for x in lines:
        key = (x["type"], x["id"], x["text"])
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out[:8]


def rating(o: OrderInput, placed: Placement | None, cfg: "RuleConfig") -> str | None:
    """The PAMA rating code of ``o`` (appropriate | not-appropriate | no-criteria-apply), or None: not rated."""
    table = cfg.appropriateness
    if o.info.kind != "spine-mri":
        return None  # not imaging the AUC program covers here
    if o.info.region is not None and o.info.region != table.applies_to:
        return None if table.pama.other_spine_mri == "omit" else table.pama.other_spine_mri
    if o.info.region is None or placed is None:
        return None  # the order does not say it is a lumbar MRI: do not rate it by the lumbar criteria
    if placed.variant is None:
        return None if table.pama.not_placed == "omit" else table.pama.not_placed
    return placed.variant.rating.get(_CONTRAST_KEY.get(o.info.contrast, "unstated"))


def rating_extensions(o: OrderInput, placed: Placement | None, cfg: "RuleConfig") -> tuple[str, list[dict]] | None:
    """The rating code and the Argonaut PAMA extensions that carry it, or None: ``o`` is not rated.

    ``http://fhir.org/argonaut/Extension/pama-rating`` (a CodeableConcept), ``...-consult-id`` (one new
    ``urn:uuid`` per call) and, for a rating from the criteria, ``...-auc-applied``: the guide's
    current table and examples (argonautproject/cds-hooks-for-pama, docs/index.md).
    """
    code = rating(o, placed, cfg)
    raw = o.order.raw if isinstance(o.order.raw, dict) else None
    if code is None or raw is None or not isinstance(raw.get("id"), str):
        return None
    pama = cfg.appropriateness.pama
    ext = [{"url": pama.rating_url, "valueCodeableConcept": {"coding": [{"system": pama.rating_system, "code": code}]}},
           {"url": pama.consult_id_url, "valueUri": f"urn:uuid:{uuid.uuid4()}"}]
    if pama.auc_applied_uri and code != "no-criteria-apply":
        ext.append({"url": pama.auc_applied_url, "valueUri": pama.auc_applied_uri})
    return code, ext


def with_rating(resource: dict, extensions: list[dict], cfg: "RuleConfig") -> dict:
    """A copy of ``resource`` whose PAMA extensions are ``extensions`` (any earlier rating replaced)."""
    pama = cfg.appropriateness.pama
    ours = {pama.rating_url, pama.consult_id_url, pama.auc_applied_url}
    out = copy.deepcopy(resource)
    kept = [e for e in out.get("extension") or [] if not (isinstance(e, dict) and e.get("url") in ours)]
    out["extension"] = kept + copy.deepcopy(extensions)
    return out


def rating_action(o: OrderInput, placed: Placement | None, cfg: "RuleConfig",
                  rated: tuple[str, list[dict]] | None = None) -> dict | None:
    """The systemAction putting the rating on the draft order (Argonaut CDS Hooks for PAMA), or None.

    ``rated``: the :func:`rating_extensions` already worked out for ``o`` (the same consult id is then
    on this action and on the order's suggested updates).
    """
    rated = rated if rated is not None else rating_extensions(o, placed, cfg)
    if rated is None:
        return None
    code, ext = rated
    resource = with_rating(o.order.raw, ext, cfg)
    variant = f" (ACR Low Back Pain variant {placed.variant.number})" if placed and placed.variant and code != "no-criteria-apply" else ""
    return {"type": "update", "description": f"Record the imaging appropriateness rating{variant}: {code}",
            "resource": resource}


def rate_updates(spec: CardSpec, o: OrderInput, extensions: list[dict], cfg: "RuleConfig") -> CardSpec:
    """``spec`` with every suggested update of ``o``'s own resource carrying the order's rating.

    An update replaces the whole resource, so a "make this MRI urgent" update without the rating
    would remove the rating the systemAction put on the order; and EHRs following the Argonaut
    pattern (the CDS Hooks sandbox's imaging screen among them) read the rating from each update.
    The order gets one update per suggestion: its change and its rating together.
    """
    rid = o.order.raw.get("id") if isinstance(o.order.raw, dict) else None
    rtype = o.order.raw.get("resourceType") if isinstance(o.order.raw, dict) else None

    def rated(action: dict) -> dict:
        res = action.get("resource")
        if action.get("type") != "update" or not isinstance(res, dict) or res.get("id") != rid \
                or res.get("resourceType") != rtype:
            return action
        return {**action, "resource": with_rating(res, extensions, cfg)}

    if rid is None or not spec.suggestions:
        return spec
    suggestions = tuple(dataclasses.replace(s, actions=tuple(rated(a) for a in s.actions)) for s in spec.suggestions)
    return dataclasses.replace(spec, suggestions=suggestions)
