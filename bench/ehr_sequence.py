"""An EHR's sequence of hook calls, under gunicorn, against the bare Flask endpoint (issue 20, goal 4).

    .venv/bin/python bench/ehr_sequence.py [--patients 200] [--rounds 3] [--memo-off]
                                           [--memo-patient-text] [--texts free|all] [--baseline-rev REV]

What the CDS Hooks sandbox and EHRs do while a clinician writes an order: ``order-select``
fires when the order is picked and again each time the draft is edited, then ``order-sign``
fires with the final draft. Here, for each of ``--patients`` different patients (the typical
record of ``bench/patients.py``, its own patient id and its own free text), one order of four
kinds in turn -- a lumbar/leg EMG/NCS, a cervical/arm EMG/NCS, a lumbar spine MRI, and a chest
X-ray the service does not advise on -- goes through:

1. ``order-select``: the order as picked from the catalogue (code, ``priority: routine``);
2. ``order-select``: the clinician adds the side (``bodySite``; none for the MRI and the X-ray)
   and the indication picked from a list (``reasonCode``, an ICD-10-CM code);
3. ``order-select``: the clinician types a note (``note``) and changes the priority to ``asap``;
4. ``order-sign`` of that final draft.

Every call carries the patient's full prefetch (48 kB) and a hookInstance of its own.

Starts on 127.0.0.1, as ``hook_load.py`` and ``early_answer.py`` do (the deployed settings: 2
sync workers; JWT checking off; store and metrics on; JSON logs to a file): the baseline
(``bench/baseline_app.py``), this checkout and, with ``--baseline-rev``, the service at that
revision (``git archive``). The first patient of each kind is sent through every service first:
the advised orders must give cards on all four calls, the chest X-ray none (the run stops
otherwise); the card summaries are printed once per kind. Then ``--rounds`` rounds, the servers
in turn (the order rotating each round), each round with patients never sent before (their ids
and texts carry the round), on one keep-alive HTTP connection (``http.client``; sync workers
close it after each answer and the client reconnects, as ``early_answer.py``).

Server CPU per call: the gunicorn master's and workers' CPU time, all threads, from
``/proc/<pid>/task/*/schedstat`` (nanoseconds; ``/proc/<pid>/stat`` counts 10 ms ticks, too coarse
for one 5 ms call), read after each answer: a call is charged what the server spent from the end of
the previous answer to the end of its own (so what a worker does after answering, its log line,
goes to the next call, and the round's calls add up to the round). The round's total from
``/proc/<pid>/stat`` (``hook_load._cpu_seconds``) is printed beside it as a check.

``--texts free`` (default): the patient's free text is the patient's own (report conclusions and
attachments, condition notes, observation values typed as text, the order's note carry the
patient id), while labels that are a code system's wording ("Radiculopathy, lumbar region") are
the same for every patient, as in real records: the worker's memo of text readings keeps those
across calls. ``--texts all``: every label too (``patients.mark_texts``), the worst case.
``--memo-off``: the memo of text readings off (``CDS_TEXT_CACHE_CHARS=0``);
``--memo-patient-text``: it also keeps patient free text across calls
(``CDS_TEXT_CACHE_PATIENT_TEXT=true``), so the later calls of a patient do not read the reports
again.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from early_answer import _connection, export_rev  # noqa: E402
from hook_load import _cpu_seconds, start_baseline, start_service, wait_idle  # noqa: E402
from patients import NOW, mark_texts, typical_request  # noqa: E402

CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
#: The service each hook is sent to (hooks/spine-order-select.yaml, hooks/spine-order-sign.yaml).
SERVICES = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}
POSITIONS = ("select 1", "select 2", "select 3", "sign")
HOOKS = ("order-select", "order-select", "order-select", "order-sign")
DRAFT_ID = "draft-1"


@dataclass(frozen=True)
class OrderKind:
    name: str
    codings: tuple[tuple[str, str, str], ...]  # (system, code, display)
    text: str
    side: str | None  # bodySite text the clinician adds in the second call
    reason: tuple[str, str, str]  # (system, code, display) of the indication picked from a list
    note: str  # the clinician's note of the third call (the patient id is added)
    advised: bool  # whether the service advises on it (cards expected)


#: Both EMG/NCS kinds' codes.
EMG_NCS_CODES = ((CPT, "95886", "Needle EMG with NCS, each extremity, complete (add-on)"),
                 (CPT, "95910", "Nerve conduction studies; 7-8 studies"))

#: The four kinds, rotated across patients. Codes: config/valuesets (order-edx-needle-emg,
#: order-edx-nerve-conduction, order-mri-spine-lumbar); the EMG/NCS shape is the service's own
#: suggestion (config/guidelines/orderables.yaml: the 95886 add-on, the study in the text) with the
#: NCS code beside it; the chest X-ray as bench/early_answer.py builds it.
KINDS = (
    OrderKind("emg-lumbar",
              EMG_NCS_CODES,
              "EMG and nerve conduction study, lower extremity", "Left lower extremity",
              (ICD10, "M54.16", "Radiculopathy, lumbar region"),
              "Pain and numbness down the left leg for 3 months; please include the paraspinals.", True),
    OrderKind("emg-cervical",
              EMG_NCS_CODES,
              "EMG and nerve conduction study, upper extremity", "Left upper extremity",
              (ICD10, "M54.12", "Radiculopathy, cervical region"),
              "Tingling in the left hand; please look for carpal tunnel as well.", True),
    OrderKind("mri-lumbar", ((CPT, "72148", "Mri lumbar spine w/o dye"),),
              "MRI lumbar spine without contrast", None,
              (ICD10, "M54.16", "Radiculopathy, lumbar region"),
              "Pain no better after 8 weeks of physiotherapy; has no pacemaker.", True),
    OrderKind("xr-chest", ((CPT, "71046", "X-ray chest 2 views"),), "X-ray chest 2 views", None,
              (ICD10, "R05.9", "Cough, unspecified"),
              "Cough for 4 weeks, ex-smoker.", False),
)
KIND_NAMES = tuple(k.name for k in KINDS)


def kind_for(index: int) -> OrderKind:
    """Patient ``index``'s order kind: the four in turn."""
    return KINDS[index % len(KINDS)]


