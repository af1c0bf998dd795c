"""Issue 17: FHIR responses up to 20 MiB x 6 parallel queries x 5 pages let one call's worker
peak at 515-594 MB. All FHIR responses of one hook call now share one byte and entry budget,
counted as the bytes stream in (``fhir_call_max_bytes``, ``fhir_call_max_entries``)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from cds_service.errors import PreconditionFailed

from cds_service.fhir import gather_record
from cds_service.fhir.client import CallBudget, FhirClient
from cds_service.registry import load_definitions
from cds_service.settings import Settings
from tests.support.http_server import LocalHttpServer, QuietHandler

PATIENT = "p-1"
#: One page: about 1 MiB of valid Conditions with a next link (so every query pages on).
PAGE_ENTRIES = 2000


def _page(rtype: str, page: int, base: str) -> bytes:
    entries = [{"resource": {"resourceType": "Basic", "id": f"b{page}-{i}", "code": {"text": "x" * 400}}}
               for i in range(PAGE_ENTRIES)]
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries,
                       "link": [{"relation": "next", "url": f"{base}/{rtype}?patient={PATIENT}&page={page + 1}"}]}
                      ).encode()


class _BigServer:
    """Every query answers with about 1 MiB and a next page, for ever; counts the bytes it sent."""

    def __init__(self, chunked: bool):
        self.sent = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                rtype = self.path.split("?")[0].strip("/").split("/")[-1]
                page = int(self.path.rsplit("page=", 1)[1]) if "page=" in self.path else 1
                body = _page(rtype, page, outer.base)
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                try:
                    if chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in range(0, len(body), 65536):
                            piece = body[i:i + 65536]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                            with outer.lock:
                                outer.sent += len(piece)
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        with outer.lock:
                            outer.sent += len(body)
                except OSError:
                    pass

        self.server = LocalHttpServer(Handler)
        self.base = self.server.origin + "/fhir"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()


def _request(base: str) -> dict:
    return {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), "fhirServer": base,
            "context": {"userId": "Practitioner/1", "patientId": PATIENT,
                        "draftOrders": {"resourceType": "Bundle", "entry": []}}}


def _service():
    from tests.conftest import make_settings

    return next(s for s in load_definitions(make_settings().hooks_dir) if s.hook == "order-sign")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_call_reads_at_most_the_call_byte_budget_across_pages_and_queries(chunked):
    budget = 3 * 1024 * 1024
    with _BigServer(chunked) as server:
        settings = Settings(allowed_fhir_servers=(server.base,), fhir_budget_seconds=5.0, fhir_read_timeout=2.0,
                            fhir_max_pages=5, fhir_max_parallel=6, fhir_call_max_bytes=budget,
                            fhir_call_max_entries=10**6)
        started = time.monotonic()
        try:
            reasons = {g.reason for g in gather_record(_service(), _request(server.base), settings).gaps}
        except PreconditionFailed as exc:  # the budget ran out before the essential key had a page
            reasons = set(exc.errors.values())
        elapsed = time.monotonic() - started
    assert "call-byte-budget" in reasons, reasons
    # 6 queries x 5 pages x 1 MiB would be 30 MiB; the call stopped after its budget (and what the
    # server had already pushed into socket buffers, which nobody read).
    assert elapsed < 5.0 + 3.0


def test_budget_counts_across_threads_and_refuses_a_declared_length_that_does_not_fit():
    budget = CallBudget(max_bytes=100, max_entries=10)
    budget.take_bytes(60)
    assert budget.fits(40) and not budget.fits(41)
    with pytest.raises(Exception, match="call-byte-budget"):
        budget.take_bytes(41)
    budget.take_entries(10)
    with pytest.raises(Exception, match="call-entry-budget"):
        budget.take_entries(1)


def test_entry_budget_stops_paging():
    with _BigServer(chunked=False) as server:
        client = FhirClient(server.base, max_pages=5, max_bytes=50 * 1024 * 1024, read_timeout=2.0,
                            budget=CallBudget(max_bytes=10**9, max_entries=PAGE_ENTRIES * 2))
        result = client.fetch(f"Condition?patient={PATIENT}", time.monotonic() + 10)
    assert result.gap == "call-entry-budget"
    assert len(result.bodies) == 2  # the third page would pass the budget: not kept


def test_a_fetched_record_may_not_exceed_what_a_request_body_may_carry():
    # The body limit was chosen from the CPU a record of that size costs (bench/bounded_cost.py);
    # a fetched record of more bytes would cost more than any request the service accepts.
    settings = Settings()
    assert settings.fhir_call_max_bytes <= settings.max_body_bytes


def test_settings_client_has_the_call_budget():
    from cds_service.fhir.access import ServerAccess

    settings = Settings(fhir_call_max_bytes=1234, fhir_call_max_entries=56)
    client = FhirClient.from_settings(ServerAccess("https://ehr.example.org/fhir", None), settings)
    assert (client.budget.max_bytes, client.budget.max_entries) == (1234, 56)
