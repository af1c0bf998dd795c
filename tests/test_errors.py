"""No request can produce a stack trace in the body, even when the code fails."""

import logging

from cds_service import advice
from tests.support.builders import hook_request


def test_an_unexpected_failure_is_a_json_500_without_details(app, client, monkeypatch, caplog):
    def boom(*_a, **_k):
        raise RuntimeError("secret patient detail Jane Doe")

    monkeypatch.setattr(advice, "advise", boom)  # inside the spine handler
    with caplog.at_level(logging.ERROR):
        resp = client.post("/cds-services/spine-order-sign", json=hook_request("order-sign"))
    assert resp.status_code == 500
    assert resp.json["operationOutcome"]["issue"][0]["code"] == "exception"
    text = resp.get_data(as_text=True)
    assert "Jane Doe" not in text and "Traceback" not in text and "RuntimeError" not in text
    # The log names the failure's type only; the message may hold PHI.
    assert "RuntimeError" in caplog.text and "Jane Doe" not in caplog.text
