"""Where fhir.resources earns its place: every FHIR resource the service suggests in a card's
actions (an EMG/NCS order to create, a draft order to update) is valid R4B, for every scenario."""

from __future__ import annotations

from pathlib import Path

import yaml

from cds_service.fhir.parse import parse_resource
from tests.scenarios.test_scenarios import run_scenario

SCENARIOS = [s for path in sorted((Path(__file__).parents[1] / "scenarios").glob("*.yaml"))
             for s in yaml.safe_load(path.read_text())]


def test_every_suggested_resource_is_valid_r4b(app):
    checked = set()
    for scenario in SCENARIOS:
        for card in run_scenario(app, scenario)["cards"]:
            for suggestion in card.get("suggestions", []):
                for action in suggestion.get("actions", []):
                    if isinstance(action.get("resource"), dict):
                        model = parse_resource(action["resource"])  # InvalidResource: not valid R4B
                        checked.add((action["type"], model.get_resource_type()))
    assert {("create", "ServiceRequest"), ("update", "ServiceRequest")} <= checked  # not a vacuous pass
