"""Which cards to show for each recognised order, and with which facts.

One function per card kind; ``advise`` runs them in a fixed order and keeps the
result small: a red flag silences the routine cards (the message is "urgent
care, not a routine test"), prior-result cards appear once per response, and a
card is only produced when the record gives it something specific to say.
"""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec
from ..localisation.localise import localise
from ..reading.model import ClinicalPicture
from .common import OrderInput
from .config import RuleConfig
from .appropriateness import appropriateness_card, place, rate_updates, rating_action, rating_extensions
from .emg import emg_value_cards
from .mri import edx_instead_card
from .pretest import pretest_card
from .prior import prior_emg_card, prior_mri_card
from .red_flags import assess as assess_red_flags
from .red_flags import hedged_flag_card, red_flag_card

__all__ = ["OrderInput", "advise"]


# --- putting it together --------------------------------------------------------------


def advise(orders: list[OrderInput], picture: ClinicalPicture, cfg: RuleConfig, now: datetime,
           drafted: frozenset[str] = frozenset(), system_actions: list[dict] | None = None) -> list[CardSpec]:
    """The cards for these orders, in the order they were decided (the pipeline sorts by indicator).

    Every rule decides its card on its own, from the picture and the order's localisation; which
    card then silences which is the table of ``config/guidelines/precedence.yaml``.
    ``drafted``: order kinds among all the draft orders, selected or not.
    ``system_actions``: when given, each rated imaging order's PAMA rating action is appended to it.
    """
    per_order: list[list[CardSpec]] = []
    for o in orders:
        loc = localise(o, picture, now)
        flags = assess_red_flags(o, picture, cfg, now, loc)
        rated = None  # (rating code, PAMA extensions) of a rated imaging order
        specs: list[CardSpec | None] = [red_flag_card(o, picture, cfg, loc, now, flags), hedged_flag_card(o, cfg, flags)]
        if o.info.kind == "electrodiagnostic":
            specs += emg_value_cards(o, picture, cfg, now, loc)
        else:
            # The ACR Low Back Pain variant decides the premature or study-choice card and the PAMA rating.
            placed = place(o, picture, cfg, now, flags)
            specs.append(appropriateness_card(o, picture, cfg, now, placed))
            rated = rating_extensions(o, placed, cfg)
            if rated is not None and system_actions is not None:
                system_actions.append(rating_action(o, placed, cfg, rated))
            # An EMG/NCS already among the drafts is advised on by its own cards: do not suggest another.
            if "electrodiagnostic" not in drafted:
                specs.append(edx_instead_card(o, picture, cfg, now, loc))
        specs.append(pretest_card(o, picture, cfg, now))  # EMG/NCS bleeding and device notes; spine MRI implant and contrast notes
        specs.append(prior_emg_card(o, picture))
        specs.append(prior_mri_card(o, picture, cfg))
        kept = [s for s in specs if s is not None]
        if rated is not None:
            # A rated order's suggested updates (the red-flag "make this MRI urgent") carry its rating.
            kept = [rate_updates(s, o, rated[1], cfg) for s in kept]
        per_order.append(kept)
    return cfg.precedence.apply(per_order)
