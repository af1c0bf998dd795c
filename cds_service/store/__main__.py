"""``python -m cds_service.store``: migrate, report and purge the store named by the settings.

    python -m cds_service.store migrate
    python -m cds_service.store summary --service spine-order-sign --from 2026-11-01 --to 2026-11-30 [--json]
    python -m cds_service.store purge --older-than-days 400

Settings come from ``config/settings.yaml`` and ``CDS_*`` as for the service
(``CDS_STORE_DATABASE_URL`` for PostgreSQL). ``migrate`` is what every worker
does at start-up; running it first (a Kubernetes Job, say) makes a schema
change visible before the new pods start.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta, timezone

from cds_service.settings import Settings, SettingsError

from . import StoreError, open_store


def _table(body: dict) -> str:
    lines = [f"{body['service']}: cards issued {body['from']} .. {body['to']} (UTC)",
             f"{'kind':34} {'shown':>6} {'accepted':>9} {'overridden':>11}  top override reasons"]
    for k in body["kinds"]:
        reasons = ", ".join(f"{r['code'] or 'no reason'} ({r['count']})" for r in k["topOverrideReasons"])
        lines.append(f"{k['kind']:34} {k['shown']:>6} {k['accepted']:>9} {k['overridden']:>11}  {reasons}")
    lines.append(f"feedback on cards this service never issued: {body['unmatchedFeedback']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cds_service.store", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending schema migrations and print the version")
    summary = sub.add_parser("summary", help="feedback figures per card kind")
    summary.add_argument("--service", required=True)
    summary.add_argument("--from", dest="start", type=date.fromisoformat)
    summary.add_argument("--to", dest="end", type=date.fromisoformat)
    summary.add_argument("--json", action="store_true")
    purge = sub.add_parser("purge", help="delete issued cards and feedback older than N days")
    purge.add_argument("--older-than-days", type=int, required=True)
    args = parser.parse_args(argv)

    try:
        settings = Settings.load()
        store = open_store(settings)
    except (SettingsError, StoreError) as exc:
        for problem in getattr(exc, "problems", ()) or (str(exc),):  # one line per bad setting
            print(f"store: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            print(f"{store.backend} store at schema version {store.schema_version()}")
        elif args.command == "purge":
            if args.older_than_days < 1:
                print("store: --older-than-days must be at least 1", file=sys.stderr)
                return 2
            cards, feedback = store.purge(datetime.now(timezone.utc) - timedelta(days=args.older_than_days))
            print(f"deleted {cards} issued cards and {feedback} feedback items")
        else:
            from cds_service.cardbuilder import CardLibrary
            from cds_service.feedback.config import load_feedback_config
            from cds_service.feedback.summary import MAX_RANGE_DAYS, day_bounds, summary_body

            cards = CardLibrary(settings.cards_dir)
            config = load_feedback_config(settings.content_dir / "config" / "feedback.yaml", cards)
            end = args.end or datetime.now(timezone.utc).date()
            start = args.start or end - timedelta(days=config.summary_default_days - 1)
            if start > end or (end - start).days + 1 > MAX_RANGE_DAYS:
                print(f"store: the range must be 1 to {MAX_RANGE_DAYS} days", file=sys.stderr)
                return 2
            counts = store.summary(args.service, *day_bounds(start, end), config.summary_top_reasons)
            body = summary_body(args.service, start, end, counts, cards)
            print(json.dumps(body, indent=2) if args.json else _table(body))
    except StoreError as exc:
        print(f"store: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
