"""The red-flag card: urgent care or urgent imaging instead of a routine test."""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec, Suggestion
from ..localisation.model import NO_LOCALISATION, Localisation
from ..reading.model import (
    ClinicalPicture,
    RedFlag,
)
from . import actions
from .common import FLAG_REGION, OrderInput, days_ago, evidence_lines, order_fact, order_region
from .config import RuleConfig

# --- red flags ------------------------------------------------------------------


def _explained_stable_weakness(flag: RedFlag, loc: Localisation, cfg: RuleConfig, now: datetime | None) -> bool:
    """A weakness a peripheral lesion explains (the localisation, or a prior EMG/NCS) is not a red flag
    unless it is progressive or new: under the EMG's 3 weeks it is evaluated first, after them the
    EMG/NCS is the test that shows the lesion (issue 16: a stable peroneal foot drop is not critical)."""
    if flag.category != "motor-deficit" or not loc.weakness_explained or flag.sign == "progressive-weakness":
        return False
    if any(f.trajectory in ("progressive", "worsening", "new") for f in loc.findings if f.kind == "motor"):
        return False
    if flag.onset is None or now is None:
        return False  # undated: cannot say it is not new
    return days_ago(flag.onset.latest, now) >= cfg.emg_too_early_days


def red_flag_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig,
                  loc: Localisation = NO_LOCALISATION, now: datetime | None = None) -> CardSpec | None:
    flags = [f for f in picture.red_flags if f.certainty == "affirmed" and f.current
             and not _explained_stable_weakness(f, loc, cfg, now)]
    if not flags:
        return None
    categories = list(dict.fromkeys(f.category for f in flags))
    flag_region = next((FLAG_REGION[c] for c in categories if c in FLAG_REGION), None)
    region = flag_region or order_region(o, picture) or "lumbar"
    contrast = any(c in ("infection", "cancer") for c in categories)
    mri = cfg.urgent_mri[f"{region}-contrast" if contrast else region]
    priority = "stat" if "cauda-equina" in categories else "urgent"
    reason = "Red flag: " + ", ".join(categories)
    fact = order_fact(o)
    if o.info.kind == "electrodiagnostic":
        suggestion = Suggestion(
            label=f"Replace with {'a STAT' if priority == 'stat' else 'an urgent'} {mri.text}",
            actions=(*actions.delete_study(o.order, o.info.parts, fact["label"]),
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
        context={"order": fact, "flags": [{"category": c} for c in categories], "mri_label": mri.text,
                 "evidence": evidence_lines(e for f in flags for e in f.evidence)},
        suggestions=(suggestion,),
        reasons=tuple(categories),
    )


