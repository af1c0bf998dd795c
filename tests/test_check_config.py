"""cds-service check-config: settings and every content file validated, the fault named."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cds_service.cli import main
from cds_service.settings import PROJECT_ROOT


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean CDS_* environment with the store and replay files in a temp folder."""
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_STORE_PATH", str(tmp_path / "store.sqlite3"))
    monkeypatch.setenv("CDS_REPLAY_CACHE_PATH", str(tmp_path / "replay.sqlite3"))
    return monkeypatch


@pytest.fixture
def content(tmp_path):
    """A copy of the shipped content (hooks, cards, config) to break."""
    root = tmp_path / "content"
    for name in ("hooks", "cards", "config"):
        shutil.copytree(PROJECT_ROOT / name, root / name)
    return root


def test_shipped_configuration_is_valid(env, capsys):
    env.setenv("CDS_TRUSTED_ISSUERS", json.dumps(
        {"https://sandbox.cds-hooks.org": {"jwks_file": "config/issuers/cds-hooks-sandbox.jwks.json"}}))
    env.setenv("CDS_PUBLIC_BASE_URL", "http://localhost:8080")
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert "services: spine-order-select (order-select), spine-order-sign (order-sign)" in out
    assert "red-flag-urgent-evaluation" in out
    assert int(out.rsplit("value sets: ", 1)[1]) >= 40
    assert "warning" not in err


def test_no_trusted_issuer_with_auth_on_is_a_warning(env, capsys):
    assert main(["check-config"]) == 0
    assert "every hook call will get 401" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, value, named",
    [
        ("CDS_FHIR_BUDGET_SECONDS", "soon", "CDS_FHIR_BUDGET_SECONDS"),
        ("CDS_TRUSTED_ISSUERS", '{"https://ehr.example.org": "http://ehr.example.org/jwks"}', "https"),
        ("CDS_TRUSTED_ISSUERS", '{"https://sandbox.cds-hooks.org": {"jwks_file": "nowhere.json"}}', "cannot read"),
        ("CDS_ALLOWED_FHIR_SERVERS", "ftp://fhir", "CDS_ALLOWED_FHIR_SERVERS: not base URLs"),
    ],
)
def test_bad_setting_exits_2_naming_it(env, capsys, name, value, named):
    env.setenv(name, value)
    assert main(["check-config"]) == 2
    assert named in capsys.readouterr().err


def test_broken_card_template_is_named(env, content, capsys):
    detail = content / "cards" / "emg-adds-value" / "detail.md"
    detail.write_text(detail.read_text() + "\n{% if %}\n")
    env.setenv("CDS_CONTENT_DIR", str(content))
    assert main(["check-config"]) == 2
    assert "emg-adds-value" in capsys.readouterr().err


def test_bad_value_set_code_is_named(env, content, capsys):
    path = next((content / "config" / "valuesets").glob("*.json"))
    doc = json.loads(path.read_text())
    doc["compose"]["include"][0]["concept"].append(dict(doc["compose"]["include"][0]["concept"][0]))
    path.write_text(json.dumps(doc))
    env.setenv("CDS_CONTENT_DIR", str(content))
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "invalid content" in err and path.name in err and "duplicate" in err
