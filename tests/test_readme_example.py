"""The Quick start's example answer is the service's answer: the README says what a new user will see."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_start_example_card_is_what_the_service_answers(client):
    readme = (ROOT / "README.md").read_text()
    shown = json.loads(re.search(r"```json\n(\{\n  \"cards\".*?)\n```", readme, re.S).group(1))["cards"][0]
    body = json.loads((ROOT / "examples" / "order-select-emg-cervical.json").read_text())
    card = client.post("/cds-services/spine-order-select", json=body).get_json()["cards"][0]
    for key in ("summary", "indicator", "selectionBehavior"):
        assert shown[key] == card[key], key
    assert shown["source"] == card["source"]
    assert shown["extension"] == card["extension"]
    assert [link["label"] for link in shown["links"]] == [link["label"] for link in card["links"]]
    question = re.search(r"\*\*Question for the study:\*\* [^\n]*", card["detail"]).group(0)
    assert question in shown["detail"]
