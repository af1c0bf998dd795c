"""EMG/NCS orders: does the study add value, and what is its question."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..cardbuilder import CardSpec, Suggestion
from ..localisation.localise import site_label, study_question
from ..localisation.model import (
    CONCORDANT, DISCORDANT, NO_LOCALISATION, PERIPHERAL_SHOWN, SEVERAL, Localisation,
)  # fmt: skip
from ..reading.levels import levels_for_root, roots_at_level
from ..reading.lexicon import MRI_COMPRESSIVE
from ..reading.model import (
    ClinicalPicture,
    Evidence,
    MriReport,
    RootProblem,
)
from . import actions
from .common import (
    MIMIC_ROOTS,
    OrderInput,
    evidence_lines,
    is_recent,
    order_fact,
    order_limb,
    order_region,
    root_problems_in,
)
from .config import RuleConfig
from .prior import emg_fact
from ..reading.certainty import Certainty

# --- EMG/NCS orders ---------------------------------------------------------------


def _candidate_levels(reading) -> tuple[str, ...]:
    """Levels with a finding that could explain radicular symptoms.

    A bulge that names no root, or any mild finding that names no root, is common in people
    without symptoms (Brinjikji 2015): it does not make an MRI "multilevel" or spoil agreement.
    """
    levels = dict.fromkeys(
        f.level for f in reading.findings
        if f.level and f.kind in MRI_COMPRESSIVE
        and (f.roots or not (f.severity == "mild" or (f.kind == "bulge" and f.severity in (None, "mild-moderate"))))
    )
    return tuple(lvl for lvl in reading.levels_with_findings if lvl in levels)


def _mri_disagreement(mri: MriReport, problems: list[RootProblem]) -> str | None:
    """Why the MRI and the root problem do not match, or None when they fit or cannot be compared."""
    reading = mri.reading
    if not problems:
        return None
    if reading.normal:
        return "the MRI was reported normal despite radicular symptoms"
    findings = [f for f in reading.findings if f.certainty == Certainty.AFFIRMED]
    sides = {p.side for p in problems if p.side in ("left", "right")}
    finding_sides = {f.side for f in findings if f.side in ("left", "right")}
    if len(sides) == 1 and finding_sides and not (finding_sides & sides) and \
            not any(f.side in (None, "bilateral") for f in findings):
        side = next(iter(sides))
        return f"symptoms are on the {side}, MRI findings on the {'right' if side == 'left' else 'left'}"
    roots = {r for p in problems for r in p.roots}
    levels = set(reading.levels_with_findings)
    if roots and levels:
        plausible = {lvl for r in roots for lvl in levels_for_root(r)}
        if not (plausible & levels):
            return f"symptoms suggest {', '.join(sorted(roots))}; MRI findings are at {', '.join(sorted(levels))}"
    return None


def mri_reason(mri: MriReport, problems: list[RootProblem], cfg: RuleConfig) -> dict | None:
    """Why the prior MRI leaves the root question open: it disagrees with the symptoms, or shows several levels."""
    mismatch = _mri_disagreement(mri, problems)
    if mismatch:
        return {"code": "mri-symptom-mismatch", "detail": mismatch}
    levels = _candidate_levels(mri.reading)
    if problems and len(levels) >= cfg.multilevel_min_levels:
        return {"code": "multilevel-mri", "levels": list(levels) or ["several levels"]}
    return None


def _value_reasons(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig,
                   loc: Localisation = NO_LOCALISATION) -> tuple[list, list]:
    """(strong reasons, evidence) that an EMG/NCS would add value for this patient."""
    region = order_region(o, picture)
    limb = order_limb(o, picture)
    problems = root_problems_in(picture, region)
    reasons: list[dict] = []
    evidence: list[Evidence] = [e for p in problems for e in p.evidence]
    mri = picture.latest_mri(region)
    found = mri_reason(mri, problems, cfg) if mri is not None else None
    if found:
        reasons.append(found)
        evidence += mri.evidence
    # A mimic, or a polyneuropathy risk, matters when there is a root problem for it to mimic: with none
    # (bilateral carpal tunnel and no root sign), the study simply is the test for it, nothing to separate.
    root_question = bool(problems) or any(c.site.kind == "root" for c in loc.candidates)
    for m in picture.mimics:
        if m.certainty == Certainty.NEGATED or m.kind not in MIMIC_ROOTS or not root_question:
            continue
        mimic_limb, root = MIMIC_ROOTS[m.kind]
        if mimic_limb is None or limb is None or mimic_limb == limb:
            reasons.append({"code": "mimic", "mimic": m.kind, "root": root})
            evidence += m.evidence
    poly = [m for m in picture.mimics if m.kind == "polyneuropathy" and m.certainty != Certainty.NEGATED]
    if (poly or picture.diabetes) and root_question:
        reasons.append({"code": "polyneuropathy-risk", "condition": "polyneuropathy" if poly else "diabetes"})
        evidence += [e for m in poly for e in m.evidence] + list(picture.diabetes.evidence if picture.diabetes else ())
    weak = [s for s in picture.symptoms if s.kind == "weakness" and s.certainty == Certainty.AFFIRMED]
    graded = [f for f in loc.findings if f.kind == "motor" and f.certainty == Certainty.AFFIRMED]
    if weak or graded:
        # "EHL 4/5" is weakness as much as "weakness of great toe extension" is.
        reasons.append({"code": "weakness", "muscles": list(dict.fromkeys(f.element for f in graded))[:3]})
        evidence += [e for s in weak for e in s.evidence] + [e for f in graded for e in f.evidence]
    return reasons, evidence


def _onset_days(problems: list[RootProblem], loc: Localisation, now: datetime) -> tuple[int, int, str, list] | None:
    """(fewest, most, onset text, evidence) days since the earliest dated root problem; without one, since the
    earliest onset of a Condition behind the localisation's candidates (a shoulder dislocation, a plexopathy)."""
    dated = [p for p in problems if p.duration_days and p.onset]
    if dated:
        first = max(dated, key=lambda p: p.duration_days[1])
        return first.duration_days[0], first.duration_days[1], first.onset.text, [e for p in problems for e in p.evidence]
    # Only a Condition's onset is an onset; an Observation's date is when it was seen.
    onsets = [f for c in loc.candidates for f in c.support if f.onset is not None and f.evidence
              and f.evidence[0].resource_type == "Condition"]
    if not onsets:
        return None
    first = max(onsets, key=lambda f: f.onset.days_before(now)[1])
    fewest, most = first.onset.days_before(now)
    return fewest, most, first.onset.text, list(first.evidence)


