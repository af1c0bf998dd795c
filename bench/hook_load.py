"""Hook latency and throughput under gunicorn, against a minimal Flask baseline measured in the same run.

    apt-get install -y wrk      # the load generator (Debian's wrk 4.1)
    .venv/bin/python bench/hook_load.py [--duration 10] [--clients 1,8,32] [--rounds 1]
                                        [--patients typical,heavy] [--baseline-rev REV]

Starts, on 127.0.0.1:

- the service as it is deployed: ``cds-service serve`` (gunicorn, the settings of
  ``config/settings.yaml``: 2 sync workers), JWT checking off, the
  embedded SQLite store and metrics on, JSON logs to a file;
- the baseline: ``bench/baseline_app.py``, a Flask endpoint that parses the body and
  returns one fixed card, under the same gunicorn options;
- with ``--baseline-rev``, also the service as it was at that git revision (a temporary
  worktree, same venv), for a before/after in the same run.

Each is driven by ``wrk`` (one thread, keep-alive connections, a Lua script that POSTs
the body of a ``bench/patients.py`` patient -- as 200 patients (heavy: 10) in turn, ids
replaced, so no single patient piles up thousands of issued cards in the store -- and prints
latency percentiles in its ``done()`` hook) at 1, 8 and 32 concurrent clients, for a typical (~50 resources) and a
heavy (~2,000 resources) patient. Points are interleaved server by server, and after
each point the script waits until the servers are idle again (requests cut off by the
end of a wrk run still finish), so one point's load does not leak into the next.

Printed per point: p50/p95/p99 latency, requests/s, the server's CPU time per request
(gunicorn master and workers, from /proc), the load generator's CPU share of one core
(to show it is not the limit: the client shares the 2 cores), and ratios against the
baseline: of requests/s, of CPU per request (baseline / server: what the throughput
ratio would be on an otherwise idle machine), and of p50. Every server is checked to answer 200 with cards before it is loaded, and
every non-2xx answer or socket error under load fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from patients import SERVICE, count_resources, heavy_request, mark_texts, typical_request  # noqa: E402
from tests.support.processes import free_port, stop_process, wait_http  # noqa: E402

# wrk's Lua: POST the file named after "--", as many patients: the patient id (args[2]) is
# replaced by args[3] different ids, one request each in turn. One patient called thousands
# of times would fill the store's issued-card table for that patient, and the suppression
# lookup (by patient) would slow down as no real patient's does. done() prints one JSON line
# that wrk's own --latency output lacks (p95, and exact numbers rather than rounded text).
LUA = r"""
local reqs, n, i, u, unique, body, pattern, args = {}, 0, 0, 0, false, nil, nil, nil
function init(argv)
  args = argv
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  pattern = args[2]:gsub("%p", "%%%0")
  n = tonumber(args[3])
  unique = args[4] == "unique"
  for k = 1, n do
    reqs[k] = wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                         (body:gsub(pattern, args[2] .. "-" .. k)))
  end
end
function request()
  if unique then
    -- every call a patient never seen before (and, with --texts unique, texts never read)
    u = u + 1
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                      (body:gsub(pattern, args[2] .. "-" .. args[5] .. "-" .. u)))
  end
  i = i % n + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
"""

@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        return [self.proc.pid, *_children(self.proc.pid)]


@dataclass
class Point:
    server: str
    patient: str
    clients: int
    requests: int
    rps: float
    p50: float
    p95: float
    p99: float
    server_cpu_ms: float  # per request
    client_cpu_share: float  # of one core
    extra: dict = field(default_factory=dict)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def wait_idle(servers: list[Server], limit: float = 120.0) -> None:
    """Until no server burns CPU (a request cut off by wrk's end still runs to completion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(_cpu_seconds(s.pids()) for s in servers)
        time.sleep(0.3)
        if sum(_cpu_seconds(s.pids()) for s in servers) - before < 0.02:
            return


def start(name: str, argv: list[str], cwd: Path, env: dict, port: int, tmp: Path) -> Server:
    log = tmp / f"{name.replace(' ', '_')}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", timeout=60, proc=proc)
    return Server(name, base, proc, log)


def start_service(name: str, code_root: Path, tmp: Path, extra_env: dict | None = None) -> Server:
    port = free_port()
    data = tmp / name.replace(" ", "_")
    data.mkdir()
    env = {"CDS_HOST": "127.0.0.1", "CDS_PORT": str(port), "CDS_AUTH_DISABLED": "true",
           "CDS_STORE_PATH": str(data / "store.sqlite3"), "CDS_REPLAY_CACHE_PATH": str(data / "replay.sqlite3")}
    env = {**env, "PYTHONPATH": str(code_root), **(extra_env or {})}
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each service makes its own metrics folder
    return start(name, [sys.executable, "-m", "cds_service.cli", "serve"], code_root, env, port, tmp)


def start_baseline(tmp: Path) -> Server:
    port = free_port()
    return start("baseline", [sys.executable, str(HERE / "baseline_app.py"), "--port", str(port)], ROOT, {}, port, tmp)


def check(server: Server, body: dict) -> list[str]:
    resp = requests.post(f"{server.base}/cds-services/{SERVICE}", json=body, timeout=60)
    resp.raise_for_status()
    cards = [c["source"]["topic"]["code"] for c in resp.json()["cards"]]
    assert cards, f"{server.name} gave no card: the run would measure nothing"
    return cards


#: Distinct patients per body (the heavy one, 2.6 MB each, gets fewer). Building them is wrk start-up
#: work (a fraction of a second), counted in its CPU share.
PATIENT_COPIES = {"typical": 200, "heavy": 10}


_RUNS = iter(range(1, 10**9))


