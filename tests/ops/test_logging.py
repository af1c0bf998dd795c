"""JSON log lines: a request id on every line of a request, the request line's fields, and no PHI or tokens."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from cds_service.ops.http import request_id_from
from cds_service.ops.logjson import JsonFormatter
from tests.ops.conftest import hook_body, kinds, pretest_scenario, service_path

PATIENT_ID = "mrn-778899"
TOKEN = "secret-access-token-9f8e7d"


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def test_a_hook_call_logs_one_json_request_line_with_its_context(client, capsys):
    body = hook_body(pretest_scenario(), PATIENT_ID)
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "cds-service"}
    capsys.readouterr()
    resp = client.post(service_path(pretest_scenario()), json=body, headers={"X-Request-ID": "req-42.a"})
    assert resp.status_code == 200 and resp.headers["X-Request-ID"] == "req-42.a"
    err = capsys.readouterr().err
    lines = json_lines(err)
    assert lines and all(line.get("request_id") == "req-42.a" for line in lines)
    (request_line,) = [line for line in lines if line.get("event") == "request"]
    assert request_line["endpoint"] == "cds.call_service" and request_line["service"] == "spine-order-sign"
    assert request_line["status"] == 200 and request_line["latency_ms"] > 0
    assert request_line["hook_instance"] == body["hookInstance"]
    assert request_line["card_kinds"] == kinds(resp.get_json())
    assert {"time", "level", "logger", "message"} <= set(request_line)
    for secret in (PATIENT_ID, TOKEN, "apixaban", "Radiculopathy"):
        assert secret not in err, f"{secret} reached the log"


def test_feedback_request_line_counts_what_was_stored(client, capsys):
    from tests.store.helpers import issued

    client.application.extensions["cds_ops"].store.record_issued([issued(card_uuid="c-1")])  # feedback needs an issued card
    capsys.readouterr()
    item = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:05:31Z",
            "overrideReason": {"userComment": "Mr Zebulon already had it"}}
    client.post("/cds-services/spine-order-sign/feedback", json={"feedback": [item, item]})
    err = capsys.readouterr().err
    (line,) = [x for x in json_lines(err) if x.get("event") == "request"]
    assert (line["feedback_recorded"], line["feedback_duplicates"]) == (1, 1)
    assert "Zebulon" not in err


@pytest.mark.parametrize("header,kept", [
    ("abc-123", True), ("3f2c9e1a-0b6f-4c21-9a7d-8f0b1c2d3e4f", True),
    ("has space", False), ("x" * 129, False), ("line\nbreak", False), ("trailing\n", False), ("", False),
    (None, False),
])
def test_request_id_is_the_callers_only_when_plain(header, kept):
    rid = request_id_from(header)
    assert (rid == header) is kept
    assert rid and len(rid) <= 128


def test_an_unsafe_request_id_is_replaced_and_returned(client, capsys):
    resp = client.get("/cds-services/spine-order-sign/feedback/summary", headers={"X-Request-ID": "a b<script>"})
    rid = resp.headers["X-Request-ID"]
    assert rid != "a b<script>" and len(rid) == 32
    assert "<script>" not in capsys.readouterr().err


def test_probes_are_quiet_at_info(client, capsys):
    capsys.readouterr()
    client.get("/healthz")
    client.get("/readyz")
    assert not [x for x in json_lines(capsys.readouterr().err) if x.get("event") == "request"]


def test_exceptions_are_logged_as_type_and_stack_without_their_message():
    message = f"patient {PATIENT_ID} broke it"  # data in the message, as in real errors
    try:
        raise ValueError(message)
    except ValueError:
        record = logging.LogRecord("cds_service.x", logging.ERROR, __file__, 1, "failed: %s", ("ValueError",),
                                   sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exc_type"] == "ValueError" and "test_logging.py" in line["stack"]
    assert PATIENT_ID not in json.dumps(line)


def test_extra_fields_outside_the_list_are_not_written():
    record = logging.LogRecord("cds_service.x", logging.INFO, __file__, 1, "hello", (), None)
    record.patient_id = PATIENT_ID
    record.service = "spine-order-sign"
    line = json.loads(JsonFormatter().format(record))
    assert line["service"] == "spine-order-sign" and PATIENT_ID not in json.dumps(line)