def emg_value_cards(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime,
                    loc: Localisation = NO_LOCALISATION) -> list[CardSpec]:
    """The EMG/NCS value card: timing first, then the localisation's verdict, then the record's other clues."""
    region = order_region(o, picture)
    problems = root_problems_in(picture, region)
    fact = order_fact(o)
    timing: list[dict] = []
    timing_evidence: list[Evidence] = []
    onset = _onset_days(problems, loc, now)
    if onset and onset[1] < cfg.emg_too_early_days:
        fewest, most, onset_text, onset_evidence = onset
        after = (now.date() + timedelta(days=cfg.emg_too_early_days - fewest)).isoformat()
        timing.append({"code": "too-early", "days": most, "onset": onset_text, "after": after})
        timing_evidence += onset_evidence
    recent_emg = None
    emg = picture.latest_emg
    if emg is not None and is_recent(emg.date, now, cfg.recent_emg_days):
        recent_emg = emg_fact(emg)
        # The status-aware result: a report that names nothing is "unclear", never "abnormal".
        timing.append({"code": "recent-emg", "date": recent_emg["date"], "reference": recent_emg["reference"],
                       "result": recent_emg["result"], "status": recent_emg["status"]})
        timing_evidence += emg.evidence  # this card says how to read it: precedence.yaml covers prior-emg-reading
    if timing:
        return [CardSpec("emg-adds-little", {"order": fact, "reasons": timing, "recent_emg": recent_emg,
                                             "evidence": evidence_lines(timing_evidence)},
                         reasons=tuple(r["code"] for r in timing))]

    decided = _from_localisation(o, picture, loc, region)
    if decided is not None:
        return [decided]

    strong, value_evidence = _value_reasons(o, picture, cfg, loc)
    if strong:
        return [_adds_value(o, picture, strong, value_evidence, region, loc)]

    little: list[dict] = []
    little_evidence: list[Evidence] = [e for p in problems for e in p.evidence]
    # Needle EMG misses purely sensory root irritation, but nerve conduction finds an entrapment or a
    # polyneuropathy however sensory it is: the caveat holds only when none is among the candidates, and
    # only for a root problem in the order's limb (leg numbness says nothing of an arm study).
    root_candidates = [c for c in loc.candidates if c.site.kind == "root"]
    root_in_question = bool(problems) or bool(root_candidates)
    weak = loc.motor_deficit or any(s.kind == "weakness" and s.certainty == Certainty.AFFIRMED for s in picture.symptoms)
    # Sensory or pain findings behind a root candidate ("pain from the neck to the thumb; Spurling positive").
    root_sensory = [f for c in root_candidates for f in c.support if f.kind in ("sensory", "pain") and f.modality == "symptom"]
    # A lost reflex is an objective root sign: the picture is then not "purely sensory".
    caveat_holds = root_in_question and not weak and not loc.reflex_deficit and not loc.ncs_detectable_candidate \
        and not loc.cord_region
    if caveat_holds and (picture.mostly_sensory or root_sensory):
        little.append({"code": "sensory-only"})
        little_evidence += [e for s in picture.symptoms if s.kind == "sensory" for e in s.evidence]
        little_evidence += [e for f in root_sensory for e in f.evidence]
    intermittent = [s for s in picture.symptoms if s.kind == "intermittent" and s.certainty == Certainty.AFFIRMED]
    if intermittent and caveat_holds:
        little.append({"code": "intermittent"})
        little_evidence += [e for s in intermittent for e in s.evidence]
    limb_symptoms = [s for s in picture.symptoms if s.certainty == Certainty.AFFIRMED and
                     s.kind in ("sensory", "weakness", "radiating-pain", "limb-pain")]
    axial = [a for a in picture.axial_pain if a.certainty == Certainty.AFFIRMED]
    if not problems and axial and not limb_symptoms and not picture.mimics and not loc.candidates:
        little.append({"code": "no-limb-symptoms"})
        little_evidence += [e for a in axial for e in a.evidence]
    if little:
        return [CardSpec("emg-adds-little", {"order": fact, "reasons": little, "recent_emg": None,
                                             "evidence": evidence_lines(little_evidence)},
                         reasons=tuple(r["code"] for r in little))]

    if onset and onset[0] > cfg.long_standing_days and root_in_question:
        return [_adds_value(o, picture, [{"code": "long-standing", "days": onset[0]}], onset[3], region, loc)]
    return []


