"""Which cards to show for each recognised order, and with which facts.

One function per card kind; ``advise`` runs them in a fixed order and keeps the
result small: a red flag silences the routine cards (the message is "urgent
care, not a routine test"), prior-result cards appear once per response, and a
card is only produced when the record gives it something specific to say.
"""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec
from ..reading.model import ClinicalPicture
from .common import OrderInput
from .config import RuleConfig
from .emg import emg_value_cards
from .mri import edx_instead_card, lbp_premature_card
from .pretest import pretest_card
from .prior import prior_emg_card, prior_mri_card
from .red_flags import red_flag_card

__all__ = ["OrderInput", "advise"]


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
