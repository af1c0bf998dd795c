"""Bounded cost (issue 20, goal 3): CPU per call of adversarial but valid requests at the limits.

    .venv/bin/python bench/bounded_cost.py [--runs 3] [--cases a,b,...] [--gunicorn CASE,...]

Goal: no request within the documented limits (``config/settings.yaml``, README "Settings",
docs/security.md) takes more than 500 ms of CPU. Each case pushes one dimension to its limit
with a body the service accepts (no 4xx), built on the bench's typical patient
(``bench/patients.py``):

- every prefetch key at ``max_prefetch_resources_per_key``, the body kept under ``max_body_bytes``;
- a body just under ``max_body_bytes`` (resources padded with elements the reader does not read);
- ``max_report_text_chars`` of report text in one report, and spread over many reports;
- one long sentence with no full stop; many levels, many negations, many root names in a report;
- long Condition/Observation labels (as many as the body holds);
- many codings per CodeableConcept (spread over many Conditions, and in one);
- ``max_draft_orders`` draft orders (with the typical and with the heavy record);
- JSON nested just inside ``json_max_depth``;
- the heavy patient of ``bench/patients.py`` for reference.

Each call goes through the app in process (``app.test_client().post``: the depth scan, the
staged envelope, limits, validation, gathering, reading, rules, rendering, the SQLite store,
``jsonify``), JWT checks off, with the memo of text readings off (``text_cache_chars`` 0, as
``profile_steps.py --texts unique``), so every text is read as never seen. CPU is
``time.process_time()`` around the post (robust to other load on the machine, unlike wall
time). Each run gets its own patient id and hookInstance. Printed per case: resources, body
bytes, CPU ms min/median/max, HTTP status, the cards and the data gaps of the response.

``--gunicorn CASE,...`` also measures those cases under gunicorn (``hook_load.start_service``,
the deployed settings, JWT off) against the bare Flask endpoint (``baseline_app.py``): the
server processes' CPU per call from /proc.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("BENCH_CODE_ROOT") or HERE.parent).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from patients import SERVICE, _dress, _scenario, count_resources, heavy_request, typical_request  # noqa: E402

from cds_service.settings import Settings  # noqa: E402

DEFAULTS = {name: Settings.model_fields[name].default for name in (
    "max_body_bytes", "max_draft_orders", "max_prefetch_resources_per_key", "max_report_text_chars",
    "json_max_depth")}
BODY = DEFAULTS["max_body_bytes"]
PER_KEY = DEFAULTS["max_prefetch_resources_per_key"]
TEXT = DEFAULTS["max_report_text_chars"]
ORDERS = DEFAULTS["max_draft_orders"]
DEPTH = DEFAULTS["json_max_depth"]
GAPS = "org.example.spine-order-cds.data-gaps"
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


# --- building blocks ------------------------------------------------------------------------------

def _base() -> dict:
    return typical_request("bench-bound")


def _entries(body: dict, key: str) -> list[dict]:
    return body["prefetch"][key]["entry"]


def _set(body: dict, key: str, resources: list[dict]) -> None:
    bundle = body["prefetch"][key]
    bundle["entry"] = [{"resource": r} for r in resources]
    bundle["total"] = len(resources)


def _size(body: dict) -> int:
    return len(json.dumps(body).encode())


def _fit(make, lo: int, hi: int, limit: int = BODY - 64 * 1024) -> dict:
    """``make(n)`` for the largest n in [lo, hi] whose body stays under ``limit`` bytes (bisection)."""
    best = make(lo)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        body = make(mid)
        if _size(body) <= limit:
            lo, best = mid, body
        else:
            hi = mid - 1
    return best


def _clone(template: dict, n: int, prefix: str) -> list[dict]:
    out = []
    for i in range(n):
        r = copy.deepcopy(template)
        r["id"] = f"{prefix}-{i}"
        out.append(r)
    return out


def _report(rid: str, kind: str, date: str, text: str, as_attachment: bool = False) -> dict:
    codes = {"mri-lumbar": ("30679-5", "MR Lumbar spine WO contrast"),
             "mri-cervical": ("30667-0", "MR Cervical spine WO contrast"),
             "mri-thoracic": ("36532-0", "MR Thoracic spine WO contrast"),
             "emg": ("18749-2", "Electromyogram study")}
    code, display = codes[kind]
    r = {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
         "subject": {"reference": "Patient/bench-bound"},
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                   "code": "EN" if kind == "emg" else "RAD"}]}],
         "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
         "effectiveDateTime": date}
    if as_attachment:
        r["presentedForm"] = [{"contentType": "text/plain", "data": base64.b64encode(text.encode()).decode()}]
    else:
        r["conclusion"] = text
    return r


def _date(i: int) -> str:
    return f"{2026 - (i // 300) % 20}-{1 + (i // 28) % 11:02d}-{1 + i % 28:02d}"


def _repeat(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


# --- the cases -------------------------------------------------------------------------------------

def _per_key(n: int) -> dict:
    """n resources under every prefetch key but the Patient; reports share the report text budget."""
    body = _base()
    for key in ("conditions", "observations", "medications", "devices"):
        template = _entries(body, key)
        _set(body, key, [copy.deepcopy(template[i % len(template)]["resource"]) | {"id": f"{key}-{i}"}
                         for i in range(n)])
    mri = "L4-5: left paracentral disc protrusion contacting the left L5 nerve root. Mild canal stenosis. "
    emg = "Active left L5 radiculopathy; no peroneal neuropathy. "
    per = min(1000, TEXT // n - 20)
    kinds = ("mri-lumbar", "mri-cervical", "emg")
    _set(body, "reports", [_report(f"rep-{i}", kinds[i % 3], _date(i), _repeat(emg if i % 3 == 2 else mri, per)
                                   + f" ({i})") for i in range(n)])
    return body


def case_per_key_max() -> dict:
    """Every prefetch key (but the Patient, one resource) as full as the body allows, at most
    max_prefetch_resources_per_key (with 4 MiB bodies: ~800 per key; 2,000 per key is 9 MB)."""
    return _fit(_per_key, 10, PER_KEY)


def case_one_key_max() -> dict:
    """The Conditions at max_prefetch_resources_per_key, the rest typical."""
    body = _base()
    template = _entries(body, "conditions")
    _set(body, "conditions", [copy.deepcopy(template[i % len(template)]["resource"]) | {"id": f"cond-{i}"}
                              for i in range(PER_KEY)])
    body["prefetch"]["observations"] = _per_key(PER_KEY)["prefetch"]["observations"]
    return body


def case_body_max() -> dict:
    """A body just under max_body_bytes: per-key-max padded with unread elements (identifiers)."""
    base = case_per_key_max()

    def make(pad: int) -> dict:
        body = copy.deepcopy(base)
        for key in ("conditions", "observations", "medications", "devices"):
            for i, e in enumerate(_entries(body, key)):
                e["resource"]["identifier"][0]["value"] = f"X{i:07d}" + "0" * pad
        return body

    return _fit(make, 0, 1000)


def case_text_one_report() -> dict:
    """max_report_text_chars of report text in one spine MRI report (the conclusion)."""
    body = _base()
    unit = ("L4-5: Left paracentral disc protrusion contacting the descending left L5 nerve root. "
            "Moderate left foraminal stenosis. ")
    _set(body, "reports", [_report("rep-big", "mri-lumbar", "2026-10-01", _repeat(unit, TEXT - 10))])
    return body


def case_text_spread() -> dict:
    """max_report_text_chars spread over max_prefetch_resources_per_key spine MRI and EMG reports."""
    body = _base()
    per = TEXT // PER_KEY - 10
    kinds = ("mri-lumbar", "mri-cervical", "mri-thoracic", "emg")
    mri = ("L{l}-{m}: Disc protrusion contacting the L{m} nerve root; moderate foraminal stenosis, "
           "no canal stenosis. ")
    reports = []
    for i in range(PER_KEY):
        l = 1 + i % 4
        unit = (f"Active L{l + 1} radiculopathy, no neuropathy, report {i}. " if kinds[i % 4] == "emg"
                else mri.format(l=l, m=l + 1))
        reports.append(_report(f"rep-{i}", kinds[i % 4], _date(i), _repeat(unit, per)))
    _set(body, "reports", reports)
    return body


def _spine_reports(text: str) -> list[dict]:
    """The same text as the newest report of each kind the rules read (lumbar, cervical, thoracic, EMG)."""
    return [_report(f"rep-{k}", k, "2026-10-01", text) for k in ("mri-lumbar", "mri-cervical", "mri-thoracic", "emg")]


def _reports_case(unit: str) -> dict:
    """The typical record with ``unit`` repeated to fill each spine report the rules read."""
    body = _base()
    _set(body, "reports", _spine_reports(_repeat(unit, TEXT // 4 - 10)))
    return body


def case_long_sentence() -> dict:
    """One sentence with no full stop, as long as the text budget allows, in each report read."""
    unit = "disc protrusion contacting the left L5 nerve root with moderate foraminal stenosis and "
    return _reports_case(unit)


def case_many_levels() -> dict:
    unit = "C2-3, C3-4, C4-5, C5-6, C6-7, C7-T1, T1-2, T11-12, L1-2, L2-3, L3-4, L4-5 and L5-S1: stenosis. "
    return _reports_case(unit)


def case_many_negations() -> dict:
    unit = ("No disc herniation, no canal stenosis, no foraminal stenosis, no cord compression, without "
            "nerve root compression, negative for fracture; not seen: cauda equina compression. ")
    return _reports_case(unit)


def case_many_roots() -> dict:
    unit = ("contacting the left L5, right L5, left S1, right S1, left L4, right L4, C5, C6, C7 and C8 "
            "nerve roots and the L3 root, ")
    return _reports_case(unit)


def _labels(chars: int, i: int) -> str:
    unit = (f"Lumbar radiculopathy with left leg weakness and numbness, cauda equina syndrome ruled out, "
            f"no fever, history of cancer {i}; ")
    return _repeat(unit, chars)


def case_long_labels() -> dict:
    """Conditions and Observations at max_prefetch_resources_per_key, each label as long as the body allows."""
    base = _base()
    cond = _entries(base, "conditions")[0]["resource"]
    obs = _entries(base, "observations")[0]["resource"]

    def make(chars: int) -> dict:
        body = copy.deepcopy(base)
        conditions = _clone(cond, PER_KEY, "cond")
        for i, c in enumerate(conditions):
            c["code"] = {"text": _labels(chars, i)}
        observations = _clone(obs, PER_KEY, "obs")
        for i, o in enumerate(observations):
            o["code"] = {"text": _labels(chars, i + PER_KEY)}
        _set(body, "conditions", conditions)
        _set(body, "observations", observations)
        return body

    return _fit(make, 100, 5000)


def _codings(n: int, start: int) -> list[dict]:
    return [{"system": ICD, "code": f"M54.{(start + j) % 100:02d}", "display": f"Code {start + j}"} for j in range(n)]


def case_codings_spread() -> dict:
    """max_prefetch_resources_per_key Conditions, as many codings each as the body holds."""
    base = _base()
    cond = _entries(base, "conditions")[0]["resource"]

    def make(per: int) -> dict:
        body = copy.deepcopy(base)
        conditions = _clone(cond, PER_KEY, "cond")
        for i, c in enumerate(conditions):
            c["code"] = {"coding": _codings(per, i * per)}
        _set(body, "conditions", conditions)
        return body

    return _fit(make, 1, 200)


def case_codings_one() -> dict:
    """One Condition whose code has as many codings as the body holds."""
    base = _base()

    def make(n: int) -> dict:
        body = copy.deepcopy(base)
        _entries(body, "conditions")[0]["resource"]["code"] = {"coding": _codings(n, 0)}
        return body

    return _fit(make, 1, 300_000)


def _orders(body: dict) -> None:
    kinds = [("95886", "EMG/NCS left lower extremity", "left leg"), ("72148", "MRI lumbar spine without contrast", None),
             ("72141", "MRI cervical spine without contrast", None), ("95886", "EMG/NCS right upper extremity", "right arm"),
             ("72146", "MRI thoracic spine without contrast", None)]
    orders = []
    for i in range(ORDERS):
        code, display, site = kinds[i % len(kinds)]
        o = {"resourceType": "ServiceRequest", "id": f"draft-{i}", "status": "draft", "intent": "order",
             "subject": {"reference": f"Patient/{body['context']['patientId']}"},
             "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code, "display": display}],
                      "text": f"{display} ({i})"}}
        if site:
            o["bodySite"] = [{"text": site}]
        orders.append({"resource": o})
    body["context"]["draftOrders"]["entry"] = orders


def case_orders() -> dict:
    body = _base()
    _orders(body)
    return body


def case_orders_heavy() -> dict:
    body = heavy_request("bench-bound")
    _orders(body)
    return body


def case_deep_json() -> dict:
    """As many Conditions as the body holds (at most max_prefetch_resources_per_key), each with
    extensions nested to json_max_depth."""
    base = _base()
    cond = _entries(base, "conditions")[0]["resource"]
    # body{prefetch{conditions{entry[{resource{extension[{...: 6 levels to the first extension object
    levels = (DEPTH - 6) // 2

    def make(n: int) -> dict:
        body = copy.deepcopy(base)
        conditions = _clone(cond, n, "cond")
        for c in conditions:
            ext: dict = {"url": "http://example.org/x", "valueString": "x"}
            for _ in range(levels - 1):
                ext = {"url": "http://example.org/x", "extension": [ext]}
            c["extension"] = [ext]
        _set(body, "conditions", conditions)
        return body

    return _fit(make, 1, PER_KEY)


def case_heavy() -> dict:
    return heavy_request("bench-bound")


def case_typical() -> dict:
    return typical_request("bench-bound")


CASES = {
    "typical": case_typical,
    "heavy": case_heavy,
    "per-key-max": case_per_key_max,
    "one-key-max": case_one_key_max,
    "body-max": case_body_max,
    "text-one-report": case_text_one_report,
    "text-spread": case_text_spread,
    "long-sentence": case_long_sentence,
    "many-levels": case_many_levels,
    "many-negations": case_many_negations,
    "many-roots": case_many_roots,
    "long-labels": case_long_labels,
    "codings-spread": case_codings_spread,
    "codings-one": case_codings_one,
    "50-orders": case_orders,
    "50-orders-heavy": case_orders_heavy,
    "deep-json": case_deep_json,
}


# --- measuring -------------------------------------------------------------------------------------

def _retarget(body: dict, run: int) -> bytes:
    """The body for one run: its own patient id and hookInstance (nothing about one run helps the next)."""
    pid = f"b{run % 100:02d}{uuid.uuid4().hex[:8]}"  # as long as "bench-bound": the body keeps its size
    text = json.dumps(body)
    old = body["context"]["patientId"]
    text = text.replace(f'"Patient/{old}"', f'"Patient/{pid}"').replace(f'"{old}"', f'"{pid}"')
    out = json.loads(text)
    out["hookInstance"] = str(uuid.uuid4())
    return json.dumps(out).encode()


def make_app(tmp: Path, **overrides):
    from cds_service.app import create_app

    settings = Settings.load(env={}, yaml_path=None, auth_disabled=True, log_level="ERROR", text_cache_chars=0,
                             store_path=tmp / "store.sqlite3", replay_cache_path=tmp / "replay.sqlite3", **overrides)
    app = create_app(settings)
    from cds_service import cli

    if hasattr(cli, "freeze_startup_heap"):  # as the gunicorn worker does after loading the app
        cli.freeze_startup_heap()
    return app


def measure(names: list[str], runs: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-bound-") as tmp:
        app = make_app(Path(tmp))
        client = app.test_client()
        client.post(f"/cds-services/{SERVICE}", data=json.dumps(typical_request()), content_type="application/json")
        for name in names:
            body = CASES[name]()
            raws = [_retarget(body, r) for r in range(runs + 1)]
            cpu, status, cards, gaps = [], None, [], []
            for i, raw in enumerate(raws):
                t0 = time.process_time()
                response = client.post(f"/cds-services/{SERVICE}", data=raw, content_type="application/json")
                spent = time.process_time() - t0
                if i == 0:
                    continue  # warm: this case's first call (imports, value-set memo, the store)
                cpu.append(spent * 1000)
                status = response.status_code
                data = response.get_json()
                cards = [c["source"]["topic"]["code"] for c in data.get("cards", [])] if status == 200 else []
                gaps = sorted({f"{g['prefetchKey']}:{g['reason']}"
                               for g in (data.get("extension") or {}).get(GAPS, [])}) if status == 200 else \
                    [data.get("message", "")[:80]]
            rows.append({"case": name, "resources": count_resources(body), "bytes": len(raws[0]),
                         "orders": len(body["context"]["draftOrders"]["entry"]), "cpu": cpu, "status": status,
                         "cards": cards, "gaps": gaps})
            print(_row(rows[-1]), flush=True)
    return rows


HEAD = (f"| {'case':16} | {'resources':>9} | {'body bytes':>10} | {'orders':>6} | {'CPU ms min':>10} | "
        f"{'median':>7} | {'max':>7} | status | cards | data gaps |")


def _row(r: dict) -> str:
    cpu = r["cpu"]
    return (f"| {r['case']:16} | {r['resources']:9,} | {r['bytes']:10,} | {r['orders']:6} | {min(cpu):10.1f} | "
            f"{statistics.median(cpu):7.1f} | {max(cpu):7.1f} | {r['status']} | {', '.join(r['cards']) or '-'} | "
            f"{', '.join(r['gaps']) or '-'} |")


def gunicorn(names: list[str], calls: int) -> None:
    """CPU per call under gunicorn (deployed settings, JWT off) vs the bare Flask endpoint, by /proc."""
    import urllib.request

    from hook_load import _cpu_seconds, start_baseline, start_service, wait_idle

    with tempfile.TemporaryDirectory(prefix="bench-bound-g-") as tmp:
        tmp = Path(tmp)
        service = start_service("service", ROOT, tmp, {"CDS_TEXT_CACHE_CHARS": "0", "CDS_LOG_LEVEL": "ERROR"})
        baseline = start_baseline(tmp)
        try:
            wait_idle([service, baseline])
            print(f"\n| case | server | calls | CPU ms/call | / bare endpoint |")
            print("| --- | --- | ---: | ---: | ---: |")
            for name in names:
                body = CASES[name]()
                raws = [_retarget(body, r) for r in range(calls + 1)]
                per = {}
                for key, server in (("baseline", baseline), ("service", service)):
                    url = f"{server.base}/cds-services/{SERVICE}"

                    def post(raw):
                        req = urllib.request.Request(url, data=raw, headers={"Content-Type": "application/json"})
                        with urllib.request.urlopen(req, timeout=60) as resp:
                            resp.read()

                    post(raws[0])
                    before = _cpu_seconds(server.pids())
                    for raw in raws[1:]:
                        post(raw)
                    per[key] = (_cpu_seconds(server.pids()) - before) * 1000 / calls
                print(f"| {name} | bare endpoint | {calls} | {per['baseline']:.1f} | 1 |")
                print(f"| {name} | service | {calls} | {per['service']:.1f} | {per['service'] / per['baseline']:.1f} |")
        finally:
            for server in (service, baseline):
                server.proc.terminate()
                server.proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--gunicorn", default="", help="also measure these cases under gunicorn")
    parser.add_argument("--calls", type=int, default=5, help="with --gunicorn: calls per case and server")
    args = parser.parse_args()
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown cases: {unknown}; known: {', '.join(CASES)}")
    print(f"load average at start: {os.getloadavg()}; runs per case: {args.runs} (+1 warm); memo of text readings off")
    print(HEAD)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    measure(names, args.runs)
    print(f"load average at end: {os.getloadavg()}")
    if args.gunicorn:
        gunicorn([n for n in args.gunicorn.split(",") if n], args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