def patient_id(round_no: int, index: int) -> str:
    return f"seq-r{round_no}-p{index:04d}"


def check_id(index: int) -> str:
    """The patients of the cards' check (sent again, unmeasured, to warm the servers before each round)."""
    return f"seq-check-p{index}"


def _tag(pid: str) -> str:
    return f" (ref {pid})"


def _resources(body: dict):
    for value in body["prefetch"].values():
        yield from ([value] if value.get("resourceType") != "Bundle" else [e["resource"] for e in value["entry"]])


def patient_record(pid: str, texts: str = "free") -> dict:
    """The typical record (bench/patients.py) for patient ``pid``, its free text its own.

    ``free``: report conclusions and text attachments, condition notes and observation values
    typed as text get the patient id, so no two patients share them; labels that are a code
    system's wording stay as every patient with the code has them. ``all``: labels too
    (``patients.mark_texts``: a label's text then differs from its coding's display).
    """
    if texts not in ("free", "all"):
        raise ValueError(f"texts: free or all, not {texts!r}")
    body = typical_request(pid)
    tag = _tag(pid)
    for r in _resources(body):
        for note in r.get("note") or ():
            note["text"] += tag
        if r["resourceType"] == "Observation" and isinstance(r.get("valueString"), str):
            r["valueString"] += tag
        if r["resourceType"] == "DiagnosticReport":
            if r.get("conclusion"):
                r["conclusion"] += tag
            for form in r.get("presentedForm") or ():
                if form.get("data"):
                    text = base64.b64decode(form["data"]).decode() + f"Reference: {pid}.\n"
                    form["data"] = base64.b64encode(text.encode()).decode()
    if texts == "all":
        mark_texts(body)  # conclusions twice tagged: harmless, still the patient's own
    return body


def _concept(codings, text: str) -> dict:
    return {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings], "text": text}


def drafts(kind: OrderKind, pid: str) -> list[dict]:
    """The ServiceRequest as the three order-select calls see it (the third is also what is signed).

    Each is a new dict (the EHR sends the whole draft each time), and each edit is one a clinician
    makes in an order form: the side and the indication, then a note and the priority.
    """
    first = {"resourceType": "ServiceRequest", "id": DRAFT_ID, "status": "draft", "intent": "order",
             "priority": "routine", "code": _concept(kind.codings, kind.text),
             "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/enc-{pid}"},
             "authoredOn": NOW, "requester": {"reference": "Practitioner/pr-1", "display": "Dr. A. Example"}}
    second = copy.deepcopy(first)
    if kind.side:
        second["bodySite"] = [{"text": kind.side}]
    second["reasonCode"] = [_concept([kind.reason], kind.reason[2])]
    third = copy.deepcopy(second)
    third["priority"] = "asap"
    third["note"] = [{"authorReference": {"reference": "Practitioner/pr-1"}, "time": f"{NOW}T10:12:00Z",
                      "text": kind.note + _tag(pid)}]
    return [first, second, third]


