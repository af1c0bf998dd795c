"""Benchmark: how long gathering the record takes for one hook call.

    .venv/bin/python bench/fhir_gather.py [--runs 30] [--delay-ms 50]

Measures, in one run on this machine:

1. gathering with full prefetch (a demo patient; no network);
2. gathering without prefetch from a local FHIR stand-in that answers each
   query after ``--delay-ms``, with the queries in parallel (the service's way)
   and one at a time (``fhir_max_parallel=1``, the baseline);
3. one query alone through the same client, the unit for the ratio
   "no-prefetch gathering / one query" (1.0 = fully parallel);
4. parsing a 2,000-resource searchset: JSON decoding, the record's reader
   (``fhir/reader.py``, what gathering uses), and for comparison fhir.resources
   validation and construction without validation.

The stand-in is a small threaded HTTP server serving the demo patients
(demo/patients/*.json) as reads and ``patient=`` searches; it is not a FHIR
server (see tests/fhir for the real one), just a fixed latency.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cds_service.fhir import gather_record  # noqa: E402
from cds_service.fhir.access import BearerToken  # noqa: E402
from cds_service.fhir.client import FhirClient  # noqa: E402
from cds_service.fhir.parse import entries, model_class  # noqa: E402
from cds_service.fhir.reader import read_resource  # noqa: E402
from cds_service.registry import load_definitions  # noqa: E402
from cds_service.settings import Settings  # noqa: E402

PATIENT = "demo-anticoag-1"
TOKEN = "bench-token"


def load_demo() -> dict[tuple[str, str], dict]:
    """(resourceType, id) -> resource, from every demo bundle."""
    out = {}
    for path in sorted((ROOT / "demo" / "patients").glob("*.json")):
        for entry in json.loads(path.read_text())["entry"]:
            r = entry["resource"]
            out[(r["resourceType"], r["id"])] = r
    return out


def _owner(resource: dict) -> str | None:
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


def serve(resources: dict, delay: float, ports) -> None:
    """Run the stand-in until killed; puts its port on ``ports``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real FHIR server
        # Headers and body go out as two writes: without this, Nagle plus the
        # client's delayed ACK add ~40 ms to every answer.
        disable_nagle_algorithm = True

        def do_GET(self):  # noqa: N802 (http.server's name)
            time.sleep(delay)
            parts = urlsplit(self.path)
            steps = parts.path.removeprefix("/fhir/").split("/")
            if len(steps) == 2:
                body = resources.get((steps[0], steps[1]))
                status = 200 if body else 404
                not_found = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
                body = body or not_found
            else:
                patient = parse_qs(parts.query).get("patient", [""])[0]
                matches = [r for (t, _), r in resources.items() if t == steps[0] and _owner(r) == patient]
                body = {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
                        "entry": [{"resource": r, "search": {"mode": "match"}} for r in matches]}
                status = 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


def start_delay_server(resources: dict, delay: float) -> tuple[multiprocessing.Process, str]:
    """The stand-in in its own process, so its threads do not share the benchmark's GIL."""
    ports = multiprocessing.Queue()
    proc = multiprocessing.Process(target=serve, args=(resources, delay, ports), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{ports.get(timeout=10)}/fhir"


def timed(fn, runs: int) -> list[float]:
    fn()  # warm: connections, imports
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=10)
    return f"median {statistics.median(samples):7.2f} ms   p90 {q[-1]:7.2f} ms"


