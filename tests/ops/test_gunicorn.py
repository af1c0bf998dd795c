"""`cds-service serve` with 2 gunicorn workers: metrics add up across workers, a dead worker's live
series go, stale files of an earlier run are wiped, logs are JSON, suppression holds whichever worker answers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.ops.conftest import card_of, hook_body, kinds, override, pretest_scenario, service_path
from tests.support.processes import ROOT, run_service

pytestmark = pytest.mark.e2e

FEEDBACK = "/cds-services/spine-order-sign/feedback"
STALE = 1000.0


def _seed_stale_metrics(folder) -> None:
    """What an earlier run leaves behind: a worker's counter file with a large value."""
    code = ("from cds_service.ops import metrics; "
            "metrics.FEEDBACK_DUPLICATES.labels('spine-order-sign').inc(%r)" % STALE)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert list(folder.glob("counter_*.db"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn-ops")
    folder = tmp / "metrics"
    folder.mkdir()
    _seed_stale_metrics(folder)
    env = {
        "CDS_AUTH_DISABLED": "true",
        "CDS_STORE_PATH": str(tmp / "store.sqlite3"),
        "CDS_REPLAY_CACHE_PATH": str(tmp / "replay.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    with run_service(env=env, workers=2, log_path=tmp / "service.log") as base:
        yield base, tmp / "service.log"


def scrape(base: str) -> dict[str, float]:
    """Every sample of /metrics as 'name{labels}' -> value (a new connection each time)."""
    resp = requests.get(base + "/metrics", timeout=5, headers={"Connection": "close"})
    assert resp.status_code == 200
    out = {}
    for line in resp.text.splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
    return out


def worker_pids(sample: dict[str, float]) -> set[str]:
    return {m.group(1) for k in sample if (m := re.match(r'cds_worker_start_time_seconds\{pid="(\d+)"\}', k))}


def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def unknown_total(sample: dict[str, float]) -> float:
    return sample.get('cds_feedback_outcomes_total{kind="unknown",outcome="overridden",service="spine-order-sign"}', 0)


def _post_unknown_feedback(base: str, n: int) -> list[str]:
    """``n`` posts, several at a time on their own connections: one after another, on a busy machine
    the same worker may accept every one of them."""
    def post(_) -> str:
        rid = uuid.uuid4().hex
        body = {"feedback": [override({"uuid": str(uuid.uuid4())}, None)]}
        resp = requests.post(base + FEEDBACK, json=body, timeout=5,
                             headers={"X-Request-ID": rid, "Connection": "close"})
        assert resp.status_code == 200 and resp.headers["X-Request-ID"] == rid
        return rid

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(post, range(n)))


def test_metrics_add_up_over_both_workers_and_stale_files_were_wiped(served):
    base, log_path = served
    pids = wait_for(lambda: len(worker_pids(scrape(base))) == 2 and worker_pids(scrape(base)), "two live workers")
    assert len(pids) == 2
    stale_key = 'cds_feedback_duplicates_total{service="spine-order-sign"}'
    assert scrape(base).get(stale_key, 0.0) < STALE  # the earlier run's file is gone

    before = unknown_total(scrape(base))
    sent: list[str] = []
    # Until both workers have served some of them (the log says which pid did), so the
    # totals below are only right if /metrics adds up the other worker's files.
    for _ in range(10):
        sent += _post_unknown_feedback(base, 10)
        served_by = {line["pid"] for line in log_lines(log_path)
                     if line.get("event") == "request" and line.get("request_id") in sent}
        if len(served_by) == 2:
            break
    assert len(served_by) == 2, "one worker served every request; cannot check aggregation"
    for _ in range(6):  # whichever worker answers the scrape
        assert unknown_total(scrape(base)) == before + len(sent)


def test_a_dead_workers_live_series_go_and_its_counts_stay(served):
    base, _ = served
    sample = wait_for(lambda: (s := scrape(base)) and len(worker_pids(s)) == 2 and s, "two live workers")
    total = unknown_total(sample)
    victim = sorted(worker_pids(sample))[0]
    os.kill(int(victim), signal.SIGKILL)  # a worker of the gunicorn this test started
    after = wait_for(lambda: (s := scrape(base)) and victim not in worker_pids(s) and len(worker_pids(s)) == 2 and s,
                     "the dead worker's series to go and a new worker to start")
    assert victim not in worker_pids(after)
    assert unknown_total(after) == total  # counters never go backwards when a worker is replaced


def test_suppression_holds_whichever_worker_answers(served):
    base, _ = served
    scenario = pretest_scenario()

    def call(patient: str) -> dict:
        resp = requests.post(base + service_path(scenario), json=hook_body(scenario, patient), timeout=10,
                             headers={"Connection": "close"})
        assert resp.status_code == 200, resp.text
        return resp.json()

    notes = card_of(call("pt-g"), "edx-pretest-notes")
    assert requests.post(base + FEEDBACK, json={"feedback": [override(notes, "lab-informed")]},
                         timeout=5).json()["recorded"] == 1
    for _ in range(6):
        assert "edx-pretest-notes" not in kinds(call("pt-g"))


def test_every_log_line_is_json_and_requests_carry_ids_but_no_patient(served):
    base, log_path = served
    rid = "trace-" + uuid.uuid4().hex[:8]
    body = hook_body(pretest_scenario(), "mrn-5551234")
    resp = requests.post(base + service_path(pretest_scenario()), json=body, headers={"X-Request-ID": rid}, timeout=10)
    assert resp.headers["X-Request-ID"] == rid
    lines = wait_for(lambda: [x for x in log_lines(log_path) if x.get("request_id") == rid and x.get("event")],
                     "the request's log line")
    (line,) = lines
    assert line["hook_instance"] == body["hookInstance"] and line["card_kinds"] == kinds(resp.json())
    assert line["status"] == 200 and line["latency_ms"] > 0 and line["service"] == "spine-order-sign"
    text = log_path.read_text()
    assert "mrn-5551234" not in text
    assert any(x["logger"] == "gunicorn.error" for x in log_lines(log_path))  # gunicorn's own lines are JSON too
