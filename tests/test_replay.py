"""cds-service replay: a saved hook request evaluated offline."""

import json
from pathlib import Path

from cds_service.cli import main
from cds_service.protocol import CardResponseSchema

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "order-select-emg-cervical.json"


def test_replay_prints_the_cards_as_text(capsys):
    assert main(["replay", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [INFO] EMG/NCS likely useful: right C6 root or right median nerve at the wrist (carpal tunnel)?")
    assert "Carpal tunnel syndrome, right upper limb (Condition/example-1-cond-2, 2025-12-01)" in out
    assert "Suggestion: Add the clinical question to the order (update)" in out


def test_replay_json_is_a_valid_response(capsys):
    assert main(["replay", str(EXAMPLE), "--format", "json"]) == 0
    response = json.loads(capsys.readouterr().out)
    assert CardResponseSchema().validate(response) == {}
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["emg-adds-value"]


def test_replay_never_calls_the_fhir_server(tmp_path, capsys):
    body = json.loads(EXAMPLE.read_text())
    del body["prefetch"]["conditions"]  # would need a fetch: offline it is a 412, not a request
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    path = tmp_path / "req.json"
    path.write_text(json.dumps(body))
    assert main(["replay", str(path), "--service", "spine-order-select"]) == 1
    assert "412" in capsys.readouterr().err


def test_replay_reports_a_bad_file(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{")
    assert main(["replay", str(path)]) == 2
    assert "not JSON" in capsys.readouterr().err
