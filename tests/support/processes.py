"""Start real processes (the service under gunicorn) on 127.0.0.1 for tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping

import requests

ROOT = Path(__file__).resolve().parents[2]

#: The demo conveniences `make run` turns on (the production defaults have them off):
#: the console at /, /metrics and CORS for any page. Tests run the service like `make run`
#: unless they say otherwise; tests/security/test_public_defaults.py checks the defaults.
DEMO_ENV = {"CDS_CONSOLE_ENABLED": "true", "CDS_METRICS_ENABLED": "true", "CDS_CORS_ORIGINS": "*"}
DEMO_SETTINGS = {"console_enabled": True, "metrics_enabled": True, "cors_origins": ("*",)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200.

    :raise RuntimeError: if the process exits first or time runs out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def run_service(env: Mapping[str, str] | None = None, workers: int = 2,
                log_path: Path | None = None, port: int | None = None,
                demo_conveniences: bool = True) -> Iterator[str]:
    """Run ``cds-service serve`` (gunicorn) on ``port`` (default: a free one); yields its base URL.

    ``demo_conveniences``: console, metrics and CORS on, as `make run` has them (``env`` wins).
    """
    port = port or free_port()
    full_env = {**os.environ, **(DEMO_ENV if demo_conveniences else {}),
                "CDS_HOST": "127.0.0.1", "CDS_PORT": str(port), "CDS_WORKERS": str(workers)}
    # The URL the tests call is the configured public base (the JWT aud is checked against it).
    full_env["CDS_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    full_env.update(env or {})
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "cds_service.cli", "serve"], cwd=ROOT, env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc=proc)
        yield base
    finally:
        stop_process(proc, timeout=15)
        if log_path:
            log.close()
