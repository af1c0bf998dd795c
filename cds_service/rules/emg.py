"""EMG/NCS orders: does the study add value, and what is its question."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..cardbuilder import CardSpec, Suggestion
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
    findings = [f for f in reading.findings if f.certainty == "affirmed"]
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


def _value_reasons(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> tuple[list, list]:
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
    for m in picture.mimics:
        if m.certainty == "negated" or m.kind not in MIMIC_ROOTS:
            continue
        mimic_limb, root = MIMIC_ROOTS[m.kind]
        if mimic_limb is None or limb is None or mimic_limb == limb:
            reasons.append({"code": "mimic", "mimic": m.kind, "root": root})
            evidence += m.evidence
    poly = [m for m in picture.mimics if m.kind == "polyneuropathy" and m.certainty != "negated"]
    if poly or picture.diabetes:
        reasons.append({"code": "polyneuropathy-risk", "condition": "polyneuropathy" if poly else "diabetes"})
        evidence += [e for m in poly for e in m.evidence] + list(picture.diabetes.evidence if picture.diabetes else ())
    weak = [s for s in picture.symptoms if s.kind == "weakness" and s.certainty == "affirmed"]
    if weak:
        reasons.append({"code": "weakness"})
        evidence += [e for s in weak for e in s.evidence]
    return reasons, evidence


def _onset_days(problems: list[RootProblem]) -> tuple[int, int, str] | None:
    """(fewest, most, onset text) days since the earliest dated root problem."""
    dated = [p for p in problems if p.duration_days and p.onset]
    if not dated:
        return None
    first = max(dated, key=lambda p: p.duration_days[1])
    return first.duration_days[0], first.duration_days[1], first.onset.text


def emg_value_cards(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime,
                    shown: set[str]) -> list[CardSpec]:
    region = order_region(o, picture)
    problems = root_problems_in(picture, region)
    fact = order_fact(o)
    timing: list[dict] = []
    timing_evidence: list[Evidence] = []
    onset = _onset_days(problems)
    if onset and onset[1] < cfg.emg_too_early_days:
        fewest, most, onset_text = onset
        after = (now.date() + timedelta(days=cfg.emg_too_early_days - fewest)).isoformat()
        timing.append({"code": "too-early", "days": most, "onset": onset_text, "after": after})
        timing_evidence += [e for p in problems for e in p.evidence]
    recent_emg = None
    emg = picture.latest_emg
    if emg is not None and is_recent(emg.date, now, cfg.recent_emg_days):
        recent_emg = emg_fact(emg)
        timing.append({"code": "recent-emg", "date": recent_emg["date"], "reference": recent_emg["reference"],
                       "result": "normal" if recent_emg["normal"] else "abnormal"})
        timing_evidence += emg.evidence
        shown.add("prior-emg-reading")  # this card already says how to read it
    if timing:
        return [CardSpec("emg-adds-little", {"order": fact, "reasons": timing, "recent_emg": recent_emg,
                                             "evidence": evidence_lines(timing_evidence)},
                         reasons=tuple(r["code"] for r in timing))]

    strong, value_evidence = _value_reasons(o, picture, cfg)
    if strong:
        return [_adds_value(o, picture, strong, value_evidence, region)]

    little: list[dict] = []
    little_evidence: list[Evidence] = [e for p in problems for e in p.evidence]
    if picture.mostly_sensory:
        little.append({"code": "sensory-only"})
        little_evidence += [e for s in picture.symptoms if s.kind == "sensory" for e in s.evidence]
    intermittent = [s for s in picture.symptoms if s.kind == "intermittent" and s.certainty == "affirmed"]
    if intermittent and not any(s.kind == "weakness" and s.certainty == "affirmed" for s in picture.symptoms):
        little.append({"code": "intermittent"})
        little_evidence += [e for s in intermittent for e in s.evidence]
    agree = _findings_agree(picture, problems, region)
    if agree:
        little.append({"code": "findings-agree", "level": agree})
    limb_symptoms = [s for s in picture.symptoms if s.certainty == "affirmed" and
                     s.kind in ("sensory", "weakness", "radiating-pain", "limb-pain")]
    axial = [a for a in picture.axial_pain if a.certainty == "affirmed"]
    if not problems and axial and not limb_symptoms and not picture.mimics:
        little.append({"code": "no-limb-symptoms"})
        little_evidence += [e for a in axial for e in a.evidence]
    if little:
        return [CardSpec("emg-adds-little", {"order": fact, "reasons": little, "recent_emg": None,
                                             "evidence": evidence_lines(little_evidence)},
                         reasons=tuple(r["code"] for r in little))]

    if onset and onset[0] > cfg.long_standing_days:
        return [_adds_value(o, picture, [{"code": "long-standing", "days": onset[0]}],
                            [e for p in problems for e in p.evidence], region)]
    return []


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


def _adds_value(o: OrderInput, picture: ClinicalPicture, reasons: list[dict], evidence: list[Evidence],
                region: str | None) -> CardSpec:
    question = clinical_question(picture, region, reasons)
    fact = order_fact(o)
    note = question_note(question)
    suggestion = Suggestion(label="Add the clinical question to the order",
                            actions=(actions.update_order(o.order, "Add the study's clinical question to the order",
                                                          note=note),))
    return CardSpec("emg-adds-value", {"order": fact, "reasons": reasons, "question": question,
                                       "order_note_added": True, "evidence": evidence_lines(evidence)},
                    suggestions=(suggestion,), reasons=tuple(r["code"] for r in reasons))


def clinical_question(picture: ClinicalPicture, region: str | None, reasons: list[dict]) -> dict:
    problems = root_problems_in(picture, region)
    root = None
    for p in problems:
        # A coded disc level names its usual root (C5-C6 -> C6, L4-L5 -> traversing L5).
        roots = p.roots or tuple(r for r in (roots_at_level(lvl).get("traversing") for lvl in p.levels) if r)
        if roots:
            root = " ".join(x for x in (p.side if p.side in ("left", "right") else None, roots[0]) if x)
            break
    levels = next((r["levels"] for r in reasons if r["code"] == "multilevel-mri"), [])
    mimics = list(dict.fromkeys(r["mimic"] for r in reasons if r["code"] == "mimic"))
    if any(r["code"] == "polyneuropathy-risk" for r in reasons) and "polyneuropathy" not in mimics:
        mimics.append("polyneuropathy")
    return {"root": root, "region": region, "levels": levels, "mimics": mimics}


def question_note(q: dict) -> str:
    # Plain data for the order's note; the card's wording of the same question lives in cards/.
    parts = [f"Radiculopathy? {q['root'] or q['region'] or ''}".strip()]
    if q["levels"]:
        parts.append("MRI levels: " + ", ".join(q["levels"]))
    if q["mimics"]:
        parts.append("Separate from: " + ", ".join(m.replace("-", " ") for m in q["mimics"]))
    return "Clinical question for EMG/NCS: " + "; ".join(parts)


