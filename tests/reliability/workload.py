"""Requests for the reliability tests: the clinical scenarios as hook calls, and feedback on their cards."""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from cds_service.cardbuilder import OVERRIDE_SYSTEM
from tests.scenarios.build import build
from tests.scenarios.test_scenarios import SCENARIOS

SERVICE_OF_HOOK = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}
#: A scenario whose card needs the conditions only: EMG/NCS with C6 radiculopathy and carpal tunnel
#: syndrome gives ``emg-adds-value`` whatever else of the record could be read.
MIMIC = next(s for s in SCENARIOS if s["name"].startswith("EMG for cervical radiculopathy with carpal tunnel"))
MIMIC_KIND = "emg-adds-value"
#: The FHIR access token the tests send; checked never to appear in logs elsewhere.
FHIR_TOKEN = "reliability-fhir-token-0123456789"


def hook_call(scenario: dict, patient_id: str, hook: str | None = None) -> tuple[str, dict]:
    """(path, body) of the scenario sent to the service of ``hook`` (default: the scenario's own)."""
    scenario = copy.deepcopy(scenario)
    if hook:
        scenario["hook"] = hook
    body = build(scenario, patient_id=patient_id)
    return "/cds-services/" + SERVICE_OF_HOOK[body["hook"]], body


def from_fhir_server(body: dict, base: str, keep: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """The request without prefetch (but the ``keep`` keys), reading ``base`` instead;
    and the record to put on the FHIR server (key -> body)."""
    record = body["prefetch"]
    out = copy.deepcopy(body)
    out["prefetch"] = {k: v for k, v in record.items() if k in keep}
    out["fhirServer"] = base
    out["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300,
                                "scope": "user/*.read", "subject": "spine-cds"}
    return out, record


def kinds(response: dict) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response["cards"]]


def gaps(response: dict) -> dict[str, str]:
    """prefetch key -> gap reason of a 200 response."""
    items = response.get("extension", {}).get("org.example.spine-order-cds.data-gaps", [])
    return {g["prefetchKey"]: g["reason"] for g in items}


def feedback_on(card: dict) -> dict:
    """One feedback post for ``card``: an override with the card's first reason, or an accepted suggestion."""
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if card.get("suggestions"):
        item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": when,
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    else:
        reasons = card.get("overrideReasons") or [{"system": OVERRIDE_SYSTEM, "code": "not-current"}]
        item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when,
                "overrideReason": {"reason": {"system": reasons[0]["system"], "code": reasons[0]["code"]}}}
    return {"feedback": [item]}


def unknown_card_feedback() -> dict:
    """Feedback on a card this service never issued (a distinct uuid each time, so each is new)."""
    return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                          "outcomeTimestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")}]}


@dataclass
class Timed:
    status: int
    seconds: float
    body: object
    headers: dict


def timed(send, *args, **kwargs) -> Timed:
    """Call ``send`` (a Flask client method or requests function) and time it."""
    started = time.monotonic()
    resp = send(*args, **kwargs)
    seconds = time.monotonic() - started
    body = resp.get_json(silent=True) if hasattr(resp, "get_json") else _json_or_none(resp)
    return Timed(resp.status_code, seconds, body, {k.lower(): v for k, v in resp.headers.items()})


def _json_or_none(resp):
    try:
        return resp.json()
    except ValueError:
        return None
