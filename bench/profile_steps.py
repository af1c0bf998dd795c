"""Cost per step of one hook call, so the next optimisation is chosen from data.

    .venv/bin/python bench/profile_steps.py [--runs 20] [--profile] [--texts repeat|unique] [--baseline-rev REV]

For the typical (~50 resources) and the heavy (~2,000 resources) patient of
``bench/patients.py``, the real ``pipeline.call_service`` runs ``--runs`` times with
timers wrapped around the functions it calls (nothing is re-implemented here):

- HTTP body: the JSON depth scan and ``json.loads`` the app does before the call,
  and the JSON encoding of the response after it;
- request validation (``validate_hook_request``), orders (``extract_orders``,
  ``classify_orders``, ``relevant_orders``);
- FHIR gathering, and inside it FHIR parsing (``read_resource``: the record's reader; in older checkouts
  ``parse_for_record``/``parse_resource``: fhir.resources validation);
- reading the record (``read_record``), and inside it the condition/observation facts
  and the reports (``read_reports``);
- rules (``rules.engine.advise``), card rendering (``CardLibrary.render``), and the
  card policy of the embedded SQLite store (suppression lookup, issued cards);
- the MRI/EMG report text readers, wherever they run (inside ``read_reports``, or,
  since report texts are read on first use, inside the rules): not added to the total.

``--texts repeat`` (the default) measures calls whose texts the worker read before (the memo of
text readings answers); ``--texts unique`` turns that memo off, so every text is read as if never
seen (the worst case).

Medians per step in ms and as a share of the call. ``--profile`` adds a cProfile of the
same calls (top functions by own time). ``--baseline-rev`` also measures the code of a
git revision (checked out in a temporary worktree, same venv) in the same run,
alternating, and prints after/before ratios per step.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The code under test: this checkout, or the one named by --root (a baseline worktree).
ROOT = Path(os.environ.get("BENCH_CODE_ROOT") or HERE.parent).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

#: (label, indent): the table's rows in call order; indented rows are inside the row above.
STEPS = [
    ("HTTP body: depth scan + json.loads", 0),
    ("request validation", 0),
    ("orders", 0),
    ("FHIR gathering", 0),
    ("FHIR parsing (validation)", 1),
    ("reading the record", 0),
    ("condition/observation facts", 1),
    ("reports (read_reports)", 1),
    ("rules", 0),
    ("MRI/EMG report texts, wherever read", 0),
    ("card rendering", 0),
    ("card policy (SQLite store)", 0),
    ("HTTP body: json.dumps response", 0),
]


class Timers:
    """Wraps functions with timers that add up per call of the pipeline."""

    def __init__(self):
        self.spent: dict[str, float] = {}

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.spent = {}


def _instrumented_engine(tmp: Path, texts: str = "repeat"):
    """The app's engine (SQLite store policy included), with timers around every step."""
    from cds_service import advice, pipeline, reading
    from cds_service.app import create_app
    from cds_service.fhir import gather
    from cds_service.settings import Settings

    app = create_app(Settings.load(env={}, yaml_path=None, auth_disabled=True, log_level="ERROR",
                                   store_path=tmp / "store.sqlite3", replay_cache_path=tmp / "replay.sqlite3"))
    engine = app.extensions["cds_engine"]
    if texts == "unique":
        try:
            from cds_service.reading import memo
        except ImportError:  # a checkout from before the memo reads every text anyway
            memo = None
        if memo is not None and hasattr(memo, "configure"):  # the module's memo (before issue 19 item 3)
            memo.configure(0)
        elif memo is not None:  # the engine's memo
            import dataclasses

            engine = dataclasses.replace(engine, memo=memo.TextMemo(0))
    from cds_service import cli

    if hasattr(cli, "freeze_startup_heap"):  # as that checkout's gunicorn worker does after loading the app
        cli.freeze_startup_heap()
    timers = Timers()
    timers.wrap(pipeline, "validate_hook_request", "request validation")
    # extract_orders: called by the pipeline, or (issue 19, item 2) by the spine handler in advice.
    timers.wrap(pipeline if hasattr(pipeline, "extract_orders") else advice, "extract_orders", "orders")
    timers.wrap(advice, "relevant_orders", "orders")
    if hasattr(advice, "classify_orders"):  # classification moved out of relevant_orders
        timers.wrap(advice, "classify_orders", "orders")
    timers.wrap(pipeline, "gather_record", "FHIR gathering")
    # Whichever name the checkout's gathering parses with: read_resource (the msgspec reader, issue 19),
    # parse_for_record (the fast path), parse_resource (fhir.resources validation).
    parser = next(n for n in ("read_resource", "parse_for_record", "parse_resource") if hasattr(gather, n))
    timers.wrap(gather, parser, "FHIR parsing (validation)")
    timers.wrap(advice, "read_record", "reading the record")
    from cds_service.reading import emg_text, mri_text, reports

    timers.wrap(reading, "read_reports", "reports (read_reports)")
    # The text readers, under every name they are called by (reports.py imported them until
    # they became lazy; now MriReport.reading calls them from the rules).
    for module in (mri_text, emg_text, reports):
        for name in ("read_mri_text", "read_emg_text"):
            if hasattr(module, name):
                timers.wrap(module, name, "MRI/EMG report texts, wherever read")
    timers.wrap(reading, "condition_facts", "condition/observation facts")
    timers.wrap(reading, "observation_facts", "condition/observation facts")
    timers.wrap(advice, "run_rules", "rules")
    timers.wrap(engine.cards, "render", "card rendering")
    timers.wrap(engine.policy, "suppressed_kinds", "card policy (SQLite store)")
    timers.wrap(engine.policy, "record_issued", "card policy (SQLite store)")
    return app, engine, timers


