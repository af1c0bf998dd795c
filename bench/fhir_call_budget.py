"""Benchmark: peak memory and wall time of one hook call's FHIR gathering against a FHIR server
that answers every query with a ~20 MiB searchset page and a next link (issue 17).

    .venv/bin/python bench/fhir_call_budget.py [--page-mib 20]

Each case runs in a fresh process (peak RSS is per process): the same six parallel queries,
five pages each at most, the default time budget (fhir_budget_seconds 0.4 s), with
``fhir_call_max_bytes``/``fhir_call_max_entries`` effectively off (the code before the call
budget: only ``fhir_max_response_bytes`` per response) and at their defaults. Printed: peak RSS
above the process's RSS before the call, the call's wall time, and the gaps.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import threading
import sys
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.http_server import QuietHandler  # noqa: E402

PATIENT = "p-1"


def serve(page_mib: float, chunked: bool, port_queue) -> None:
    entry = {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": f"Patient/{PATIENT}"},
                          "code": {"text": "x" * 900}}}
    per_page = int(page_mib * 1024 * 1024 / len(json.dumps(entry)))
    pages: dict[str, bytes] = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), None)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    entries = [{"resource": {**entry["resource"], "id": f"c{i}"}} for i in range(per_page)]
    for rtype in ("Patient", "Condition", "Observation", "MedicationRequest", "Device", "DiagnosticReport"):
        # Built before serving: the service waits for the network, not for json.dumps.
        pages[rtype] = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries, "link": [
            {"relation": "next", "url": f"{base}/{rtype}?patient={PATIENT}&page=2"}]}).encode()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            rtype = self.path.split("?")[0].rstrip("/").split("/")[-1]
            body = pages.get(rtype, pages["Condition"])
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            try:
                if chunked:  # no Content-Length: the size is found only while reading
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 1 << 20):
                        piece = body[i:i + (1 << 20)]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            except OSError:
                pass

    httpd.RequestHandlerClass = Handler
    httpd.daemon_threads = True
    port_queue.put(base)
    httpd.serve_forever()


def one_call(base: str, unbounded: bool, budget_seconds: float, out) -> None:
    from cds_service.errors import PreconditionFailed
    from cds_service.fhir import gather_record
    from cds_service.registry import load_definitions
    from cds_service.settings import Settings

    overrides = {"fhir_call_max_bytes": 10**12, "fhir_call_max_entries": 10**9} if unbounded else {}
    settings = Settings(allowed_fhir_servers=(base,), fhir_budget_seconds=budget_seconds,
                        fhir_read_timeout=budget_seconds, **overrides)
    service = next(s for s in load_definitions(settings.hooks_dir) if s.hook == "order-sign")
    request = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), "fhirServer": base,
               "context": {"userId": "Practitioner/1", "patientId": PATIENT,
                           "draftOrders": {"resourceType": "Bundle", "entry": []}}}
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(_rss_mb())
            time.sleep(0.005)

    before = _rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        gaps = sorted({g.reason for g in gather_record(service, request, settings).gaps})
    except PreconditionFailed as exc:
        gaps = ["412: " + ",".join(sorted(set(exc.errors.values())))]
    elapsed = time.monotonic() - started
    time.sleep(3)  # late fetch threads: their memory counts too
    stop.set()
    sampler.join()
    out.put((before, max(samples) - before, elapsed, gaps))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page-mib", type=float, default=19.0)
    parser.add_argument("--chunked", action="store_true", help="no Content-Length (found while reading)")
    parser.add_argument("--budget-seconds", type=float, default=0.4, help="fhir_budget_seconds (default 0.4)")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=serve, args=(args.page_mib, args.chunked, q), daemon=True)
    server.start()
    base = q.get(timeout=30)
    try:
        for label, unbounded in (("no call budget (before)", True), ("call budget, defaults (after)", False)):
            out = ctx.Queue()
            p = ctx.Process(target=one_call, args=(base, unbounded, args.budget_seconds, out))
            p.start()
            before, peak, elapsed, gaps = out.get(timeout=120)
            p.join()
            print(f"{label:32s} RSS before {before:6.0f} MB, peak above it {peak:6.0f} MB, "
                  f"call {elapsed * 1000:6.0f} ms, gaps {gaps}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
