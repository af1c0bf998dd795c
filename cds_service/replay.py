"""Evaluate a saved hook request offline and show the cards (``cds-service replay``).

Offline means: no FHIR server is called (the allowlist is emptied), nothing is
written to the feedback store, no JWT is needed. The request's prefetch is the
record; a missing essential key gives the same 412 message the service would.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import CdsError
from .pipeline import call_service, load_engine
from .settings import Settings

_MARK = {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"}


def replay(settings: Settings, body: Any, service_id: str | None = None, now: datetime | None = None) -> dict:
    """The response the service would give to ``body``, computed offline.

    :raise CdsError: as the service would answer (400, 404, 412), with its message.
    """
    engine = load_engine(settings.replace(allowed_fhir_servers=()))
    if service_id is None:
        hook = body.get("hook") if isinstance(body, dict) else None
        matching = [s for s in engine.registry if s.hook == hook]
        if not matching:
            raise CdsError(f"No service answers hook {hook!r}; pass --service.")
        service = matching[0]
    else:
        service = engine.registry.get(service_id)
    return call_service(engine, service, body, now=now)


def as_text(response: dict) -> str:
    """Cards as a clinician reads them in a terminal."""
    if not response["cards"]:
        return "No cards: nothing specific to say for these orders and this record.\n"
    out = []
    for i, card in enumerate(response["cards"], 1):
        out.append(f"{i}. [{_MARK[card['indicator']]}] {card['summary']}")
        for line in card.get("detail", "").splitlines():
            out.append(textwrap.indent(line, "     ") if line else "")
        out.append(f"     Source: {card['source']['label']}" + (f" <{card['source']['url']}>" if "url" in card["source"] else ""))
        for s in card.get("suggestions", []):
            out.append(f"     Suggestion: {s['label']} ({', '.join(a['type'] for a in s['actions'])})")
        if card.get("overrideReasons"):
            out.append("     Override reasons: " + "; ".join(r["display"] for r in card["overrideReasons"]))
        out.append("")
    return "\n".join(out)


def load_request(path: Path) -> Any:
    """:raise ValueError: when the file is not JSON (the message names the file and line)."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno})") from None