def request(patient: str, base: str | None, prefetch: dict | None = None) -> dict:
    body = {
        "hook": "order-select",
        "hookInstance": "00000000-0000-4000-8000-000000000000",
        "context": {"userId": "Practitioner/pr-1", "patientId": patient},
    }
    if base:
        body["fhirServer"] = base
        body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "user/*.read", "subject": "bench"}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def big_searchset(resource_type: str, n: int) -> dict:
    """n resources of the type, copies of the demo patient's first one (with a note: realistic size)."""
    template = load_demo()[(resource_type, f"{PATIENT}-{'cond' if resource_type == 'Condition' else 'obs'}-1")]
    entries_ = [{"resource": dict(template, id=f"big-{resource_type}-{i}"), "search": {"mode": "match"}}
                for i in range(n)]
    return {"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entries_}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--bundle-size", type=int, default=2000)
    args = parser.parse_args()

    service = next(d for d in load_definitions(ROOT / "hooks") if d.id == "spine-order-select")
    resources = load_demo()
    server, base = start_delay_server(resources, args.delay_ms / 1000)
    # A budget that never cuts: this measures the time the queries take.
    common = dict(allowed_fhir_servers=(base,), fhir_budget_seconds=5.0, fhir_read_timeout=2.0,
                  fhir_connect_timeout=1.0)
    parallel = Settings.load(env={}, yaml_path=None, **common)
    serial = Settings.load(env={}, yaml_path=None, fhir_max_parallel=1, **common)

    # The prefetch a client would send: the same queries, answered by the stand-in.
    client = FhirClient(base, BearerToken(TOKEN), connect_timeout=1.0, read_timeout=2.0)
    prefetch = {}
    for t in service.prefetch:
        fetched = client.fetch(t.query.replace("{{context.patientId}}", PATIENT), time.monotonic() + 5)
        prefetch[t.key] = fetched.bodies[0]
    n_queries = len(service.prefetch)

    def check(record) -> None:
        assert not record.gaps and record.conditions, record.gaps  # the runs measured real work

    full = timed(lambda: check(gather_record(service, request(PATIENT, None, prefetch), parallel)), args.runs)
    one = timed(lambda: client.fetch(f"Condition?patient={PATIENT}&_count=500", time.monotonic() + 5), args.runs)
    par = timed(lambda: check(gather_record(service, request(PATIENT, base), parallel)), args.runs)
    seq = timed(lambda: check(gather_record(service, request(PATIENT, base), serial)), max(5, args.runs // 3))
    server.terminate()
    server.join()

    print(f"FHIR gathering, {n_queries} prefetch keys, patient {PATIENT}, {args.runs} runs, "
          f"stand-in latency {args.delay_ms:.0f} ms per query")
    print(f"  full prefetch (no network)         {summary(full)}")
    print(f"  one query alone                    {summary(one)}")
    print(f"  no prefetch, parallel              {summary(par)}")
    print(f"  no prefetch, one at a time         {summary(seq)}")
    print(f"  ratio no-prefetch / one query      {statistics.median(par) / statistics.median(one):.2f}  (goal ~1)")
    print(f"  ratio one-at-a-time / one query    {statistics.median(seq) / statistics.median(one):.2f}  "
          f"(~{n_queries} expected)")

    # --- parsing a large bundle -------------------------------------------------------
    half = args.bundle_size // 2
    conditions, observations = big_searchset("Condition", half), big_searchset("Observation", args.bundle_size - half)
    bundle = {**conditions, "entry": conditions["entry"] + observations["entry"]}
    text = json.dumps(bundle)
    runs = max(3, args.runs // 6)
    decode = timed(lambda: json.loads(text), runs)
    raws = [e.resource for e in entries(json.loads(text))]
    reader = timed(lambda: [read_resource(r) for r in raws], runs)
    validate = timed(lambda: [model_class(r["resourceType"]).model_validate(r) for r in raws], runs)
    construct = timed(lambda: [model_class(r["resourceType"]).model_construct(**r) for r in raws], runs)
    big = {**prefetch, "conditions": conditions, "observations": observations}

    def gather_big_once():
        record = gather_record(service, request(PATIENT, None, big), parallel)
        assert len(record.conditions) + len(record.observations) == args.bundle_size and not record.skipped_resources

    gather_big = timed(gather_big_once, runs)
    per = statistics.median(validate) / args.bundle_size * 1000
    print(f"\nParsing a {args.bundle_size}-resource searchset ({len(text) / 1e6:.1f} MB JSON), {runs} runs")
    print(f"  json.loads                         {summary(decode)}")
    print(f"  the record's reader (read_resource) {summary(reader)}   "
          f"({statistics.median(reader) / args.bundle_size * 1000:.1f} us per resource)")
    print(f"  fhir.resources validation          {summary(validate)}   ({per:.0f} us per resource)")
    print(f"  construction without validation    {summary(construct)}")
    print(f"  gather_record, as two prefetch keys {summary(gather_big)}")
    print(f"  reader share of parsing            "
          f"{statistics.median(reader) / (statistics.median(reader) + statistics.median(decode)):.0%}")


if __name__ == "__main__":
    main()
