"""The container and the content layout it relies on."""

import re
import shutil
from pathlib import Path

from cds_service.app import create_app
from cds_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_runs_gunicorn_as_non_root_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    # Issue 17: the base image by digest, dependencies from the hashed lock, code not writable.
    assert re.search(r"^FROM python:3\.\d+-slim@sha256:[0-9a-f]{64}\s*$", text, re.M)
    assert re.search(r"^RUN pip install .*--require-hashes -r requirements\.lock", text, re.M)
    assert re.search(r"^RUN pip install .*--no-deps \.", text, re.M)
    assert "chown -R" not in text and "a-w" in text
    assert text.index("chmod -R a-w") < text.index("USER 10001")
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.M)
    assert 'CMD ["cds-service", "serve"]' in text
    # The image installs the package non-editable, so it must point at its content.
    assert "CDS_CONTENT_DIR=/app" in text
    for folder in ("hooks", "cards", "config", "demo"):
        assert f"COPY {folder} ./{folder}" in text


def test_content_can_live_outside_the_package(tmp_path):
    # As in the image: content under CDS_CONTENT_DIR, code elsewhere.
    for folder in ("hooks", "cards", "config", "demo"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    settings = Settings.load(env={"CDS_CONTENT_DIR": str(tmp_path), "CDS_DEMO_ENABLED": "true", "CDS_CONSOLE_ENABLED": "true"},
                             yaml_path=tmp_path / "config" / "settings.yaml")
    app = create_app(settings)
    client = app.test_client()
    assert client.get("/cds-services").status_code == 200
    assert client.get("/demo/patients").status_code == 200
    with client.get("/") as page:  # the console's page ships inside the package
        assert page.status_code == 200 and b"<html" in page.data
    assert settings.hooks_dir == tmp_path / "hooks"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make run" in readme


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"| `{name}` |" not in readme]
    assert not missing, f"settings missing from the README table: {missing}"


def test_lock_files_pin_every_dependency_with_hashes():
    """Issue 17: the image installed version ranges with no lock and no hashes."""
    for name in ("requirements.lock", "requirements-test.lock"):
        text = (ROOT / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)
        assert len(pins) > 20, name
        blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text.split("\n", 2)[2])
        assert all("--hash=sha256:" in block for block in blocks if "==" in block), name
    runtime = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M))
    test = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", (ROOT / "requirements-test.lock").read_text(), re.M))
    assert {"flask", "gunicorn", "pyjwt", "psycopg"} <= set(runtime)
    assert all(test.get(name) == version for name, version in runtime.items())  # CI tests what ships
    make = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-test.lock" in make and "--no-deps -e ." in make
