"""Hook latency without prefetch, through HTTP, against a FHIR server that answers each query after 50 ms.

    .venv/bin/python bench/no_prefetch.py [--calls 30] [--delay-ms 50] [--patients typical,heavy]
                                          [--baseline-rev REV]

Starts the service as deployed (``cds-service serve`` under gunicorn, JWT checking off,
the stand-in on ``allowed_fhir_servers``) and the FHIR stand-in of ``bench/fhir_gather.py``
(its own process, a fixed delay before each answer) serving the records of
``bench/patients.py``. One client, calls one after another, measured at the client:

- one query alone: ``GET Condition?patient=...`` to the stand-in (delay + transfer);
- the hook call with every prefetch key filled (no FHIR query: the processing cost);
- the hook call with no prefetch: the service runs its six queries (in parallel, under
  ``fhir_budget_seconds``) and then the same processing.

The ratio "no-prefetch call / one query" is the goal's measure (under 1.5): 1.0 would
be a service that costs nothing beyond waiting for one query. ``--baseline-rev`` also
measures the service as it was at a git revision (a temporary worktree), in the same run. Every no-prefetch answer
is checked to have the same cards as the prefetched one and no data gap, so a query
cut by the budget cannot pass for a fast answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from fhir_gather import start_delay_server  # noqa: E402
from hook_load import start_service  # noqa: E402
from patients import SERVICE, count_resources, heavy_request, typical_request  # noqa: E402
from tests.support.processes import stop_process  # noqa: E402

TOKEN = "bench-token"


def resources_of(request: dict) -> dict[tuple[str, str], dict]:
    out = {}
    for value in request["prefetch"].values():
        for r in [e["resource"] for e in value["entry"]] if value.get("resourceType") == "Bundle" else [value]:
            out[(r["resourceType"], r["id"])] = r
    return out


def without_prefetch(request: dict, base: str) -> dict:
    body = {k: v for k, v in request.items() if k != "prefetch"}
    body["fhirServer"] = base
    body["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "bench"}
    return body


def timed_calls(session: requests.Session, url: str, body: dict | None, calls: int,
                method: str = "POST") -> tuple[list[float], list[dict]]:
    """(milliseconds per call, answers) after two warm-up calls (connections, first-use costs)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    answers, samples = [], []
    for i in range(calls + 2):
        started = time.perf_counter()
        resp = session.request(method, url, data=data, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        resp.raise_for_status()
        if i >= 2:
            samples.append(elapsed)
            answers.append(resp.json())
    return samples, answers


def _kinds(answer: dict) -> list[str]:
    return [c["source"]["topic"]["code"] for c in answer["cards"]]


def _gaps(answer: dict) -> list:
    return (answer.get("extension") or {}).get("org.example.spine-order-cds.data-gaps") or []


def summary(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples):8.1f} ms   p95 {q[-1]:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="calls per measurement (heavy: a third)")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--patients", default="typical,heavy")
    parser.add_argument("--baseline-rev", help="also measure the service as it was at this git revision")
    args = parser.parse_args()
    makers = {"typical": typical_request, "heavy": heavy_request}
    requests_ = {name: makers[name]() for name in args.patients.split(",") if name}
    everything = {}
    for request in requests_.values():
        everything.update(resources_of(request))

    stand_in, base = start_delay_server(everything, args.delay_ms / 1000)
    tmp = Path(tempfile.mkdtemp(prefix="bench-noprefetch-"))
    env = {"CDS_ALLOWED_FHIR_SERVERS": base}
    services, worktree = [], None
    session = requests.Session()
    try:
        if args.baseline_rev:
            worktree = tmp / "baseline-tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.baseline_rev],
                           check=True, capture_output=True)
            services.append(start_service(f"service@{args.baseline_rev[:8]}", worktree, tmp, env))
        services.append(start_service("service", ROOT, tmp, env))
        print(f"FHIR stand-in answering after {args.delay_ms:.0f} ms; service under gunicorn; one client, "
              f"calls in sequence")
        for (name, request), service in ((item, s) for item in requests_.items() for s in services):
            url = f"{service.base}/cds-services/{SERVICE}"
            calls = args.calls if name == "typical" else max(5, args.calls // 3)
            patient = request["context"]["patientId"]
            one, _ = timed_calls(session, f"{base}/Condition?patient={patient}&_count=500", None, calls, "GET")
            pre, pre_answers = timed_calls(session, url, request, calls)
            nop, nop_answers = timed_calls(session, url, without_prefetch(request, base), calls)
            expected = _kinds(pre_answers[0])
            assert expected and all(_kinds(a) == expected for a in pre_answers)
            # A query cut by the budget gives a data gap (and maybe fewer cards): count those calls.
            gapped = [a for a in nop_answers if _gaps(a)]
            assert all(_kinds(a) == expected for a in nop_answers if not _gaps(a)), [(_kinds(a), a.get("extension")) for a in nop_answers]
            ratio = statistics.median(nop) / statistics.median(one)
            print(f"\n{name} patient ({count_resources(request)} resources), {service.name}, {calls} calls each")
            print(f"  one query alone (GET Condition)        {summary(one)}")
            print(f"  hook call, full prefetch               {summary(pre)}")
            print(f"  hook call, no prefetch (6 queries)     {summary(nop)}")
            print(f"  ratio no-prefetch / one query          {ratio:.2f}   (goal < 1.5)")
            reasons = sorted({f"{g['prefetchKey']}:{g['reason']}" for a in gapped for g in _gaps(a)})
            print(f"  no-prefetch calls with data gaps       {len(gapped)} of {len(nop_answers)}"
                  + (f"   ({', '.join(reasons)})" if reasons else ""))
            print(f"  no-prefetch minus prefetch             {statistics.median(nop) - statistics.median(pre):8.1f} ms"
                  f"   (waiting for the queries)")
    finally:
        for service in services:
            stop_process(service.proc, timeout=15)
        stand_in.terminate()
        stand_in.join()
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