def _loc_evidence(loc: Localisation) -> list[Evidence]:
    """The record items behind the candidates: what supports each, then what argues against it."""
    items = [e for c in loc.candidates for f in c.support for e in f.evidence]
    items += [e for c in loc.candidates for f in c.against for e in f.evidence]
    return items


def _from_localisation(o: OrderInput, picture: ClinicalPicture, loc: Localisation, region: str | None) -> CardSpec | None:
    """The card the verdict decides (see config/guidelines/emg-verdicts.yaml), or None to look further."""
    fact = order_fact(o)
    sites = [site_label(c) for c in loc.candidates if c.site.kind not in ("cord", "cauda-equina")]
    if loc.verdict == CONCORDANT:
        levels = [f.level for c in loc.candidates for f in c.support if f.modality == "imaging" and f.level]
        reason = {"code": "findings-agree", "site": sites[0], "level": levels[0] if levels else None,
                  "detail": loc.reasons[0] if loc.reasons else ""}
        return CardSpec("emg-adds-little", {"order": fact, "reasons": [reason], "recent_emg": None,
                                            "evidence": evidence_lines(_loc_evidence(loc))},
                        reasons=("findings-agree",))
    if loc.verdict == PERIPHERAL_SHOWN:
        emg = picture.latest_emg
        reason = {"code": "peripheral-shown", "sites": sites, "date": emg.date.text if emg and emg.date else "undated",
                  "reference": emg.evidence[0].reference if emg and emg.evidence else "DiagnosticReport"}
        return CardSpec("emg-adds-little", {"order": fact, "reasons": [reason], "recent_emg": None,
                                            "evidence": evidence_lines(_loc_evidence(loc))},
                        reasons=("peripheral-shown",))
    if loc.verdict == DISCORDANT:
        reasons = [{"code": "mri-symptom-mismatch", "detail": loc.reasons[0] if loc.reasons else "",
                    "site": sites[0] if sites else None}]
        return _adds_value(o, picture, reasons, _loc_evidence(loc), region, loc)
    if loc.verdict == SEVERAL:
        kinds = {c.site.kind for c in loc.candidates}
        roots = [c for c in loc.candidates if c.site.kind == "root"]
        code = ("mimic" if "nerve" in kinds else "plexus" if "plexus" in kinds
                else "polyneuropathy-risk" if "polyneuropathy" in kinds
                else "multilevel-mri" if sum(any(f.modality == "imaging" for f in c.support) for c in roots) > 1
                else "several-roots")
        reasons = [{"code": "several-candidates", "kind": code, "sites": sites}]
        return _adds_value(o, picture, reasons, _loc_evidence(loc), region, loc, codes=(code, "several-candidates"))
    return None