def run_wrk(server: Server, body_path: Path, lua: Path, clients: int, seconds: float,
            texts: str = "repeat") -> Point | None:
    url = f"{server.base}/cds-services/{SERVICE}"
    patient = body_path.stem  # the body file is named after its patient id
    copies = PATIENT_COPIES["heavy" if "heavy" in patient else "typical"]
    cpu_before = _cpu_seconds(server.pids())
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "120s", "-s", str(lua),
                           url, "--", str(body_path), patient, str(copies), texts, f"r{next(_RUNS)}"], capture_output=True, text=True,
                          check=True)
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after = _cpu_seconds(server.pids())
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout} {done.stderr}")
    r = json.loads(line[len("BENCH "):])
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    if errors:
        raise RuntimeError(f"{server.name}: errors under load ({clients} clients): {errors}; see {server.log}")
    if not r["requests"]:
        return None
    wall = r["duration_us"] / 1e6
    client_cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    # The server's CPU includes requests still running when wrk stopped: a slight overestimate.
    return Point(server.name, "", clients, r["requests"], r["requests"] / wall, r["p50"] / 1000, r["p95"] / 1000,
                 r["p99"] / 1000, (cpu_after - cpu_before) * 1000 / r["requests"], client_cpu / wall)


def _median_point(points: list[Point]) -> Point:
    """Per field, the median over rounds."""
    first = points[0]
    med = lambda attr: statistics.median(getattr(p, attr) for p in points)  # noqa: E731
    return Point(first.server, first.patient, first.clients, sum(p.requests for p in points), med("rps"), med("p50"),
                 med("p95"), med("p99"), med("server_cpu_ms"), med("client_cpu_share"))


def print_tables(results: dict, rounds: int, sizes: dict) -> None:
    for patient, by_clients in results.items():
        print(f"\n{patient} patient ({sizes[patient]}); median of {rounds} round(s) per point")
        print(f"  {'clients':>7} {'server':16} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} "
              f"{'CPU ms/req':>10} {'wrk CPU':>8} {'req/s ratio':>11} {'CPU ratio':>9} {'p50 ratio':>9}")
        for clients, by_server in by_clients.items():
            base = _median_point(by_server["baseline"])
            for name, points in by_server.items():
                p = _median_point(points)
                # CPU ratio: baseline CPU per request / this server's; the throughput ratio an
                # otherwise idle machine would show (other load on the host does not move it).
                print(f"  {clients:7d} {name:16} {p.p50:8.2f} {p.p95:8.2f} {p.p99:8.2f} {p.rps:8.1f} "
                      f"{p.server_cpu_ms:10.2f} {p.client_cpu_share:8.0%} {p.rps / base.rps:11.3f} "
                      f"{base.server_cpu_ms / p.server_cpu_ms:9.3f} {p.p50 / base.p50:9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point (heavy: x2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before the first point")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--patients", default="typical,heavy")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every point, report medians")
    parser.add_argument("--baseline-rev", help="also load the service as it was at this git revision")
    parser.add_argument("--texts", choices=("repeat", "unique"), default="repeat",
                        help="repeat: 200 patients (heavy: 10) with the same texts in turn, so texts were read "
                             "before (warm memo); unique: every call a new patient whose texts were never read")
    parser.add_argument("--no-baseline-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    makers = {"typical": typical_request, "heavy": heavy_request}
    patients = [p for p in args.patients.split(",") if p]

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    lua = tmp / "post.lua"
    lua.write_text(LUA)
    bodies, sizes = {}, {}
    for name in patients:
        body = makers[name]()
        if args.texts == "unique":
            body = mark_texts(body)
        bodies[name] = tmp / f"{body['context']['patientId']}.json"
        bodies[name].write_text(json.dumps(body))
        sizes[name] = f"{count_resources(body)} resources, {bodies[name].stat().st_size / 1e3:.0f} kB body"

    servers: list[Server] = []
    worktree = None
    try:
        servers.append(start_baseline(tmp))
        if args.baseline_rev:
            worktree = tmp / "baseline-tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.baseline_rev],
                           check=True, capture_output=True)
            servers.append(start_service(f"service@{args.baseline_rev[:8]}", worktree, tmp))
        servers.append(start_service("service", ROOT, tmp))
        print(f"texts: {args.texts}; wrk {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split()[1]}, "
              f"{os.cpu_count()} CPUs; servers: {', '.join(s.name for s in servers)}")
        for name in patients:
            body = json.loads(bodies[name].read_text())
            kinds = {s.name: check(s, body) for s in servers if s.name != "baseline"}
            print(f"  {name}: cards {kinds}")
            if len({tuple(v) for v in kinds.values()}) > 1:
                print("  WARNING: the services give different cards")

        results: dict = {p: {c: {s.name: [] for s in servers} for c in clients} for p in patients}
        for _ in range(args.rounds):
            for patient in patients:
                seconds = args.duration * (2 if patient == "heavy" else 1)
                for server in servers:  # warm: model imports, caches, connections
                    run_wrk(server, bodies[patient], lua, 8, args.warmup, args.texts)
                    wait_idle(servers)
                for c in clients:
                    for server in servers:
                        point = run_wrk(server, bodies[patient], lua, c, seconds, args.texts)
                        wait_idle(servers)
                        if point:
                            results[patient][c][server.name].append(point)
                            print(f"  {patient:8} {c:3d} clients {server.name:16} {point.rps:8.1f} req/s  "
                                  f"p50 {point.p50:8.2f}  p99 {point.p99:8.2f} ms", flush=True)
        print_tables(results, args.rounds, sizes)
    finally:
        for server in servers:
            stop_process(server.proc, timeout=15)
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
