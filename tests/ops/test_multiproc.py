"""The metrics folder for gunicorn workers: made when not given, emptied of old files when given, removed on exit."""

from __future__ import annotations

import subprocess
import sys

from cds_service.ops import multiproc
from tests.support.processes import ROOT


def test_without_a_folder_one_is_made_and_removed_on_exit():
    env: dict[str, str] = {}
    path = multiproc.prepare(env)
    assert env[multiproc.ENV] == str(path) and path.is_dir()
    multiproc.on_exit(server=None)
    assert not path.exists()


def test_a_given_folder_is_emptied_of_metric_files_only(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "gauge_liveall_123.db").write_bytes(b"old")
    (tmp_path / "README").write_text("not ours")
    path = multiproc.prepare({multiproc.ENV: str(tmp_path)})
    assert path == tmp_path and sorted(p.name for p in tmp_path.iterdir()) == ["README"]
    multiproc.on_exit(server=None)
    assert tmp_path.is_dir()  # given by the operator: kept


def test_the_cli_does_not_import_prometheus_client_before_the_folder_is_set():
    # prometheus_client picks multiprocess mode when imported; the gunicorn master
    # must not import it before prepare() has set PROMETHEUS_MULTIPROC_DIR.
    code = "import sys, cds_service.cli; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
