"""The red-flag card: urgent care or urgent imaging instead of a routine test."""

from __future__ import annotations

from ..cardbuilder import CardSpec, Suggestion
from ..reading.model import (
    ClinicalPicture,
)
from . import actions
from .common import FLAG_REGION, OrderInput, evidence_lines, order_fact, order_region
from .config import RuleConfig

# --- red flags ------------------------------------------------------------------


def red_flag_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> CardSpec | None:
    flags = [f for f in picture.red_flags if f.certainty == "affirmed" and f.current]
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