def hook_request(hook: str, record: dict, draft: dict, call: str) -> dict:
    """A CDS Hooks 2.0 call of ``hook`` about ``draft`` with ``record``'s prefetch (shared, not copied).

    order-select: ``context.selections`` names the draft and ``draftOrders`` holds it; order-sign:
    ``draftOrders`` only. ``call`` makes the hookInstance (one per call, as the spec asks).
    """
    pid = record["context"]["patientId"]
    context = {"userId": "Practitioner/pr-1", "patientId": pid, "encounterId": f"enc-{pid}",
               "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}}
    if hook == "order-select":
        context["selections"] = [f"ServiceRequest/{draft['id']}"]
    elif hook != "order-sign":
        raise ValueError(hook)
    return {"hook": hook, "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ehr-sequence/{pid}/{call}")),
            "context": context, "prefetch": record["prefetch"]}


def patient_calls(pid: str, kind: OrderKind, texts: str = "free") -> list[tuple[str, dict]]:
    """One patient's four calls in order: (service id, body) for select 1, 2, 3 and sign."""
    record = patient_record(pid, texts)
    versions = drafts(kind, pid)
    finals = [versions[0], versions[1], versions[2], versions[2]]
    return [(SERVICES[hook], hook_request(hook, record, draft, position))
            for hook, draft, position in zip(HOOKS, finals, POSITIONS)]


@dataclass
class Patient:
    id: str
    kind: str
    calls: list[tuple[str, bytes]]  # (path, JSON body) per position


def build_round(round_no: int, patients: int, texts: str = "free") -> list[Patient]:
    """The round's patients, bodies encoded (the client's work done before the clock runs)."""
    out = []
    for i in range(patients):
        pid, kind = patient_id(round_no, i), kind_for(i)
        out.append(Patient(pid, kind.name, [(f"/cds-services/{service}", json.dumps(body).encode())
                                            for service, body in patient_calls(pid, kind, texts)]))
    return out


# --- measuring -----------------------------------------------------------------------------


