"""A FHIR server on 127.0.0.1 that serves made-up records, or fails in a chosen way per resource type.

``records[patient_id]`` maps each prefetch key of the spine services to the body
the server returns for that key's query (``tests.scenarios.build`` makes them).
``faults[resource_type]`` picks how the query for that type goes wrong
(see ``FAULTS``). Handlers that stall (``slow``, ``trickle``) end when the
server stops, so no thread outlives the test session.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

from tests.support.http_server import LocalHttpServer, QuietHandler

#: Resource type of each query -> the prefetch key it fills (hooks/*.yaml).
KEY_OF_TYPE = {"Patient": "patient", "Condition": "conditions", "Observation": "observations",
               "MedicationRequest": "medications", "Device": "devices", "DiagnosticReport": "reports"}

#: Every way a query can go wrong here, and the gap reasons the service may give for it
#: (cds_service/fhir/events.py GAP_REASONS). Two reasons where a timer decides which fires first.
FAULTS = {
    "slow": {"timeout", "budget-exceeded"},  # no answer for longer than the budget
    "trickle": {"budget-exceeded", "timeout"},  # headers, then a byte every 50 ms, for ever
    "http-500": {"http-500"},
    "http-401": {"http-401"},
    "http-503": {"http-503"},  # retried once, then given up
    "not-json": {"invalid-json"},
    "wrong-shape": {"unexpected-response"},  # JSON, but not a FHIR resource
    "operation-outcome": {"operation-outcome"},
    "truncated": {"broken-response"},  # Content-Length promises more than is sent
    "huge": {"too-large"},  # over fhir_max_response_bytes, Content-Length declared
    "huge-chunked": {"too-large"},  # the same, chunked: found while reading
    "redirect": {"redirect"},
}

#: Large enough to exceed the ``fhir_max_response_bytes`` the tests set (HUGE_LIMIT).
HUGE_LIMIT = 256 * 1024
_HUGE_BODY = json.dumps({"resourceType": "Bundle", "type": "searchset",
                         "entry": [{"resource": {"resourceType": "Basic", "id": "x" * 60}}] * 8000}).encode()
assert len(_HUGE_BODY) > 2 * HUGE_LIMIT
#: Longest a stalling handler waits when nobody stops the server.
_STALL_SECONDS = 5.0


class FaultyFhirServer:
    def __init__(self):
        self.records: dict[str, dict[str, dict]] = {}
        self.faults: dict[str, str] = {}
        self.hits: list[str] = []
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real FHIR server; chunked needs it

            def do_GET(self):
                parts = urlsplit(self.path)
                rtype, rid = _split(parts.path)
                server.hits.append(rtype)
                fault = server.faults.get(rtype, "ok")
                if fault == "ok":
                    return self._ok(rtype, rid, parse_qs(parts.query))
                getattr(self, "_" + fault.replace("-", "_"))()

            # --- answers ------------------------------------------------------------

            def _ok(self, rtype, rid, query):
                patient = rid if rtype == "Patient" else (query.get("patient") or [""])[0]
                body = server.records.get(patient, {}).get(KEY_OF_TYPE.get(rtype, ""))
                if body is None:
                    return self._json(404, _outcome("not-found"))
                self._json(200, body)

            def _json(self, status, doc, content_type="application/fhir+json"):
                self._send(status, json.dumps(doc).encode(), content_type)

            def _send(self, status, body: bytes, content_type: str, length: int | None = None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def _slow(self):
                server._http.stopping.wait(_STALL_SECONDS)
                self.close_connection = True

            def _trickle(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", "100000")  # under HUGE_LIMIT: not refused up front
                self.end_headers()
                deadline = time.monotonic() + _STALL_SECONDS
                try:
                    self.wfile.write(b'{"resourceType": "Bundle", "entry": [')
                    while not server._http.stopping.wait(0.05) and time.monotonic() < deadline:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:  # the client gave up: what we want
                    pass
                self.close_connection = True

            def _http_500(self):
                self._json(500, _outcome("exception"))

            def _http_401(self):
                self._json(401, _outcome("login"))

            def _http_503(self):
                self._json(503, _outcome("transient"))

            def _not_json(self):
                self._send(200, b"<html><body>Service temporarily unavailable</body></html>", "text/html")

            def _wrong_shape(self):
                self._json(200, [{"resourceType": "Condition"}])

            def _operation_outcome(self):
                self._json(200, _outcome("too-costly"))

            def _truncated(self):
                body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode()
                self._send(200, body[: len(body) // 2], "application/fhir+json", length=len(body) + 100)
                self.close_connection = True

            def _huge(self):
                self._send(200, _HUGE_BODY, "application/fhir+json")

            def _huge_chunked(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for i in range(0, len(_HUGE_BODY), 16384):
                        chunk = _HUGE_BODY[i:i + 16384]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client stopped reading at its limit
                    pass
                self.close_connection = True

            def _redirect(self):
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._http = LocalHttpServer(Handler)

    @property
    def base(self) -> str:
        return self._http.origin + "/fhir"

    def start(self) -> FaultyFhirServer:
        self._http.start()
        return self

    def reset(self) -> None:
        self.faults.clear()
        self.hits.clear()

    def stop(self) -> None:
        self._http.stop()


def _split(path: str) -> tuple[str, str]:
    """('Patient', 'p-1') for /fhir/Patient/p-1; ('Condition', '') for /fhir/Condition."""
    steps = [s for s in path.split("/") if s][1:]  # drop the base's /fhir
    return (steps[0] if steps else "", steps[1] if len(steps) > 1 else "")


def _outcome(code: str) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code}]}
