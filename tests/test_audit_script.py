"""Issue 17, dependency audit: scripts/audit_dependencies.py fails on a known vulnerability in the
lock and says so, and says plainly when no vulnerability service could be asked."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / "scripts" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def _fake(report: dict):
    def run(cmd, **kwargs):
        assert "--require-hashes" in cmd and "--disable-pip" in cmd
        return subprocess.CompletedProcess(cmd, 0, json.dumps(report), "")
    return run


def test_a_vulnerable_locked_version_fails_the_step(monkeypatch, capsys):
    monkeypatch.setattr(audit.subprocess, "run", _fake({"dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "werkzeug", "version": "0.1", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["3.0.6"]}]}]}))
    assert audit.main([str(ROOT / "requirements.lock")]) == 1
    assert "werkzeug==0.1: PYSEC-0000-1" in capsys.readouterr().out


def test_no_service_reachable_is_said_and_fails_only_when_required(monkeypatch, capsys):
    monkeypatch.setattr(audit.subprocess, "run", _fake({"dependencies": [
        {"name": "flask", "version": "3.1.3", "skip_reason": "Dependency not found on PyPI"}]}))
    assert audit.main([str(ROOT / "requirements.lock")]) == 0
    assert "NOT RUN" in capsys.readouterr().out
    monkeypatch.setenv("CDS_AUDIT_REQUIRED", "1")
    assert audit.main([str(ROOT / "requirements.lock")]) == 2


def test_ci_runs_the_audit():
    assert "make audit" in (ROOT / ".ci" / "run").read_text()
