"""Table-driven clinical scenarios: record + order -> expected card kinds, indicators, suggestions."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from cds_service.pipeline import call_service
from cds_service.protocol import CardResponseSchema
from tests.scenarios.build import build

#: Every ``*.yaml`` here: ``scenarios.yaml`` and one file per clinical topic added since.
SCENARIOS = [s for path in sorted(Path(__file__).parent.glob("*.yaml")) for s in yaml.safe_load(path.read_text())]
SERVICE = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}


def run_scenario(app, scenario: dict) -> dict:
    engine = app.extensions["cds_engine"]
    body = build(scenario)
    now = datetime.fromisoformat(str(scenario["now"])).replace(tzinfo=timezone.utc)
    return call_service(engine, engine.registry.get(SERVICE[body["hook"]]), body, now=now)


def suggestion_shape(card: dict) -> list[str]:
    return ["+".join(a["type"] for a in s["actions"]) for s in card.get("suggestions", [])]


def created_orders(card: dict) -> list[str]:
    """What each create action orders, as "code/priority" ("72146/stat"); an update as "update/priority"."""
    out = []
    for s in card.get("suggestions", []):
        for a in s["actions"]:
            r = a.get("resource") or {}
            if a["type"] == "create":
                out.append(f"{r['code']['coding'][0]['code']}/{r.get('priority')}")
            elif a["type"] == "update" and r.get("priority"):
                out.append(f"update/{r['priority']}")
    return out


def test_there_are_enough_scenarios_covering_every_card_kind(app):
    assert len(SCENARIOS) >= 25
    kinds = {e["kind"] for s in SCENARIOS for e in s["expect"]}
    assert kinds == set(app.extensions["cds_engine"].cards.kinds)
    assert {s.get("hook", "order-sign") for s in SCENARIOS if any(
        e["kind"] == "red-flag-urgent-evaluation" for e in s["expect"])} == {"order-select", "order-sign"}
    assert sum(1 for s in SCENARIOS if not s["expect"]) >= 4


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(app, scenario):
    response = run_scenario(app, scenario)
    assert CardResponseSchema().validate(response) == {}
    cards = response["cards"]
    got = [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]
    want = [(e["kind"], e["indicator"]) for e in scenario["expect"]]
    assert got == want, "\n".join(f"{c['indicator']}: {c['summary']}" for c in cards)
    for card, expected in zip(cards, scenario["expect"]):
        if "suggestions" in expected:
            assert suggestion_shape(card) == expected["suggestions"]
        if "orders" in expected:  # the suggested study's code (region, contrast) and priority
            assert created_orders(card) == expected["orders"]
        if "note" in expected:  # the clinical question the suggestion writes on the order
            notes = [n.get("text", "") for sug in card.get("suggestions", []) for a in sug["actions"]
                     if a["type"] == "update" for n in a["resource"].get("note", [])]
            assert any(expected["note"] in n for n in notes), notes
        if "reasons" in expected:
            reasons = card.get("extension", {}).get("org.example.spine-order-cds.reasons", [])
            assert reasons[: len(expected["reasons"])] == expected["reasons"]
        # Explainable: every card lists what in the record triggered it, and cites a source.
        assert "**From the record:**\n- " in card["detail"]
        assert card["source"]["label"]
