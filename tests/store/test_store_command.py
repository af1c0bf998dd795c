"""``python -m cds_service.store``: migrate, summary (the report command), purge."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from cds_service.store import __main__ as command
from cds_service.store.sqlite import SQLiteStore
from tests.store.helpers import issued, outcome


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite3"
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_STORE_PATH", str(path))
    return path


def test_migrate_reports_the_version(store_env, capsys):
    assert command.main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == "sqlite store at schema version 2"


def test_summary_prints_the_figures(store_env, capsys):
    now = datetime.now(timezone.utc)
    store = SQLiteStore(store_env)
    cards = [issued("emg-adds-little", at=now), issued("emg-adds-little", at=now)]
    store.record_issued(cards)
    store.record_feedback([outcome(cards[0].card_uuid, reason="already-addressed", at=now)])
    store.close()
    assert command.main(["summary", "--service", "spine-order-sign", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    little = next(k for k in body["kinds"] if k["kind"] == "emg-adds-little")
    assert (little["shown"], little["overridden"], little["topOverrideReasons"][0]["code"]) == (
        2, 1, "already-addressed")
    assert command.main(["summary", "--service", "spine-order-sign"]) == 0
    assert "already-addressed (1)" in capsys.readouterr().out
    assert command.main(["summary", "--service", "x", "--from", "2026-02-01", "--to", "2026-01-01"]) == 2


def test_purge_deletes_old_records(store_env, capsys):
    store = SQLiteStore(store_env)
    store.record_issued([issued(at=datetime.now(timezone.utc) - timedelta(days=500)),
                         issued(at=datetime.now(timezone.utc))])
    store.close()
    assert command.main(["purge", "--older-than-days", "400"]) == 0
    assert "deleted 1 issued cards and 0 feedback items" in capsys.readouterr().out
    assert command.main(["purge", "--older-than-days", "0"]) == 2


def test_an_unreachable_store_is_exit_2_without_the_password(monkeypatch, capsys):
    from tests.support.processes import free_port

    monkeypatch.setenv("CDS_STORE_DATABASE_URL", f"postgresql://u:Pw-Secret-1@127.0.0.1:{free_port()}/db")
    monkeypatch.setenv("CDS_STORE_TIMEOUT_SECONDS", "0.5")
    assert command.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "Pw-Secret-1" not in err and "127.0.0.1" in err
