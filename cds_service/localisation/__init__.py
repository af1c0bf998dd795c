"""Localisation: the problem placed the way a spine surgeon places it (side, root or nerve, level, time).

- :mod:`.anatomy` -- the reviewed tables in ``config/anatomy/`` (roots, nerves, plexus, cord, MRI zones);
- :mod:`.model` -- the vocabulary: sites, findings, candidates, verdicts;
- :mod:`.reader` -- findings from problem-list and exam text and codes;
- :mod:`.localise` -- candidates and one verdict for an order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import (
    CONCORDANT, DISCORDANT, NOT_ENOUGH, PERIPHERAL_SHOWN, SEVERAL, VERDICTS, Candidate, Localisation, LocFinding, Site,
)  # fmt: skip

__all__ = ["CONCORDANT", "DISCORDANT", "NOT_ENOUGH", "PERIPHERAL_SHOWN", "SEVERAL", "VERDICTS", "Candidate",
           "Localisation", "LocFinding", "Site", "localise_request"]


def localise_request(engine: Any, body: dict, now: datetime) -> list[dict]:
    """For tests and review: the localisation of each spine order in a hook request (prefetch only).

    Returns one dict per recognised order: ``{"order": "ServiceRequest/draft-1", "kind": "electrodiagnostic",
    "verdict": "...", "candidates": ["root:L5:left", ...], "reasons": [...]}``.
    """
    from .. import advice
    from ..fhir import gather_record
    from ..draft_orders import extract_orders
    from ..protocol import validate_hook_request
    from ..reading import memo, read_record
    from .localise import localise

    service = engine.registry.get("spine-order-sign" if body.get("hook") == "order-sign" else "spine-order-select")
    request = validate_hook_request(body, service.hook)
    context = request["context"]
    out = []
    with memo.using(engine.memo):  # the engine's memo of text readings, as in a hook call
        orders = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
        picture = read_record(gather_record(service, request, engine.settings), engine.valuesets, now)
        for o in orders:
            loc = localise(o, picture, now)
            out.append({"order": o.order.reference, "kind": o.info.kind, "verdict": loc.verdict,
                        "candidates": list(loc.candidate_keys), "reasons": list(loc.reasons)})
    return out
