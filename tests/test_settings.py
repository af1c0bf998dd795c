import re
from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le
from pydantic import SecretStr

from cds_service.cli import main
from cds_service.limits import CallLimits
from cds_service.settings import Settings, SettingsError

NO_FILE = Path("/nonexistent")
ROOT = Path(__file__).resolve().parent.parent


def _error(env=None, yaml_path=NO_FILE, **overrides) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.load(env=env or {}, yaml_path=yaml_path, **overrides)
    return str(info.value)


# --- sources and their order --------------------------------------------------------------


def test_defaults_then_yaml_then_environment(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("port: 9000\nworkers: 3\ncors_origins: https://a.example, https://b.example\n")
    s = Settings.load(env={"CDS_WORKERS": "5"}, yaml_path=yaml_file)
    assert s.port == 9000  # from YAML
    assert s.workers == 5  # environment wins over YAML
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.threads == Settings().threads  # default


def test_precedence_defaults_yaml_environment_keywords(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("port: 9001\nworkers: 3\nthreads: 2\n")
    s = Settings.load(env={"CDS_WORKERS": "4", "CDS_THREADS": "5"}, yaml_path=yaml_file, threads=6)
    assert (s.timeout, s.port, s.workers, s.threads) == (30, 9001, 4, 6)  # default, YAML, env, keyword


def test_overrides_win_over_environment():
    s = Settings.load(env={"CDS_PORT": "1"}, yaml_path=NO_FILE, port=2)
    assert s.port == 2


def test_load_reads_the_process_environment_and_plain_construction_does_not(monkeypatch):
    monkeypatch.setenv("CDS_WORKERS", "7")
    assert Settings.load(yaml_path=NO_FILE).workers == 7
    assert Settings().workers == 2  # the defaults and the values given, nothing else


def test_repo_settings_file_loads():
    s = Settings.load(env={})
    assert s.port == 8080 and s.workers >= 1 and s.timeout > 0


def test_config_file_can_be_chosen_by_environment(tmp_path):
    yaml_file = tmp_path / "other.yaml"
    yaml_file.write_text("threads: 7\n")
    assert Settings.load(env={"CDS_CONFIG_FILE": str(yaml_file)}).threads == 7


def test_a_config_file_named_by_the_environment_must_exist(tmp_path):
    assert _error({"CDS_CONFIG_FILE": str(tmp_path / "missing.yaml")}, yaml_path=None).startswith(
        "CDS_CONFIG_FILE: no such file")


def test_environment_text_converts_by_type():
    s = Settings.load(env={"CDS_LOG_LEVEL": "debug", "CDS_AUTH_DISABLED": "yes", "CDS_LOG_JSON": "",
                           "CDS_TRUSTED_PROXY_IPS": "10.0.0.0/8, 192.0.2.7", "CDS_FHIR_BUDGET_SECONDS": "1.5",
                           "CDS_TRUSTED_ISSUERS": '{"https://ehr.example.org": "https://ehr.example.org/jwks"}',
                           "CDS_CONTENT_DIR": str(ROOT)}, yaml_path=NO_FILE)
    assert s.log_level == "DEBUG" and s.auth_disabled is True and s.log_json is False
    assert s.trusted_proxy_ips == ("10.0.0.0/8", "192.0.2.7") and s.fhir_budget_seconds == 1.5
    assert s.trusted_issuers == {"https://ehr.example.org": "https://ehr.example.org/jwks"}
    assert isinstance(s.content_dir, Path)


# --- nonsense stops start-up, naming the variable ----------------------------------------------


def test_negative_workers_fail_naming_the_variable():
    assert _error({"CDS_WORKERS": "-3"}) == "CDS_WORKERS: must be between 1 and 128 (got -3)"


def test_port_out_of_range_fails_naming_the_variable():
    assert _error({"CDS_PORT": "99999"}) == "CDS_PORT: must be between 1 and 65535 (got 99999)"
    assert _error({"CDS_PORT": "0"}) == "CDS_PORT: must be between 1 and 65535 (got 0)"


def test_bad_log_level_names_the_variable():
    assert _error({"CDS_LOG_LEVEL": "loud"}) == \
        "CDS_LOG_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG (got loud)"


@pytest.mark.parametrize("env,name", [({"CDS_PORT": "eighty"}, "CDS_PORT"),
                                      ({"CDS_FHIR_BUDGET_SECONDS": "x"}, "CDS_FHIR_BUDGET_SECONDS")])
def test_bad_value_names_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.load(env=env, yaml_path=NO_FILE)


@pytest.mark.parametrize("name, value, message", [
    ("CDS_THREADS", "0", "must be between 1 and 64"),
    ("CDS_TIMEOUT", "0", "must be between 1 and 3600"),
    ("CDS_FHIR_READ_TIMEOUT", "0", "must be more than 0 and at most 60"),
    ("CDS_REQUEST_READ_TIMEOUT", "-1", "must be more than 0 and at most 300"),
    ("CDS_MAX_BODY_BYTES", "0", "must be between 1 and"),
    ("CDS_FHIR_MAX_RETRIES", "100", "must be between 0 and 5"),
    ("CDS_AUTH_DISABLED", "maybe", "must be true or false"),
    ("CDS_WORKERS", "2.5", "must be a whole number"),
    ("CDS_HOST", "a host", "must be an IP address or a host name"),
    ("CDS_PUBLIC_BASE_URL", "cds.example.org", "absolute http(s) URLs"),
    ("CDS_CORS_ORIGINS", "https://ehr.example.org/app", "not * or an origin"),
    ("CDS_ALLOWED_FHIR_SERVERS", "ftp://fhir.example.org", "not base URLs"),
    ("CDS_TRUSTED_PROXY_IPS", "proxy", "not an address or network"),
    ("CDS_TRUSTED_ISSUERS", "{not json", "must be a JSON object"),
    ("CDS_TRUSTED_ISSUERS", "[1]", "must be a JSON object"),
    ("CDS_JWT_ALGORITHMS", "HS256", "only asymmetric algorithms"),
    ("CDS_CONTENT_DIR", "/no/such/folder", "must be an existing folder"),
    ("CDS_STORE_PATH", " ", "must be a path"),
])
def test_each_kind_of_nonsense_names_its_variable(name, value, message):
    assert _error({name: value}).startswith(f"{name}: {message}")


def test_an_empty_number_is_shown_quoted():
    assert _error({"CDS_PORT": ""}) == "CDS_PORT: must be a whole number (got '')"


def test_every_bad_setting_gets_its_own_line():
    text = _error({"CDS_WORKERS": "-3", "CDS_PORT": "99999", "CDS_LOG_LEVEL": "loud"})
    assert text.splitlines() == [
        "CDS_PORT: must be between 1 and 65535 (got 99999)",
        "CDS_WORKERS: must be between 1 and 128 (got -3)",
        "CDS_LOG_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG (got loud)",
    ]


def test_a_wrong_type_in_yaml_names_the_file_and_key(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("workers: many\nport: [8080]\nlog_json: sometimes\n")
    assert _error(yaml_path=yaml_file).splitlines() == [
        f"{yaml_file}: key port: must be a whole number (got [8080])",
        f"{yaml_file}: key workers: must be a whole number (got many)",
        f"{yaml_file}: key log_json: must be true or false (got sometimes)",
    ]


def test_the_environment_fixes_a_bad_yaml_value_and_is_named_when_it_is_bad(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("workers: 0\n")
    assert Settings.load(env={"CDS_WORKERS": "2"}, yaml_path=yaml_file).workers == 2
    assert _error({"CDS_WORKERS": "x"}, yaml_path=yaml_file) == "CDS_WORKERS: must be a whole number (got x)"


def test_unknown_yaml_key_fails(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("prot: 9000\n")
    assert _error(yaml_path=yaml_file) == f"{yaml_file}: key prot: unknown setting"


@pytest.mark.parametrize("text, message", [("port: [\n", "not valid YAML at line"),
                                           ("- port\n", "expected a mapping of settings")])
def test_a_yaml_file_that_is_no_mapping_is_named(tmp_path, text, message):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(text)
    assert _error(yaml_path=yaml_file).startswith(f"{yaml_file}: {message}")


def test_keyword_values_are_checked_too_and_name_the_setting():
    with pytest.raises(SettingsError, match=re.escape("setting workers (CDS_WORKERS): must be between 1 and 128")):
        Settings(workers=0)
    with pytest.raises(SettingsError, match="setting bogus .*unknown setting"):
        Settings(bogus=1)


def test_related_bounds_are_checked_together():
    assert "jwks_failure_backoff_max_seconds" in _error({"CDS_JWKS_FAILURE_BACKOFF_SECONDS": "60",
                                                        "CDS_JWKS_FAILURE_BACKOFF_MAX_SECONDS": "10"})


def test_a_malformed_fhir_allowlist_entry_stops_start_up():
    from cds_service.app import create_app
    from tests.conftest import make_settings

    with pytest.raises(SettingsError, match="ALLOWED_FHIR_SERVERS"):
        create_app(make_settings(allowed_fhir_servers=("not a url",)))


# --- start-up: the commands and the app factory -------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("command", ["serve", "check-config"])
def test_commands_stop_with_one_line_per_bad_setting(clean_env, capsys, command):
    clean_env.setenv("CDS_WORKERS", "-3")
    clean_env.setenv("CDS_PORT", "99999")
    clean_env.setenv("CDS_STORE_DATABASE_URL", "mysql://cds:hunter2-secret@db/cds")
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "cds-service: CDS_PORT: must be between 1 and 65535 (got 99999)",
        "cds-service: CDS_WORKERS: must be between 1 and 128 (got -3)",
        "cds-service: CDS_STORE_DATABASE_URL: must be a postgresql:// URL",
    ]
    assert "hunter2" not in err


def test_a_bad_serve_option_is_named(clean_env, capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "setting port (CDS_PORT): must be between 1 and 65535 (got 70000)" in capsys.readouterr().err


def test_the_app_factory_stops_naming_the_variable(clean_env):
    from cds_service.app import create_app

    clean_env.setenv("CDS_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="^CDS_LOG_LEVEL: must be one of"):
        create_app()


# --- secrets -----------------------------------------------------------------------------------


SECRET_URL = "postgresql://cds:hunter2-very-secret@db.example.org/cds"
SECRET_KEY = "k3y-0123456789abcdef-secret"


def test_secrets_are_secret_types_read_with_get_secret_value():
    s = Settings.load(env={"CDS_STORE_DATABASE_URL": SECRET_URL, "CDS_PATIENT_HASH_KEY": SECRET_KEY},
                      yaml_path=NO_FILE)
    assert isinstance(s.store_database_url, SecretStr) and isinstance(s.patient_hash_key, SecretStr)
    assert s.store_database_url.get_secret_value() == SECRET_URL
    assert s.patient_hash_key.get_secret_value() == SECRET_KEY
    for text in (repr(s), str(s), str(s.model_dump()), str(s.public_summary()), f"{s.store_database_url}"):
        assert "hunter2" not in text and "k3y" not in text
    assert s.public_summary()["store_database_url"] == "***" and Settings().public_summary()["patient_hash_key"] == ""


@pytest.mark.parametrize("env", [
    {"CDS_STORE_DATABASE_URL": "mysql://cds:hunter2-very-secret@db/cds"},
    {"CDS_PATIENT_HASH_KEY": "hunter2"},  # too short for an HMAC key
    {"CDS_PATIENT_HASH_KEY": " hunter2-with-a-space-around "},
])
def test_a_bad_secret_is_named_but_never_echoed(env):
    (name,) = env
    text = _error({**env, "CDS_PORT": "99999"})
    assert name in text and "hunter2" not in text and "CDS_PORT" in text


def test_a_secret_in_yaml_of_the_wrong_type_or_a_misspelt_key_is_not_echoed(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("patient_hash_key: 4815162342\npatient_hash_kye: hunter2-very-secret\n")
    text = _error(yaml_path=yaml_file)
    assert f"{yaml_file}: key patient_hash_key: must be text" in text
    assert f"{yaml_file}: key patient_hash_kye: unknown setting" in text
    assert "4815162342" not in text and "hunter2" not in text


def test_a_secret_passed_as_a_keyword_is_not_echoed():
    with pytest.raises(SettingsError) as info:
        Settings(store_database_url="mysql://u:hunter2-very-secret@h/db")
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no pydantic error behind it


# --- frozen, one source ---------------------------------------------------------------------------


def test_settings_are_frozen_and_replace_checks_the_copy():
    s = Settings()
    with pytest.raises(ValueError):
        s.port = 1  # type: ignore[misc]
    copy = s.replace(port=9000)
    assert copy.port == 9000 and s.port == 8080 and copy.workers == s.workers
    with pytest.raises(SettingsError, match="CDS_PORT"):
        s.replace(port=99999)


def test_every_number_has_bounds_and_every_default_is_within_them():
    for name, field in Settings.model_fields.items():
        if field.annotation in (int, float):
            kinds = {type(m) for m in field.metadata}
            assert Le in kinds and kinds & {Ge, Gt}, f"{name} has no bounds"
    Settings()  # the defaults are validated too (validate_default)


def test_the_readme_table_gives_each_bound():
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
        bounds = {type(m): m for m in field.metadata if isinstance(m, (Ge, Gt, Le))}
        if Le in bounds:
            low = f"{bounds[Ge].ge} to " if Ge in bounds else f"more than {bounds[Gt].gt}, at most "
            assert f"| {low}{bounds[Le].le}" in row, row


def test_call_limits_take_their_defaults_from_settings():
    assert CallLimits() == CallLimits.from_settings(Settings())
