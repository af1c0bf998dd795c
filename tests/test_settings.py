from pathlib import Path

import pytest

from cds_service.settings import Settings, SettingsError


def test_defaults_then_yaml_then_environment(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("port: 9000\nworkers: 3\ncors_origins: https://a.example, https://b.example\n")
    s = Settings.load(env={"CDS_WORKERS": "5"}, yaml_path=yaml_file)
    assert s.port == 9000  # from YAML
    assert s.workers == 5  # environment wins over YAML
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.threads == Settings().threads  # default


def test_overrides_win_over_environment():
    s = Settings.load(env={"CDS_PORT": "1"}, yaml_path=Path("/nonexistent"), port=2)
    assert s.port == 2


def test_repo_settings_file_loads():
    s = Settings.load(env={})
    assert s.port == 8080 and s.workers >= 1 and s.timeout > 0


@pytest.mark.parametrize("env,name", [({"CDS_PORT": "eighty"}, "CDS_PORT"), ({"CDS_FHIR_BUDGET_SECONDS": "x"}, "CDS_FHIR_BUDGET_SECONDS")])
def test_bad_value_names_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.load(env=env, yaml_path=Path("/nonexistent"))


def test_unknown_yaml_key_fails(tmp_path):
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("prot: 9000\n")
    with pytest.raises(SettingsError, match="prot"):
        Settings.load(env={}, yaml_path=yaml_file)


def test_config_file_can_be_chosen_by_environment(tmp_path):
    yaml_file = tmp_path / "other.yaml"
    yaml_file.write_text("threads: 7\n")
    assert Settings.load(env={"CDS_CONFIG_FILE": str(yaml_file)}).threads == 7


def test_a_malformed_fhir_allowlist_entry_stops_start_up():
    from cds_service.app import create_app
    from tests.conftest import make_settings

    with pytest.raises(SettingsError, match="ALLOWED_FHIR_SERVERS"):
        create_app(make_settings(allowed_fhir_servers=("not a url",)))


def test_secrets_are_masked_in_the_printable_summary():
    s = Settings.load(env={"CDS_STORE_DATABASE_URL": "postgresql://cds:hunter2@db/cds",
                           "CDS_PATIENT_HASH_KEY": "k3y"}, yaml_path=Path("/nonexistent"))
    text = str(s.public_summary())
    assert "hunter2" not in text and "k3y" not in text
    assert s.public_summary()["store_database_url"] == "***"
