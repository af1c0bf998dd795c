"""Benchmark: what the card policy (suppression lookup + recording issued cards) adds to a hook call.

    .venv/bin/python bench/feedback_overhead.py [--calls 400] [--preload 20000] [--postgres URL]

In one run on this machine, the same hook calls (a clinical record giving two
cards, prefetch complete, no network) go through ``pipeline.call_service``:

- without a store (``NullCardPolicy``): the baseline;
- with the embedded SQLite store, as ``create_app`` wires it (suppression
  lookup, one write of the issued cards, their metrics);
- with PostgreSQL too, when ``--postgres`` (or ``CDS_TEST_POSTGRES_URL``) names a
  database (each run uses a schema of its own and drops it).

The variants are interleaved call by call, so drift of the machine falls on
all alike. Stores are preloaded with ``--preload`` issued cards (10% of them
with feedback) over 2,000 patients, so lookups run against indexes with data
in them. Reported: median and 95th percentile per variant, the store's added
median in ms, and the ratio of medians to the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cds_service.app import create_app  # noqa: E402
from cds_service.feedback.intake import to_outcome  # noqa: E402
from cds_service.pipeline import NullCardPolicy, call_service  # noqa: E402
from cds_service.settings import Settings  # noqa: E402
from cds_service.store import IssuedCard  # noqa: E402
from tests.ops.conftest import pretest_scenario  # noqa: E402
from tests.scenarios.build import build  # noqa: E402

SERVICE = "spine-order-sign"
KINDS = ("emg-adds-value", "edx-pretest-notes", "emg-adds-little", "prior-mri-reading")


def preload(store, cards: int, rng: random.Random) -> None:
    now = datetime.now(timezone.utc)
    batch = []
    feedback = []
    for i in range(cards):
        card = IssuedCard(str(uuid.uuid4()), SERVICE, str(uuid.uuid4()), rng.choice(KINDS), "info",
                          f"{rng.randrange(2000):064x}", now - timedelta(minutes=rng.randrange(60 * 24 * 60)))
        batch.append(card)
        if i % 10 == 0:
            item = {"card": card.card_uuid, "outcome": "overridden", "outcomeTimestamp": card.issued_at,
                    "overrideReason": {"reason": {"system": "https://spine-order-cds.example.org/fhir/CodeSystem/"
                                                            "override-reason", "code": "symptoms-changed"}}}
            feedback.append(to_outcome(SERVICE, item, card.issued_at))
        if len(batch) == 1000:
            store.record_issued(batch)
            batch = []
    store.record_issued(batch)
    for i in range(0, len(feedback), 100):
        store.record_feedback(feedback[i:i + 100])


def larger_record() -> dict:
    """The same orders and cards with a record nearer a real patient's: 120 conditions, 80 observations, 2 MRIs."""
    scenario = pretest_scenario()
    codes = ["I10", "E11.9", "E78.5", "M17.11", "K21.9", "M54.50"]
    scenario["conditions"] = scenario["conditions"] + [
        {"code": f"icd10:{codes[i % len(codes)]}", "display": f"Chronic problem {i}",
         "onset": "2024-0%d-01" % (1 + i % 9)}
        for i in range(120)]
    scenario["observations"] = [{"code": "loinc:72514-3", "display": "Pain severity 0-10", "value": "6/10",
                                 "date": "2026-10-0%d" % (1 + i % 9)} for i in range(80)]
    report = ("L4-5: Moderate left foraminal stenosis and a small protrusion contacting the left L5 nerve root. " * 20
              + "IMPRESSION: Left L4-5 protrusion contacting the left L5 root.")
    scenario["reports"] = [{"kind": "mri-lumbar", "date": "2026-0%d-01" % (i + 3), "conclusion": report}
                           for i in range(2)]
    return scenario


def engine_with_store(tmp: Path, **settings):
    values = {"auth_disabled": True, "store_path": tmp / "store.sqlite3", "replay_cache_path": tmp / "replay.sqlite3",
              "log_level": "WARNING", **settings}
    app = create_app(Settings.load(env={}, yaml_path=None, **values))
    return app, app.extensions["cds_engine"]


