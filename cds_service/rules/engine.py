"""Which cards to show for each recognised order, and with which facts.

One function per card kind; ``advise`` runs them in a fixed order and keeps the
result small: a red flag silences the routine cards (the message is "urgent
care, not a routine test"), prior-result cards appear once per response, and a
card is only produced when the record gives it something specific to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from ..cardbuilder import CardSpec, Suggestion
from ..orders import DraftOrder
from ..reading.levels import levels_for_root, roots_at_level
from ..reading.lexicon import MRI_COMPRESSIVE
from ..reading.model import ClinicalPicture, EmgReport, Evidence, MriReport, OrderInfo, RootProblem
from . import actions
from .config import RuleConfig

#: Which mimic separates from which root, by limb (the article's examples; clinical-codes.md section 5).
MIMIC_ROOTS = {
    "carpal-tunnel-syndrome": ("upper", "C6"),
    "ulnar-neuropathy": ("upper", "C8"),
    "radial-neuropathy": ("upper", "C7"),
    "peroneal-neuropathy": ("lower", "L5"),
    "tarsal-tunnel-syndrome": ("lower", "S1"),
    "meralgia-paresthetica": ("lower", "L2-L3"),
    "plexopathy": (None, "a root"),
    "myopathy": (None, "a root"),
}
REGION_LIMB = {"cervical": "upper", "lumbar": "lower"}
LIMB_REGION = {"upper": "cervical", "lower": "lumbar"}
#: Where an urgent MRI should look for each red-flag category (None: the order's own region).
FLAG_REGION = {"cauda-equina": "lumbar", "myelopathy": "cervical"}


@dataclass(frozen=True)
class OrderInput:
    order: DraftOrder
    info: OrderInfo
    #: context.patientId: suggested orders are for this patient, whatever the draft's subject says.
    patient_id: str


def _evidence(items: Iterable[Evidence]) -> list[dict]:
    seen, out = set(), []
    for e in items:
        # One line per coded resource (its codings may name it twice); text matches keep their quote.
        key = (e.resource_type, e.resource_id, e.text if e.matched_by == "text" else "coded")
        if key in seen:
            continue
        seen.add(key)
        out.append({"type": e.resource_type, "id": e.resource_id, "date": e.date, "text": e.text.rstrip(" ;,:"),
                    "how": e.matched_by})
    return out[:8]  # the detail stays short; the first items are coded and newest


def _order_fact(o: OrderInput) -> dict:
    default = "spine MRI" if o.info.kind == "spine-mri" else "EMG/NCS"
    label = " ".join(o.order.text.split("; ")[0].split()) or default
    return {"label": label, "reference": o.order.reference or "draft order", "kind": o.info.kind,
            "region": o.info.region}


def _limb(o: OrderInput, picture: ClinicalPicture) -> str | None:
    if len(o.info.limbs) == 1:
        return o.info.limbs[0]
    regions = {p.region for p in picture.root_problems if p.region}
    if len(regions) == 1:
        return REGION_LIMB.get(next(iter(regions)))
    return None


def _region(o: OrderInput, picture: ClinicalPicture) -> str | None:
    """The spine region the order is about: its own, else the limb's, else the root problem's."""
    if o.info.region:
        return o.info.region
    if len(o.info.limbs) == 1:
        return LIMB_REGION[o.info.limbs[0]]
    regions = {p.region for p in picture.root_problems if p.region}
    return next(iter(regions)) if len(regions) == 1 else None


def _root_problems(picture: ClinicalPicture, region: str | None) -> list[RootProblem]:
    return [p for p in picture.root_problems
            if p.certainty in ("affirmed", "hedged") and (region is None or p.region in (None, region))]


def _days_ago(d, now: datetime) -> int:
    return (now.date() - d).days


def _recent(report_date, now: datetime, days: int) -> bool:
    return report_date is not None and _days_ago(report_date.latest, now) <= days


# --- red flags ------------------------------------------------------------------


def red_flag_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> CardSpec | None:
    flags = [f for f in picture.red_flags if f.certainty == "affirmed" and f.current]
    if not flags:
        return None
    categories = list(dict.fromkeys(f.category for f in flags))
    flag_region = next((FLAG_REGION[c] for c in categories if c in FLAG_REGION), None)
    region = flag_region or _region(o, picture) or "lumbar"
    contrast = any(c in ("infection", "cancer") for c in categories)
    mri = cfg.urgent_mri[f"{region}-contrast" if contrast else region]
    priority = "stat" if "cauda-equina" in categories else "urgent"
    reason = "Red flag: " + ", ".join(categories)
    order_fact = _order_fact(o)
    if o.info.kind == "electrodiagnostic":
        suggestion = Suggestion(
            label=f"Replace with {'a STAT' if priority == 'stat' else 'an urgent'} {mri.text}",
            actions=(actions.delete_order(o.order, order_fact["label"]),
                     actions.create_order(o.patient_id, mri, priority, reason)),
            is_recommended=True,
        )
    else:
        suggestion = Suggestion(
            label=f"Make this MRI {priority}",
            actions=(actions.update_order(o.order, f"Set the order's priority to {priority}", priority=priority),),
            is_recommended=True,
        )
    return CardSpec(
        kind="red-flag-urgent-evaluation",
        context={"order": order_fact, "flags": [{"category": c} for c in categories], "mri_label": mri.text,
                 "evidence": _evidence(e for f in flags for e in f.evidence)},
        suggestions=(suggestion,),
        reasons=tuple(categories),
    )


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


def _mri_reason(mri: MriReport, problems: list[RootProblem], cfg: RuleConfig) -> dict | None:
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
    region = _region(o, picture)
    limb = _limb(o, picture)
    problems = _root_problems(picture, region)
    reasons: list[dict] = []
    evidence: list[Evidence] = [e for p in problems for e in p.evidence]
    mri = picture.latest_mri(region)
    mri_reason = _mri_reason(mri, problems, cfg) if mri is not None else None
    if mri_reason:
        reasons.append(mri_reason)
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
    region = _region(o, picture)
    problems = _root_problems(picture, region)
    order_fact = _order_fact(o)
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
    if emg is not None and _recent(emg.date, now, cfg.recent_emg_days):
        recent_emg = _emg_fact(emg)
        timing.append({"code": "recent-emg", "date": recent_emg["date"], "reference": recent_emg["reference"],
                       "result": "normal" if recent_emg["normal"] else "abnormal"})
        timing_evidence += emg.evidence
        shown.add("prior-emg-reading")  # this card already says how to read it
    if timing:
        return [CardSpec("emg-adds-little", {"order": order_fact, "reasons": timing, "recent_emg": recent_emg,
                                             "evidence": _evidence(timing_evidence)},
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
        return [CardSpec("emg-adds-little", {"order": order_fact, "reasons": little, "recent_emg": None,
                                             "evidence": _evidence(little_evidence)},
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
    question = _question(picture, region, reasons)
    order_fact = _order_fact(o)
    note = _question_note(question)
    suggestion = Suggestion(label="Add the clinical question to the order",
                            actions=(actions.update_order(o.order, "Add the study's clinical question to the order",
                                                          note=note),))
    return CardSpec("emg-adds-value", {"order": order_fact, "reasons": reasons, "question": question,
                                       "order_note_added": True, "evidence": _evidence(evidence)},
                    suggestions=(suggestion,), reasons=tuple(r["code"] for r in reasons))


def _question(picture: ClinicalPicture, region: str | None, reasons: list[dict]) -> dict:
    problems = _root_problems(picture, region)
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


def _question_note(q: dict) -> str:
    # Plain data for the order's note; the card's wording of the same question lives in cards/.
    parts = [f"Radiculopathy? {q['root'] or q['region'] or ''}".strip()]
    if q["levels"]:
        parts.append("MRI levels: " + ", ".join(q["levels"]))
    if q["mimics"]:
        parts.append("Separate from: " + ", ".join(m.replace("-", " ") for m in q["mimics"]))
    return "Clinical question for EMG/NCS: " + "; ".join(parts)


def pretest_card(o: OrderInput, picture: ClinicalPicture) -> CardSpec | None:
    studies = set(o.info.studies) or {"emg", "ncs"}
    anticoag = list(picture.anticoagulants) if "emg" in studies else []
    devices = list(picture.cardiac_devices) if "ncs" in studies else []
    if not anticoag and not devices:
        return None
    names = list(dict.fromkeys((m.ingredient or "an anticoagulant") for m in anticoag))
    kinds = list(dict.fromkeys(d.kind for d in devices))
    return CardSpec("edx-pretest-notes", {
        "order": _order_fact(o),
        "anticoagulants": [{"name": n} for n in names],
        "devices": [{"kind": k} for k in kinds],
        "needle": "emg" in studies,
        "evidence": _evidence([e for m in anticoag for e in m.evidence] + [e for d in devices for e in d.evidence]),
    }, reasons=tuple(["anticoagulant"] * bool(names) + ["cardiac-device"] * bool(kinds)))


# --- spine MRI orders ---------------------------------------------------------------


def lbp_premature_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime) -> CardSpec | None:
    """ACR LBP variant 1: lumbar MRI within about 6 weeks of onset, no red flag (checked by the caller)."""
    if _region(o, picture) not in ("lumbar", None):
        return None
    items = [(p.onset, p.evidence, p.onset_basis) for p in picture.root_problems
             if p.region in ("lumbar", None) and p.certainty == "affirmed"]
    items += [(a.onset, a.evidence, "onset") for a in picture.axial_pain
              if a.region in ("lumbar", None) and a.certainty == "affirmed"]
    if not items:
        return None
    # An undated back problem, or one dated only by when it was recorded, may be
    # long-standing: then nothing useful can be said.
    if any(onset is None or basis != "onset" for onset, _, basis in items):
        return None
    first = min(items, key=lambda x: x[0].earliest)
    days = _days_ago(first[0].earliest, now)  # the longest the problem can have lasted
    if days >= cfg.lbp_imaging_min_days or days < 0:
        return None
    label = _order_fact(o)["label"]
    return CardSpec(
        "lbp-imaging-premature",
        {"order": _order_fact(o), "days_since_onset": days, "onset_date": first[0].text,
         "weeks_threshold": cfg.lbp_imaging_min_days // 7, "evidence": _evidence(e for _, ev, _ in items for e in ev)},
        suggestions=(Suggestion("Remove the draft MRI order", (actions.delete_order(o.order, label),)),),
        reasons=("acute-lbp-no-red-flag",),
    )


def edx_instead_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime) -> CardSpec | None:
    """A repeat spine MRI where the prior one already shows several levels or disagrees with the symptoms."""
    region = _region(o, picture)
    mri = picture.latest_mri(region)
    if mri is None:
        return None
    emg = picture.latest_emg
    if emg is not None and _recent(emg.date, now, cfg.recent_emg_days):
        return None  # a recent EMG already exists: the prior-EMG card speaks to it
    problems = _root_problems(picture, region)
    mri_reason = _mri_reason(mri, problems, cfg)
    if mri_reason is None:
        return None
    reasons = [mri_reason]
    limb = REGION_LIMB.get(region or "")
    question = _question(picture, region, reasons)
    suggestions: tuple[Suggestion, ...] = ()
    edx_label = None
    if limb:
        orderable = cfg.electrodiagnostic[limb]
        edx_label = orderable.text
        # Added beside the MRI, not instead of it: whether to keep the MRI is the clinician's call.
        suggestions = (Suggestion(f"Add an order: {orderable.text}", (
            actions.create_order(o.patient_id, orderable, "routine", "Radiculopathy: which root, if any",
                                 note=_question_note(question)),
        )),)
    return CardSpec("edx-may-answer-mri-question",
                    {"order": _order_fact(o), "reasons": reasons, "question": question, "edx_label": edx_label,
                     "evidence": _evidence(list(mri.evidence) + [e for p in problems for e in p.evidence])},
                    suggestions=suggestions, reasons=tuple(r["code"] for r in reasons))


# --- prior results ----------------------------------------------------------------------


def _emg_fact(emg: EmgReport) -> dict:
    r = emg.reading
    affirmed_roots = [x for x in r.radiculopathies if x.certainty == "affirmed"]
    affirmed_other = [x for x in r.neuropathies if x.certainty == "affirmed"]
    normal = bool(r.normal) or (r.normal is None and not affirmed_roots and not affirmed_other and bool(r.negated))
    findings = [x.sentence for x in affirmed_roots] + [x.sentence for x in affirmed_other]
    if normal and not findings:
        findings = ["Reported normal" + (f"; no evidence of {', '.join(r.negated[:3])}" if r.negated else "") + "."]
    levels = list(dict.fromkeys(root for x in affirmed_roots for root in x.roots))
    first = (findings[0] if findings else "abnormal study").rstrip(".")
    return {
        "date": emg.date.text if emg.date else "undated",
        "reference": emg.evidence[0].reference if emg.evidence else "DiagnosticReport",
        "normal": normal,
        "active": bool(r.active_denervation) or any(x.active for x in affirmed_roots),
        "chronic": bool(r.chronic_reinnervation) or any(x.chronic for x in affirmed_roots),
        "result_short": first,
        "findings": list(dict.fromkeys(findings))[:5],
        "levels": levels,
        "known": normal or bool(findings) or r.normal is False,
    }


def prior_emg_card(o: OrderInput, picture: ClinicalPicture) -> CardSpec | None:
    emg = picture.latest_emg
    if emg is None or not emg.text_available:
        return None
    fact = _emg_fact(emg)
    if not fact["known"]:
        return None  # the report says nothing this service can read: no card
    return CardSpec("prior-emg-reading", {"order": _order_fact(o), "emg": fact, "evidence": _evidence(emg.evidence)},
                    reasons=("prior-emg-normal" if fact["normal"] else "prior-emg-abnormal",))


def prior_mri_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> CardSpec | None:
    mri = picture.latest_mri(_region(o, picture))
    if mri is None or picture.age_years is None or mri.reading.normal or not mri.reading.findings:
        return None
    decade, rows = cfg.prevalence_at(picture.age_years)
    # The reader scopes "L3-4: bulge. ..." lists: put the level back where the sentence lost it.
    sentences = list(dict.fromkeys(
        (f.sentence if not f.level or re.match(r"^\s*[CTLS]\d", f.sentence) else f"{f.level}: {f.sentence}")
        .rstrip(" ;,")
        for f in mri.reading.findings if f.certainty == "affirmed"))
    if not sentences:
        return None
    levels = list(mri.reading.levels_with_findings)
    # Brinjikji's age figures come from lumbar studies: quote them for a lumbar MRI only.
    lumbar = "lumbar" in mri.regions if mri.regions else bool(levels) and all(lv[0] in "LS" for lv in levels)
    fact = {"date": mri.date.text if mri.date else "undated",
            "reference": mri.evidence[0].reference if mri.evidence else "DiagnosticReport",
            "findings": sentences[:6], "levels": levels, "lumbar": lumbar}
    return CardSpec("prior-mri-reading", {"order": _order_fact(o), "mri": fact, "age": picture.age_years,
                                          "decade": decade, "prevalence": rows, "evidence": _evidence(mri.evidence)},
                    reasons=("prior-mri-findings",))


# --- putting it together --------------------------------------------------------------


def advise(orders: list[OrderInput], picture: ClinicalPicture, cfg: RuleConfig, now: datetime,
           drafted: frozenset[str] = frozenset()) -> list[CardSpec]:
    """The cards for these orders, in the order they were decided (the pipeline sorts by indicator).

    ``drafted``: order kinds among all the draft orders, selected or not.
    """
    specs: list[CardSpec] = []
    shown: set[str] = set()  # once-per-response kinds already produced or covered
    for o in orders:
        flag = red_flag_card(o, picture, cfg)
        if flag is not None:
            specs.append(flag)
            continue  # urgent care, not a routine test: the routine cards would only distract
        if o.info.kind == "electrodiagnostic":
            specs += emg_value_cards(o, picture, cfg, now, shown)
            pretest = pretest_card(o, picture)
            if pretest is not None:
                specs.append(pretest)
        else:
            premature = lbp_premature_card(o, picture, cfg, now)
            if premature is not None:
                specs.append(premature)
                continue  # the advice is not to image yet; reading old results can wait
            # An EMG/NCS already among the drafts is advised on by its own cards: do not suggest another.
            instead = None if "electrodiagnostic" in drafted else edx_instead_card(o, picture, cfg, now)
            if instead is not None:
                specs.append(instead)
        for kind, build in (("prior-emg-reading", lambda: prior_emg_card(o, picture)),
                            ("prior-mri-reading", lambda: prior_mri_card(o, picture, cfg))):
            if kind in shown:
                continue
            spec = build()
            if spec is not None:
                specs.append(spec)
                shown.add(kind)
    return specs