def measure(runs: int, profile: bool, texts: str = "repeat") -> dict:
    """{patient: {"steps": {label: [ms per run]}, "total": [ms], "cards": [...], "profile": text}}."""
    from patients import NOW, SERVICE, heavy_request, typical_request

    from cds_service.pipeline import call_service
    from cds_service.security.json_depth import exceeds_depth

    now = datetime.fromisoformat(NOW).replace(tzinfo=timezone.utc)
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as tmp:
        app, engine, timers = _instrumented_engine(Path(tmp), texts)
        service = engine.registry.get(SERVICE)
        for name, make in (("typical", typical_request), ("heavy", heavy_request)):
            raw = json.dumps(make()).encode()
            n = runs if name == "typical" else max(3, runs // 4)

            def one_call():
                timers.reset()
                started = time.perf_counter()
                t0 = time.perf_counter()
                exceeds_depth(raw, 64)
                body = json.loads(raw)
                timers.spent["HTTP body: depth scan + json.loads"] = time.perf_counter() - t0
                with app.test_request_context():  # the policy notes card kinds for the log line
                    response = call_service(engine, service, body, now)
                t0 = time.perf_counter()
                json.dumps(response)
                timers.spent["HTTP body: json.dumps response"] = time.perf_counter() - t0
                return response, time.perf_counter() - started

            response, _ = one_call()  # warm: imports, caches, the store's first write
            cards = [c["source"]["topic"]["code"] for c in response["cards"]]
            assert cards, f"{name}: no card: the run would measure nothing"
            steps: dict[str, list[float]] = {label: [] for label, _ in STEPS}
            totals = []
            for _ in range(n):
                _, seconds = one_call()
                totals.append(seconds * 1000)
                for label in steps:
                    steps[label].append(timers.spent.get(label, 0.0) * 1000)
            text = ""
            if profile:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(max(2, n // 3)):
                    one_call()
                prof.disable()
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
                text = buf.getvalue()
            out[name] = {"steps": steps, "total": totals, "cards": cards, "runs": n, "profile": text}
    import cds_service

    out["_code"] = str(Path(cds_service.__file__).parent)  # which checkout was measured
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def print_table(title: str, result: dict, before: dict | None = None) -> None:
    from patients import count_resources, heavy_request, typical_request  # noqa: F401 (sizes in the title)

    for name, data in result.items():
        if name.startswith("_"):
            continue
        total = _median(data["total"])
        print(f"\n{title} -- {name} patient, {data['runs']} calls, cards: {', '.join(data['cards'])}")
        head = f"  {'step':40} {'median ms':>10} {'share':>6}"
        if before:
            head += f" {'before ms':>10} {'after/before':>13}"
        print(head)
        for label, indent in STEPS:
            med = _median(data["steps"][label])
            row = f"  {('  ' * indent + label):40} {med:10.2f} {med / total:6.0%}"
            if before:
                old = _median(before[name]["steps"][label])
                row += f" {old:10.2f} {(med / old if old else float('nan')):13.2f}"
            print(row)
        row = f"  {'whole call (HTTP body + call_service)':40} {total:10.2f} {1:6.0%}"
        if before:
            old = _median(before[name]["total"])
            row += f" {old:10.2f} {total / old:13.2f}"
        print(row)
        if data["profile"]:
            print(f"\n  cProfile, {name}, top functions by own time:")
            lines = data["profile"].splitlines()
            start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
            print("\n".join("    " + line for line in lines[start:] if line.strip()))


def _run_child(root: Path, runs: int, texts: str) -> dict:
    env = {**os.environ, "BENCH_CODE_ROOT": str(root)}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--runs", str(runs), "--texts", texts,
                           "--json"],
                          env=env, cwd=root, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="add a cProfile of the same calls")
    parser.add_argument("--baseline-rev", help="also measure this git revision, in the same run")
    parser.add_argument("--rounds", type=int, default=2, help="with --baseline-rev: alternations of the two")
    parser.add_argument("--texts", choices=("repeat", "unique"), default="repeat",
                        help="repeat: texts read before (the memo answers); unique: every text read as new")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.runs, False, args.texts)))
        return 0
    if not args.baseline_rev:
        print_table(f"Cost per step (texts {args.texts})", measure(args.runs, args.profile, args.texts))
        return 0

    repo = HERE.parent
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        worktree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(worktree), args.baseline_rev],
                       check=True, capture_output=True)
        try:
            befores, afters = [], []
            for _ in range(args.rounds):  # alternate, so drift of the machine falls on both
                befores.append(_run_child(worktree, args.runs, args.texts))
                afters.append(_run_child(repo, args.runs, args.texts))
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(worktree)], check=False)

    def pooled(results: list[dict]) -> dict:
        out = {}
        for name in results[0]:
            if name.startswith("_"):
                continue
            out[name] = {"steps": {label: [v for r in results for v in r[name]["steps"][label]] for label, _ in STEPS},
                         "total": [v for r in results for v in r[name]["total"]], "cards": results[0][name]["cards"],
                         "runs": sum(r[name]["runs"] for r in results), "profile": ""}
        return out

    assert befores[0]["_code"] != afters[0]["_code"], "the baseline run measured this checkout"
    before, after = pooled(befores), pooled(afters)
    for name in before:
        if before[name]["cards"] != after[name]["cards"]:
            print(f"WARNING: {name}: cards differ: before {before[name]['cards']}, after {after[name]['cards']}")
    print(f"baseline: {args.baseline_rev}; {args.rounds} alternating rounds of each; texts {args.texts}")
    print_table("Cost per step (this checkout vs the baseline)", after, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