def _cpu_ns(pids: list[int]) -> int:
    """CPU time of ``pids``, all their threads, in ns (schedstat: exact, where /proc/<pid>/stat has 10 ms ticks)."""
    total = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(stat.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def post(conn, path: str, data: bytes) -> tuple[int, dict]:
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


@dataclass
class RoundResult:
    cpu_ms: dict = field(default_factory=dict)  # position -> list of ms, one per patient
    wall_ms: dict = field(default_factory=dict)
    kinds: list = field(default_factory=list)  # per patient
    stat_total_s: float = 0.0  # from /proc/<pid>/stat, the check
    empty_cards: int = 0  # advised calls without a card, or not-advised calls with one


#: Times the checks' calls are sent again before a round (a young worker's one-off costs, a first
#: full collection, fall there and not on a measured call).
WARM_REPEATS = 5


def run_round(server, patients: list[Patient], warm: list[Patient] = ()) -> RoundResult:
    """``patients``' calls in sequence, on one connection; ``warm``'s first (patients sent before: the
    checks'), unmeasured, so that both workers are warm whichever answered the checks."""
    res = RoundResult({p: [] for p in POSITIONS}, {p: [] for p in POSITIONS})
    conn = _connection(server.base)
    for _ in range(WARM_REPEATS):
        for patient in warm:
            for path, data in patient.calls:
                post(conn, path, data)
    wait_idle([server])
    pids = server.pids()
    advised = {k.name: k.advised for k in KINDS}
    stat_before = _cpu_seconds(pids)
    last = _cpu_ns(pids)
    for patient in patients:
        res.kinds.append(patient.kind)
        for position, (path, data) in zip(POSITIONS, patient.calls):
            start = time.perf_counter()
            status, body = post(conn, path, data)
            wall = time.perf_counter() - start
            now = _cpu_ns(pids)
            if status != 200:
                raise RuntimeError(f"{server.name}: {status} for {patient.id} {position}: {body}")
            if server.name != "baseline" and bool(body.get("cards")) != advised[patient.kind]:
                res.empty_cards += 1
            res.cpu_ms[position].append((now - last) / 1e6)
            res.wall_ms[position].append(wall * 1000)
            last = now
    conn.close()
    wait_idle([server])  # what the last call left running (its log line) goes to it
    res.cpu_ms[POSITIONS[-1]][-1] += (_cpu_ns(pids) - last) / 1e6
    res.stat_total_s = _cpu_seconds(pids) - stat_before
    if set(pids) != set(server.pids()):
        raise RuntimeError(f"{server.name}: a worker was replaced during the round; its CPU is lost")
    return res


def check_cards(servers, texts: str) -> dict:
    """Each kind's first patient through every service: advised kinds give cards on all four calls,
    the X-ray none; the summaries (this checkout's) are returned per kind and position."""
    shown: dict = {}
    for i, kind in enumerate(KINDS):
        calls = patient_calls(check_id(i), kind, texts)
        for server in servers:
            conn = _connection(server.base)
            for position, (service, body) in zip(POSITIONS, calls):
                status, answer = post(conn, f"/cds-services/{service}", json.dumps(body).encode())
                cards = answer.get("cards")
                if server.name == "baseline":
                    assert status == 200 and cards, f"baseline: {status} {answer}"
                    continue
                if status != 200 or cards is None or bool(cards) != kind.advised:
                    raise SystemExit(f"{server.name}: {kind.name} {position}: {status} {json.dumps(answer)[:2000]}\n"
                                     f"expected {'cards' if kind.advised else 'no card'}: the run would "
                                     "measure the wrong thing")
                if server.name == "now":
                    shown.setdefault(kind.name, []).append(
                        [(c["indicator"], c["source"].get("topic", {}).get("code"), c["summary"]) for c in cards])
            conn.close()
    return shown


def print_cards(shown: dict) -> None:
    print("\nCards (this checkout), per kind; a call whose cards are those of the call before says so:")
    for kind in KINDS:
        print(f"  {kind.name}:")
        before = None
        for position, cards in zip(POSITIONS, shown[kind.name]):
            if cards == before:
                print(f"    {position}: the same")
                continue
            print(f"    {position}: " + ("no card" if not cards else ""))
            for indicator, topic, summary in cards:
                print(f"      [{indicator}] {topic}: {summary}")
            before = cards


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _cells(values: list[float], base: list[float] | None) -> list[str]:
    """min / median / max of ``values``, then of their ratios to ``base`` (same rounds), if any."""
    cells = [f"{min(values):.2f}", f"{statistics.median(values):.2f}", f"{max(values):.2f}"]
    if base is None:
        return cells + ["", "", ""]
    ratios = [v / b for v, b in zip(values, base)]
    return cells + [f"{min(ratios):.1f}", f"{statistics.median(ratios):.1f}", f"{max(ratios):.1f}"]


def report(results: dict, patients: int, rounds: int) -> None:
    """Tables: per position and per patient, CPU ms per call (mean over the round's patients), min/median/max
    over rounds, the ratio to the baseline of the same round; wall p50/p99 over all rounds' calls.

    The ratios' denominator is the baseline's mean CPU per call over its whole round (x4 per patient): it does
    the same work whatever the position or kind, and a cost it pays every 16th call (4 patients) lands on
    the same kind and positions each round, which per-position denominators would carry into the ratios.
    """
    names = list(results)
    print(f"\nServer CPU ms per call (mean over {patients} patients in a round; min / median / max over "
          f"{rounds} rounds; ratio to the bare Flask endpoint's mean CPU per call in the same round, x4 for a "
          "patient); wall ms p50 / p99 over all rounds' calls")
    print("| Position | Server | CPU ms min | median | max | / baseline min | median | max | wall p50 | p99 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def per_round(name: str, position: str | None, kind: str | None = None) -> list[float]:
        out = []
        for r in results[name]:
            if position is None:  # the whole patient: its four calls
                totals = [sum(r.cpu_ms[p][i] for p in POSITIONS) for i in range(len(r.kinds))]
            else:
                totals = r.cpu_ms[position]
            picked = [t for t, k in zip(totals, r.kinds) if kind is None or k == kind]
            out.append(statistics.fmean(picked))
        return out

    per_call = [statistics.fmean(v for values in r.cpu_ms.values() for v in values) for r in results["baseline"]]
    for position in (*POSITIONS, None):
        base = [b * (1 if position else len(POSITIONS)) for b in per_call]
        for name in names:
            values = per_round(name, position)
            if position is None:
                walls = [sum(r.wall_ms[p][i] for p in POSITIONS) for r in results[name] for i in range(len(r.kinds))]
            else:
                walls = [w for r in results[name] for w in r.wall_ms[position]]
            cells = [position or "patient (4 calls)", name, *_cells(values, None if name == "baseline" else base),
                     f"{_pct(walls, 0.5):.2f}", f"{_pct(walls, 0.99):.2f}"]
            print("| " + " | ".join(cells) + " |")

    print("\nPer kind: CPU ms per patient (4 calls), median over rounds; ratio to the baseline's mean per patient "
          "(same round; median); share of the server's CPU in the round (median)")
    print("| Kind | " + " | ".join(f"{n} ms | / baseline | share" for n in names) + " |")
    print("| --- | " + " | ".join("---: | ---: | ---:" for _ in names) + " |")
    for kind in KIND_NAMES:
        cells = []
        base = [b * len(POSITIONS) for b in per_call]
        for name in names:
            values = per_round(name, None, kind)
            ms = statistics.median(values)
            ratio = statistics.median([v / b for v, b in zip(values, base)])
            shares = []
            for r in results[name]:
                totals = [sum(r.cpu_ms[p][i] for p in POSITIONS) for i in range(len(r.kinds))]
                shares.append(sum(t for t, k in zip(totals, r.kinds) if k == kind) / sum(totals))
            cells.append(f"{ms:.2f} | {'' if name == 'baseline' else f'{ratio:.1f}'} | {statistics.median(shares):.0%}")
        print(f"| {kind} | " + " | ".join(cells) + " |")

    print("\nSelects 2 and 3 and the sign against select 1 (this server's, same round; median over rounds):")
    for name in names:
        firsts = per_round(name, "select 1")
        parts = [f"{p} {statistics.median([v / f for v, f in zip(per_round(name, p), firsts)]):.2f}"
                 for p in POSITIONS[1:]]
        print(f"  {name}: " + ", ".join(parts))
    print("\nCheck, whole rounds: CPU s from schedstat (per call) / from /proc/<pid>/stat:")
    for name in names:
        print(f"  {name}: " + ", ".join(f"{sum(sum(v) for v in r.cpu_ms.values()) / 1000:.2f}/{r.stat_total_s:.2f}"
                                        for r in results[name]))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--texts", choices=("free", "all"), default="free",
                        help="free: the patient's free text its own, code-system wording shared; all: labels too")
    parser.add_argument("--memo-off", action="store_true", help="the memo of text readings off (text_cache_chars 0)")
    parser.add_argument("--memo-patient-text", action="store_true",
                        help="the memo also keeps patient free text across calls (text_cache_patient_text)")
    parser.add_argument("--baseline-rev", help="also measure the service at this git revision (git archive)")
    args = parser.parse_args()
    if args.rounds < 1 or args.patients < len(KINDS):
        parser.error(f"at least 1 round and {len(KINDS)} patients")
    env = {}
    if args.memo_off:
        env["CDS_TEXT_CACHE_CHARS"] = "0"
    if args.memo_patient_text:
        env["CDS_TEXT_CACHE_PATIENT_TEXT"] = "true"
    print(f"load average before: {_load()}; {os.cpu_count()} CPUs; {args.patients} patients x 4 calls, "
          f"{args.rounds} rounds; texts {args.texts}; service env {env or 'as deployed'}", flush=True)
    built = time.perf_counter()
    rounds = [build_round(r + 1, args.patients, args.texts) for r in range(args.rounds)]
    print(f"bodies built in {time.perf_counter() - built:.1f} s "
          f"({len(rounds[0][0].calls[0][1]) / 1000:.1f} kB each)", flush=True)
    from tests.support.processes import stop_process

    servers = []
    with tempfile.TemporaryDirectory(prefix="cds-bench-seq-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            servers.append(start_baseline(tmp))
            servers.append(start_service("now", ROOT, tmp, env))
            if args.baseline_rev:
                label = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline_rev],
                                       capture_output=True, text=True, check=True).stdout.strip()
                servers.append(start_service(label, export_rev(args.baseline_rev, tmp), tmp, env))
            print_cards(check_cards(servers, args.texts))
            warm = [Patient(check_id(i), kind.name, [(f"/cds-services/{service}", json.dumps(body).encode())
                                                     for service, body in patient_calls(check_id(i), kind, args.texts)])
                    for i, kind in enumerate(KINDS)]
            results: dict = {s.name: [] for s in servers}
            for r, patients in enumerate(rounds):
                turn = servers[r % len(servers):] + servers[: r % len(servers)]
                for server in turn:
                    res = run_round(server, patients, warm)
                    if res.empty_cards:
                        raise SystemExit(f"{server.name}: {res.empty_cards} calls answered other than checked "
                                         "(an advised order without a card, or the X-ray with one)")
                    results[server.name].append(res)
                print(f"round {r + 1}: CPU ms per patient " + ", ".join(
                    f"{n} {sum(sum(v) for v in rs[-1].cpu_ms.values()) / args.patients:.2f}"
                    for n, rs in results.items()) + f"; load {_load()}", flush=True)
        finally:
            for server in servers:
                stop_process(server.proc, timeout=10)
    report(results, args.patients, args.rounds)
    print(f"\nload average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
