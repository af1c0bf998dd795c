"""The load benchmark's baseline: a minimal Flask CDS endpoint under the service's own gunicorn settings.

    .venv/bin/python bench/baseline_app.py --port 8099

``POST /cds-services/<id>`` reads the JSON body (``request.get_json()``, as any Flask
CDS service must) and returns one fixed card; ``GET /healthz`` answers ok. gunicorn
runs it with ``cds_service.cli.gunicorn_options`` of the same settings as
``cds-service serve`` (workers, threads, worker class, keep-alive, timeouts, logging),
without the metrics folder hooks, which only the real service uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, jsonify, request  # noqa: E402

CARD = {
    "uuid": "8f2c3f7e-5f43-4d0e-9a51-0b8f7b2f6c11",
    "summary": "EMG/NCS likely useful: L5 root vs peroneal neuropathy to separate.",
    "indicator": "info",
    "source": {"label": "AANEM", "url": "https://www.aanem.org/",
               "topic": {"system": "https://spine-order-cds.example.org/fhir/CodeSystem/card-kind",
                         "code": "emg-adds-value", "display": "EMG/NCS likely to add value"}},
    "detail": "An EMG/nerve conduction study tests nerve **function**; the MRI shows anatomy.",
}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str):
        body = request.get_json()
        return jsonify({"cards": [CARD] if isinstance(body, dict) else []})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app


def main() -> int:
    from gunicorn.app.base import BaseApplication

    from cds_service.cli import gunicorn_options
    from cds_service.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings.load(host="127.0.0.1", port=args.port)
    options = {k: v for k, v in gunicorn_options(settings).items() if k not in ("child_exit", "on_exit")}
    options["proc_name"] = "cds-bench-baseline"

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    _App().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
