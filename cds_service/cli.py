"""The ``cds-service`` command.

``cds-service serve`` runs gunicorn with the settings of ``config/settings.yaml``
and ``CDS_*`` (port, workers, threads, timeouts); ``cds-service check-config``
loads settings and every content file and says what is wrong, if anything;
``cds-service replay REQUEST.json`` evaluates a saved hook request offline.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from .ops import multiproc
from .settings import Settings, SettingsError
from .store.base import StoreError


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings derived from ours (one place, so the CLI and tests agree)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "threads": settings.threads,
        # gthread's worker that reads each request whole in its poller before a thread gets it,
        # so slow clients hold no thread (ops/worker.py); threads=1 computes one call at a time.
        "worker_class": "cds_service.ops.worker.BufferingWorker",
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        "keepalive": settings.keepalive,
        # X-Forwarded-Proto and the like only from the proxies named in trusted_proxy_ips
        # (gunicorn's default trusts 127.0.0.1, so any local caller could claim https).
        "forwarded_allow_ips": ",".join(settings.trusted_proxy_ips),
        "accesslog": None,  # access lines carry URLs with patient ids; the app logs its own lines
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "cds-service",
        # Several instances run side by side in tests and on one host: no shared control socket.
        "control_socket_disable": True,
        # Metrics of all workers in one folder (ops.multiproc): a dead worker's live
        # gauges are dropped in the master; the folder goes when we made it.
        "child_exit": multiproc.child_exit,
        "on_exit": multiproc.on_exit,
        # gunicorn's own lines (worker boot, timeout) as JSON like the app's.
        **({"logger_class": "cds_service.ops.logjson.GunicornJsonLogger"} if settings.log_json else {}),
    }


def freeze_startup_heap() -> None:
    """Move every object alive now (the app: value sets, templates, the FHIR reader's types; ~85,000)
    out of the collector's view.

    They live as long as the worker. Without this, each full collection during a request
    walks them all (~15-30 ms); a heavy record's parsing triggers several.
    """
    gc.collect()
    gc.freeze()


def _serve(settings: Settings) -> int:
    # The store once in the master, before any worker: a wrong URL or an unreachable server
    # stops start-up here, with the reason; a worker restarted later during an outage then
    # boots anyway (store/startup.py). Imports no metrics: those belong to the workers.
    from .store.startup import check_in_master

    check_in_master(settings)
    from gunicorn.app.base import BaseApplication

    # Before anything imports prometheus_client (the app does): it picks
    # multiprocess mode from PROMETHEUS_MULTIPROC_DIR at import time.
    multiproc.prepare()

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                self.cfg.set(key, value)

        def load(self):
            # Imported in the worker, not the master: metrics files belong to workers.
            from .app import create_app

            app = create_app(settings)
            freeze_startup_heap()
            return app

    _App().run()
    return 0


def _check_config(settings: Settings) -> int:
    from .app import create_app

    engine = create_app(settings).extensions["cds_engine"]  # raises naming the file at fault
    services = ", ".join(f"{s.id} ({s.hook})" for s in engine.registry)
    print(f"settings OK; services: {services}; card kinds: {', '.join(engine.cards.kinds)}; "
          f"value sets: {len(engine.valuesets)}")
    if not settings.auth_disabled and not settings.trusted_issuers:
        print("warning: no trusted_issuers (CDS_TRUSTED_ISSUERS): every hook call will get 401", file=sys.stderr)
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    from .errors import CdsError
    from .replay import as_text, load_request, replay

    now = None
    if args.now:
        now = datetime.fromisoformat(args.now)
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    try:
        response = replay(settings, load_request(Path(args.request)), args.service, now)
    except CdsError as exc:
        detail = f" {exc.errors}" if exc.errors else ""
        print(f"cds-service replay: {exc.status if exc.status != 500 else 'error'}: {exc.message}{detail}",
              file=sys.stderr)
        return 1
    print(json.dumps(response, indent=2) if args.format == "json" else as_text(response))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", help="bind address (default from settings)")
    serve.add_argument("--port", type=int, help="port (default from settings)")
    serve.add_argument("--workers", type=int)
    sub.add_parser("check-config", help="validate settings, service definitions and card templates")
    rep = sub.add_parser("replay", help="evaluate a saved hook request offline and print the cards")
    rep.add_argument("request", help="a CDS Hooks request body (JSON file) with its prefetch")
    rep.add_argument("--service", help="service id (default: the service for the request's hook)")
    rep.add_argument("--format", choices=["text", "json"], default="text")
    rep.add_argument("--now", help="evaluate as of this ISO date-time (UTC), e.g. 2026-11-26")
    args = parser.parse_args(argv)

    overrides = {k: v for k, v in vars(args).items() if k in ("host", "port", "workers") and v is not None}
    try:
        settings = Settings.load(**overrides)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "replay":
            return _replay(settings, args)
        return _check_config(settings)
    except SettingsError as exc:  # one line per bad setting, naming its variable (or YAML file and key)
        for problem in exc.problems or (str(exc),):
            print(f"cds-service: {problem}", file=sys.stderr)
        return 2
    except StoreError as exc:  # messages name the backend, never the URL (it holds a password)
        print(f"cds-service: the store cannot be opened: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # DefinitionError, CardContentError, value set errors
        print(f"cds-service: invalid content: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
