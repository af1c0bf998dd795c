"""Spine MRI orders: imaging appropriateness and whether an EMG/NCS would answer the question instead."""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec, Suggestion
from ..localisation.model import (
    CONCORDANT, DISCORDANT, NO_LOCALISATION, PERIPHERAL_SHOWN, SEVERAL, Localisation,
)  # fmt: skip
from ..reading.model import (
    ClinicalPicture,
)
from . import actions
from .common import (
    REGION_LIMB,
    OrderInput,
    days_ago,
    evidence_lines,
    is_recent,
    order_fact,
    order_region,
    root_problems_in,
)
from .config import RuleConfig
from .emg import clinical_question, mri_reason, question_note
from ..reading.certainty import Certainty

# --- spine MRI orders ---------------------------------------------------------------


def lbp_premature_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime) -> CardSpec | None:
    """ACR LBP variant 1: lumbar MRI within about 6 weeks of onset, no red flag (checked by the caller)."""
    if order_region(o, picture) not in ("lumbar", None):
        return None
    items = [(p.onset, p.evidence, p.onset_basis) for p in picture.root_problems
             if p.region in ("lumbar", None) and p.certainty == Certainty.AFFIRMED]
    items += [(a.onset, a.evidence, "onset") for a in picture.axial_pain
              if a.region in ("lumbar", None) and a.certainty == Certainty.AFFIRMED]
    if not items:
        return None
    # An undated back problem, or one dated only by when it was recorded, may be
    # long-standing: then nothing useful can be said.
    if any(onset is None or basis != "onset" for onset, _, basis in items):
        return None
    first = min(items, key=lambda x: x[0].earliest)
    days = days_ago(first[0].earliest, now)  # the longest the problem can have lasted
    if days >= cfg.lbp_imaging_min_days or days < 0:
        return None
    label = order_fact(o)["label"]
    return CardSpec(
        "lbp-imaging-premature",
        {"order": order_fact(o), "days_since_onset": days, "onset_date": first[0].text,
         "weeks_threshold": cfg.lbp_imaging_min_days // 7, "evidence": evidence_lines(e for _, ev, _ in items for e in ev)},
        suggestions=(Suggestion("Remove the draft MRI order", (actions.delete_order(o.order, label),)),),
        reasons=("acute-lbp-no-red-flag",),
    )


def edx_instead_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime,
                     loc: Localisation = NO_LOCALISATION) -> CardSpec | None:
    """A repeat spine MRI where the prior one already shows several levels or disagrees with the symptoms."""
    region = order_region(o, picture)
    mri = picture.latest_mri(region)
    if mri is None:
        return None
    emg = picture.latest_emg
    if emg is not None and is_recent(emg.date, now, cfg.recent_emg_days):
        return None  # a recent EMG already exists: the prior-EMG card speaks to it
    problems = root_problems_in(picture, region)
    if loc.verdict in (CONCORDANT, PERIPHERAL_SHOWN):
        return None  # the MRI already fits the picture, or the EMG already found the cause
    if loc.verdict in (DISCORDANT, SEVERAL) and loc.reasons:
        code = "mri-symptom-mismatch" if loc.verdict == DISCORDANT else "several-candidates"
        found = {"code": code, "detail": loc.reasons[0]}
    else:
        found = mri_reason(mri, problems, cfg)
    if found is None:
        return None
    reasons = [found]
    limb = REGION_LIMB.get(region or "")
    question = clinical_question(picture, region, reasons, loc)
    suggestions: tuple[Suggestion, ...] = ()
    edx_label = None
    if limb:
        orderable = cfg.electrodiagnostic[limb]
        edx_label = orderable.text
        # Added beside the MRI, not instead of it: whether to keep the MRI is the clinician's call.
        suggestions = (Suggestion(f"Add an order: {orderable.text}", (
            actions.create_order(o.patient_id, orderable, "routine", "Radiculopathy: which root, if any",
                                 note=question_note(question)),
        )),)
    return CardSpec("edx-may-answer-mri-question",
                    {"order": order_fact(o), "reasons": reasons, "question": question, "edx_label": edx_label,
                     "evidence": evidence_lines(list(mri.evidence) + [e for p in problems for e in p.evidence])},
                    suggestions=suggestions, reasons=tuple(r["code"] for r in reasons))