def _findings_agree(picture: ClinicalPicture, problems: list[RootProblem], region: str | None) -> str | None:
    """The single MRI level that matches the root problem's side and root, or None."""
    mri = picture.latest_mri(region)
    if mri is None or not problems or picture.mimics:
        return None
    levels = _candidate_levels(mri.reading)
    roots = {r for p in problems for r in p.roots}
    sides = {p.side for p in problems if p.side}
    if len(levels) != 1 or not roots:
        return None
    level = levels[0]
    if not any(level in levels_for_root(r) for r in roots):
        return None
    finding_sides = {f.side for f in mri.reading.at(level) if f.side}
    if sides and finding_sides and not (sides & (finding_sides | {"bilateral"})):
        return None
    return level


#: Root-level questions, which needle EMG answers and nerve conduction alone does not (AANEM 2015).
_ROOT_QUESTIONS = ("mri-symptom-mismatch", "multilevel-mri", "several-roots", "weakness", "long-standing")


def missing_study(o: OrderInput, loc: Localisation, reasons: list[dict]) -> str | None:
    """The half of the study the question needs but the order lacks: 'needle-emg' or 'nerve-conduction'.

    An order that names only one part (95907-95913 alone, or a needle EMG code alone) tests only
    that part; an order that names neither is taken as the whole study.
    """
    studies = set(o.info.studies)
    if studies == {"ncs"}:
        root_in_question = any(c.site.kind in ("root", "plexus") for c in loc.candidates) or (
            not loc.candidates and any(r["code"] in _ROOT_QUESTIONS for r in reasons))
        return "needle-emg" if root_in_question else None
    if studies == {"emg"}:
        return "nerve-conduction" if loc.ncs_detectable_candidate else None
    return None


def _value_context(o, picture, reasons, evidence, region, loc) -> dict:
    return {"order": order_fact(o), "reasons": reasons, "question": clinical_question(picture, region, reasons, loc),
            "order_note_added": True, "evidence": evidence_lines(evidence),
            "missing_study": missing_study(o, loc, reasons)}


def _question_suggestion(o, picture, region, reasons, loc) -> Suggestion:
    note = question_note(clinical_question(picture, region, reasons, loc))
    return Suggestion(label="Add the clinical question to the order",
                      actions=(actions.update_order(o.order, "Add the study's clinical question to the order", note=note),))


def _adds_value(o: OrderInput, picture: ClinicalPicture, reasons: list[dict], evidence: list[Evidence],
                region: str | None, loc: Localisation = NO_LOCALISATION,
                codes: tuple[str, ...] | None = None) -> CardSpec:
    context = _value_context(o, picture, reasons, evidence, region, loc)
    codes = (codes or tuple(r["code"] for r in reasons)) + (
        (f"order-lacks-{context['missing_study']}",) if context["missing_study"] else ())
    return CardSpec("emg-adds-value", context,
                    suggestions=(_question_suggestion(o, picture, region, reasons, loc),), reasons=codes)


def clinical_question(picture: ClinicalPicture, region: str | None, reasons: list[dict],
                      loc: Localisation = NO_LOCALISATION) -> dict:
    """The study's question: the candidates in clinical words when the localisation names them."""
    either = study_question(loc)
    problems = root_problems_in(picture, region)
    root = None
    for p in problems:
        # A coded disc level names its usual root (C5-C6 -> C6, L4-L5 -> traversing L5).
        roots = p.roots or tuple(r for r in (roots_at_level(lvl).get("traversing") for lvl in p.levels) if r)
        if roots:
            root = _sided(p.side, roots[0])
            break
    located = [c.site for c in loc.candidates if c.site.kind == "root"]
    if root is None and len(located) == 1:
        # No coded root, but the exam and symptoms point to one (an absent ankle jerk with lateral foot numbness).
        root = _sided(located[0].side, located[0].name)
    levels = next((r["levels"] for r in reasons if r["code"] == "multilevel-mri"), [])
    mimics = list(dict.fromkeys(r["mimic"] for r in reasons if r["code"] == "mimic"))
    if any(r["code"] == "polyneuropathy-risk" for r in reasons) and "polyneuropathy" not in mimics:
        mimics.append("polyneuropathy")
    return {"root": root, "region": region, "levels": levels, "mimics": mimics, "either": either}


def _sided(side: str | None, root: str) -> str:
    """"left L5", or "L5" when the side is unknown or both."""
    return f"{side} {root}" if side in ("left", "right") else root


def question_note(q: dict) -> str:
    # Plain data for the order's note; the card's wording of the same question lives in cards/.
    if q.get("either"):
        return "Clinical question for EMG/NCS: " + q["either"]
    parts = [f"Radiculopathy? {q['root'] or q['region'] or ''}".strip()]
    if q["levels"]:
        parts.append("MRI levels: " + ", ".join(q["levels"]))
    if q["mimics"]:
        parts.append("Separate from: " + ", ".join(m.replace("-", " ") for m in q["mimics"]))
    return "Clinical question for EMG/NCS: " + "; ".join(parts)


