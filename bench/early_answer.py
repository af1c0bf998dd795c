"""CPU per call of an order the service does not advise on, against the bare Flask endpoint, under gunicorn.

    .venv/bin/python bench/early_answer.py [--calls 2000] [--rounds 3] [--baseline-rev REV] [--advised]

Issue 20, goal 1: an order-sign call for a chest X-ray (CPT 71046, not a spine MRI or EMG/NCS)
with the typical patient's full prefetch (``bench/patients.py``: 51 resources, 48 kB) should
cost at most 1.5x the CPU of ``bench/baseline_app.py`` (a Flask endpoint that parses the body
with ``request.get_json()`` and returns a fixed card), the bare level of a reference service.

Starts on 127.0.0.1, as ``hook_load.py`` does (same gunicorn settings, 2 sync workers, JWT
checking off, store and metrics on, JSON logs to a file): the baseline, this checkout and,
with ``--baseline-rev``, the service at that revision (``git archive`` into a temporary
folder, same venv). Each server is checked first (the service must answer 200 ``{"cards": []}``,
the baseline its card). Then ``--rounds`` rounds, the servers in turn (the order rotating
each round): ``--calls`` POSTs in sequence on one keep-alive connection, the server's CPU
(gunicorn master and workers, /proc) before and after. Printed: CPU ms per call per round,
min/median/max over rounds, and each round's ratio to the baseline of the same round.
``--advised`` measures the typical call as it is instead (the full path, two cards), to show
what reading the body in stages costs a call that needs all of it.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from hook_load import _cpu_seconds, start_baseline, start_service, wait_idle  # noqa: E402
from patients import SERVICE, typical_request  # noqa: E402
from tests.support.processes import stop_process  # noqa: E402


def not_advised_request() -> dict:
    """The typical patient's order-sign call, its draft order swapped for a chest X-ray."""
    body = typical_request()
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["code"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "71046",
                                 "display": "X-ray chest 2 views"}], "text": "X-ray chest 2 views"}
    order.pop("bodySite", None)
    order.pop("reasonCode", None)
    body["context"]["draftOrders"]["entry"] = body["context"]["draftOrders"]["entry"][:1]
    return body


def _connection(base: str) -> http.client.HTTPConnection:
    host, port = base.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60)


def post(conn: http.client.HTTPConnection, data: bytes) -> tuple[int, dict]:
    conn.request("POST", f"/cds-services/{SERVICE}", body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def measure(server, data: bytes, calls: int) -> float:
    """Server CPU ms per call over ``calls`` calls in sequence."""
    conn = _connection(server.base)
    post(conn, data)  # the connection up, the worker warm
    wait_idle([server])
    before = _cpu_seconds(server.pids())
    for _ in range(calls):
        status, _body = post(conn, data)
        if status != 200:
            raise RuntimeError(f"{server.name}: {status}")
    after = _cpu_seconds(server.pids())
    conn.close()
    return (after - before) * 1000 / calls


def export_rev(rev: str, tmp: Path) -> Path:
    """The tree of ``rev`` in a folder (no worktree: nothing in the repository changes)."""
    folder = tmp / f"rev-{rev[:12]}"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-rev", help="also measure the service at this git revision")
    parser.add_argument("--advised", action="store_true",
                        help="the typical call as it is (a left-leg EMG/NCS, two cards) instead: the full path's cost")
    args = parser.parse_args()
    data = json.dumps(typical_request() if args.advised else not_advised_request()).encode()
    what = "the typical left-leg EMG/NCS call (two cards)" if args.advised else \
        "an order-sign call for a chest X-ray (CPT 71046), full typical prefetch"
    print(f"body: {len(data) / 1000:.1f} kB, {what}")
    servers = []
    with tempfile.TemporaryDirectory(prefix="cds-bench-early-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            servers.append(start_baseline(tmp))
            servers.append(start_service("now", ROOT, tmp))
            if args.baseline_rev:
                label = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline_rev],
                                       capture_output=True, text=True, check=True).stdout.strip()
                servers.append(start_service(label, export_rev(args.baseline_rev, tmp), tmp))
            for server in servers:
                status, body = post(_connection(server.base), data)
                expected = body.get("cards") if server.name == "baseline" or args.advised else body == {"cards": []}
                assert status == 200 and expected, f"{server.name}: {status} {body}"
            cpu: dict[str, list[float]] = {s.name: [] for s in servers}
            for r in range(args.rounds):
                turn = servers[r % len(servers):] + servers[: r % len(servers)]
                for server in turn:
                    cpu[server.name].append(measure(server, data, args.calls))
                print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.3f} ms" for n, v in cpu.items()), flush=True)
        finally:
            for server in servers:
                stop_process(server.proc, timeout=10)
    base = cpu["baseline"]
    print(f"\nCPU ms per call, {args.calls} calls x {args.rounds} rounds (min / median / max; ratio to the baseline "
          "of the same round)")
    print(f"| Server | CPU ms/call min | median | max | ratio min | median | max |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, values in cpu.items():
        ratios = [v / b for v, b in zip(values, base)]
        print(f"| {name} | {min(values):.3f} | {statistics.median(values):.3f} | {max(values):.3f} | "
              f"{min(ratios):.2f} | {statistics.median(ratios):.2f} | {max(ratios):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
