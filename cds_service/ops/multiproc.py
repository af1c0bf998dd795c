"""Prometheus multiprocess mode under gunicorn: one metrics folder shared by the workers.

prometheus_client picks its storage when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``; so ``prepare()`` must run in the gunicorn master
before anything imports it (this module does not). Each worker then writes its
own files there and ``/metrics`` adds them up, whichever worker answers.
``child_exit`` (a gunicorn server hook) drops a dead worker's live gauges; its
counters stay, so totals never go backwards when a worker is replaced.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, MutableMapping

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_created: dict[str, str] = {}


def prepare(env: MutableMapping[str, str] = os.environ) -> Path:
    """The metrics folder: ``$PROMETHEUS_MULTIPROC_DIR`` emptied of old files, or a new temporary one.

    Files left by an earlier run would be added to this run's figures (and show
    workers long dead), hence the wipe, as prometheus_client asks.

    :raise OSError: if the folder cannot be created or cleaned.
    """
    given = env.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="cds-metrics-"))
        env[ENV] = str(path)
        _created["path"] = str(path)
    return path


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook (runs in the master): forget the dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """gunicorn ``on_exit`` hook (master only): remove the folder if ``prepare`` made it."""
    path = _created.pop("path", None)
    if path:
        shutil.rmtree(path, ignore_errors=True)
