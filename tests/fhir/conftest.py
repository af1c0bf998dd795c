"""A real FHIR R4 server for the e2e tests: Medplum's fhir-router (npm) under tests/fhir_server/.

The fixture installs the pinned packages (``npm ci``) when node_modules is
missing, starts ``server.js`` on a free 127.0.0.1 port, loads the demo patients
(transaction Bundles) and stops the server at the end of the session.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cds_service.settings import PROJECT_ROOT
from tests.support.processes import stop_process

SERVER_DIR = PROJECT_ROOT / "tests" / "fhir_server"
DEMO_DIR = PROJECT_ROOT / "demo" / "patients"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class FhirServer:
    base_url: str
    token: str

    def get(self, query: str) -> requests.Response:
        return requests.get(
            f"{self.base_url}/{query}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"},
            timeout=10,
        )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the e2e tests need Node 20+ and npm to run the FHIR server")
    return path


def _ensure_packages() -> None:
    if (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return
    result = subprocess.run(
        [_tool("npm"), "ci", "--no-audit", "--no-fund"],
        cwd=SERVER_DIR, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {SERVER_DIR} failed:\n{result.stderr[-2000:]}")


def _node_command(node: str) -> list[str]:
    # Medplum 5.x uses the global WebSocket, which Node 20 has only behind this flag
    # (without it: "WebSocket is not defined"); Node 22+ has it by default.
    probe = subprocess.run([node, "-p", "typeof WebSocket"], capture_output=True, text=True, timeout=30)
    flags = ["--experimental-websocket"] if probe.stdout.strip() == "undefined" else []
    return [node, *flags, "server.js", "--port", "0", "--base", "/fhir/R4"]


def load_bundle(server: FhirServer, bundle: dict) -> dict:
    """POST a transaction Bundle; returns the transaction-response."""
    response = requests.post(
        server.base_url,
        data=json.dumps(bundle),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/fhir+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.fixture(scope="session")
def medplum(tmp_path_factory) -> FhirServer:
    """The running server, with every demo patient loaded."""
    _ensure_packages()
    token = "e2e-" + secrets.token_urlsafe(24)
    log_path = tmp_path_factory.mktemp("medplum") / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _node_command(_tool("node")),
            cwd=SERVER_DIR,
            env={**os.environ, "FHIR_BEARER_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        try:
            first = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            first = ""
        if not first.startswith("listening "):
            pytest.fail(f"FHIR server did not start: {first!r}; log:\n{Path(log_path).read_text()[-2000:]}")
        server = FhirServer(first.split(" ", 1)[1].strip(), token)
        for path in sorted(DEMO_DIR.glob("*.json")):
            load_bundle(server, json.loads(path.read_text()))
        yield server
    finally:
        stop_process(proc, timeout=10)
        reader.join(timeout=5)  # it ends at EOF, once the process is gone
        proc.stdout.close()