class TimedPolicy:
    """The variant's card policy, with the time spent in it (both calls) added up per hook call."""

    def __init__(self, policy):
        self.policy, self.spent = policy, 0.0

    def suppressed_kinds(self, *args):
        started = time.perf_counter()
        try:
            return self.policy.suppressed_kinds(*args)
        finally:
            self.spent += time.perf_counter() - started

    def record_issued(self, *args):
        started = time.perf_counter()
        try:
            return self.policy.record_issued(*args)
        finally:
            self.spent += time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(label, app, service, variants, timed, bodies, rng) -> None:
    """Time each body through every variant, interleaved; print the tables."""
    card_count = 0
    times: dict[str, list[float]] = {name: [] for name in variants}
    in_policy: dict[str, list[float]] = {name: [] for name in variants}
    http_times: dict[str, list[float]] = {name: [] for name in variants}
    for engine in variants.values():  # warm-up: imports, caches, pool connections
        for body in bodies[:10]:
            call_service(engine, service, body)
    with app.test_request_context():  # as in a request (the policy notes card kinds for the log line)
        for body in bodies:
            order = list(variants.items())
            rng.shuffle(order)
            for name, engine in order:
                timed[name].spent = 0.0
                started = time.perf_counter()
                response = call_service(engine, service, body)
                times[name].append(time.perf_counter() - started)
                in_policy[name].append(timed[name].spent)
                assert response["cards"], "the scenario no longer gives cards"
                card_count = len(response["cards"])
    # The same calls as HTTP requests to the app (Flask test client: body parsing, JSON
    # response, request hooks, metrics and the log line; no socket), the engine swapped per call.
    client = app.test_client()
    for body in bodies:
        order = list(variants.items())
        rng.shuffle(order)
        for name, engine in order:
            app.extensions["cds_engine"] = engine
            started = time.perf_counter()
            resp = client.post(f"/cds-services/{SERVICE}", json=body)
            http_times[name].append(time.perf_counter() - started)
            assert resp.status_code == 200

    print(f"\n{label}: {len(bodies)} hook calls per variant, {card_count} cards each")
    tables = (("pipeline.call_service", times), (f"POST /cds-services/{SERVICE} through the app", http_times))
    for title, table in tables:
        base = statistics.median(table["no store"])
        print(f"  {title}:")
        print(f"  {'variant':12} {'median ms':>10} {'p95 ms':>8} {'added ms':>9} {'ratio':>6}"
              + (f" {'in policy ms':>13}" if table is times else ""))
        for name, values in table.items():
            med = statistics.median(values)
            extra = f" {statistics.median(in_policy[name]) * 1000:13.3f}" if table is times else ""
            print(f"  {name:12} {med * 1000:10.3f} {percentile(values, 0.95) * 1000:8.3f} "
                  f"{(med - base) * 1000:9.3f} {med / base:6.3f}{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--preload", type=int, default=20000)
    parser.add_argument("--postgres", default=os.environ.get("CDS_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-feedback-"))

    app, sqlite_engine = engine_with_store(tmp)
    variants = {"no store": dataclasses.replace(sqlite_engine, policy=NullCardPolicy()), "sqlite": sqlite_engine}
    preload(app.extensions["cds_ops"].store, args.preload, rng)
    schema = None
    if args.postgres:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.postgres else "?"
        url = f"{args.postgres}{sep}options={quote(f'-csearch_path={schema}')}"
        pg_app, pg_engine = engine_with_store(tmp / "pg", store_database_url=url)
        # The same engine (content, caches) as the others: only the policy differs.
        variants["postgresql"] = dataclasses.replace(sqlite_engine, policy=pg_engine.policy)
        preload(pg_app.extensions["cds_ops"].store, args.preload, rng)

    print(f"stores preloaded with {args.preload} issued cards; in policy = the suppression lookup and the"
          " recording of the issued cards, timed inside the call")
    timed = {name: TimedPolicy(engine.policy) for name, engine in variants.items()}
    variants = {name: dataclasses.replace(engine, policy=timed[name]) for name, engine in variants.items()}
    service = sqlite_engine.registry.get(SERVICE)
    for label, scenario, calls in (("small record (3 conditions)", pretest_scenario(), args.calls),
                                   ("larger record (122 conditions, 80 observations, 2 MRI reports)",
                                    larger_record(), max(20, args.calls // 4))):
        bodies = [build(scenario, patient_id=f"bench-{i % 500}") for i in range(calls)]
        measure(label, app, service, variants, timed, bodies, rng)
    for name in variants:
        if name != "no store":
            timed[name].policy._store.close()
    if schema:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
