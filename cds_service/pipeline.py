"""One hook call, start to finish, with no Flask in sight.

validate -> pick the orders -> gather the record -> rules -> cards. The views
only parse HTTP and call ``call_service``; tests and the replay command call
it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from . import advice, compute
from .cardbuilder import CardLibrary, CardSpec, sort_cards
from .fhir import gather_record
from .limits import CallLimits, check_request
from .orders import extract_orders
from .protocol import validate_hook_request
from .reading import check_valuesets
from .reading import memo as text_memo
from .registry import ServiceDefinition, ServiceRegistry, load_definitions
from .rules.config import RuleConfig, load_rule_config
from .settings import Settings
from .valuesets import ValueSets, load_valuesets

log = logging.getLogger(__name__)

#: Reverse-domain extension name (the spec reserves `extension` for this) under
#: which the response says which record data could not be read.
DATA_GAPS_EXTENSION = "org.example.spine-order-cds.data-gaps"
#: Where the Argonaut "CDS Hooks for PAMA" guide puts the rating actions: the response's extension.
ARGONAUT_SYSTEM_ACTIONS = "systemActions"


class CardPolicy(Protocol):
    """What the feedback store adds to a hook call: suppression and a record of issued cards."""

    def suppressed_kinds(self, service_id: str, patient_id: str, now: datetime) -> set[str]:
        """Card kinds not to show this patient now (overridden as already addressed)."""

    def record_issued(self, service_id: str, hook_instance: str, patient_id: str, cards: list[dict],
                      now: datetime) -> None:
        """Remember each card returned (uuid, kind) so feedback can be counted per kind."""


class NullCardPolicy:
    """No store: nothing suppressed, nothing recorded."""

    def suppressed_kinds(self, service_id: str, patient_id: str, now: datetime) -> set[str]:
        return set()

    def record_issued(self, service_id: str, hook_instance: str, patient_id: str, cards: list[dict],
                      now: datetime) -> None:
        return None


@dataclass(frozen=True)
class Engine:
    """Everything loaded once at start-up that a hook call needs."""

    settings: Settings
    registry: ServiceRegistry
    cards: CardLibrary
    valuesets: ValueSets
    rules: RuleConfig
    policy: CardPolicy = field(default_factory=NullCardPolicy)
    limits: CallLimits = field(default_factory=CallLimits)


def load_engine(settings: Settings, policy: CardPolicy | None = None) -> Engine:
    """Load and check every content file once: services, card templates, value sets, rules.

    :raise DefinitionError, CardContentError, ValueSetError, RuleConfigError: naming the file at fault.
    """
    valuesets = load_valuesets(settings.valuesets_dir)
    text_memo.configure(settings.text_cache_chars)  # this worker's memo of text readings
    check_valuesets(valuesets)  # every value set the reader needs is there, or start-up stops
    return Engine(
        settings=settings,
        registry=ServiceRegistry(load_definitions(settings.hooks_dir)),
        cards=CardLibrary(settings.cards_dir),
        valuesets=valuesets,
        rules=load_rule_config(settings.content_dir / "config" / "guidelines"),
        policy=policy or NullCardPolicy(),
        limits=CallLimits.from_settings(settings),
    )


def links_base_url(settings: Settings, request_root: str | None = None) -> str:
    """The base of the absolute URLs cards give to the service's own pages (the patient explainers):
    the first ``public_base_url``, else the request's URL root, else the bind address (replay, scripts)."""
    configured = [part.strip().rstrip("/") for part in settings.public_base_url.split(",") if part.strip()]
    if configured:
        return configured[0]
    if request_root:
        return request_root.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def call_service(engine: Engine, service: ServiceDefinition, body: Any, now: datetime | None = None,
                 base_url: str | None = None) -> dict:
    """The CDS Hooks response for ``body`` sent to ``service``.

    ``base_url``: where the service is reached (``links_base_url``), for card links to its patient pages;
    default: ``links_base_url(settings)``. With ``explainer_enabled`` off the cards do not link them.

    :raise InvalidRequest: the body is not a valid call of this service (400).
    :raise PreconditionFailed: essential data neither prefetched nor obtainable (412).
    """
    with compute.computing():  # one call computes at a time per worker (see compute.py)
        return _call_service(engine, service, body, now, base_url)


def _call_service(engine: Engine, service: ServiceDefinition, body: Any, now: datetime | None,
                  base_url: str | None = None) -> dict:
    check_request(body, engine.limits)  # a count before any work: 413 over a limit
    request = validate_hook_request(body, service.hook)
    context = request["context"]
    selections = context.get("selections") if service.hook == "order-select" else None
    # Every draft order is classified once: the selected ones get advice, and all of them
    # say what is already being ordered.
    drafts = advice.classify_orders(extract_orders(context["draftOrders"]), engine.valuesets, context["patientId"])
    orders = advice.relevant_orders(service, drafts, selections)
    if not orders:
        # Per the spec, no guidance is an empty card list; nothing is fetched for
        # an order this service does not advise on.
        return {"cards": []}
    now = now or datetime.now(timezone.utc)
    record = gather_record(service, request, engine.settings)
    drafted = frozenset(d.info.kind for d in drafts)
    system_actions: list[dict] = []  # PAMA ratings on the draft orders (Argonaut CDS Hooks for PAMA)
    specs = advice.advise(orders, record, engine.valuesets, engine.rules, now, drafted, system_actions)
    patient_id = context["patientId"]
    suppressed = engine.policy.suppressed_kinds(service.id, patient_id, now)
    # Red-flag (critical) cards are never suppressed, whatever feedback said before.
    specs = [s for s in specs if s.kind not in suppressed or engine.cards.template(s.kind).indicator == "critical"]
    # The most urgent first, then at most max_cards (each card kind is rendered once it is kept).
    specs = sort_specs(specs, engine.cards)
    if len(specs) > engine.limits.cards:
        log.info("cards cut to max_cards: service=%s kept=%d of=%d", service.id, engine.limits.cards, len(specs))
        specs = specs[: engine.limits.cards]
    pages = (base_url or links_base_url(engine.settings)) if engine.settings.explainer_enabled else None
    response: dict[str, Any] = {"cards": sort_cards([engine.cards.render(s, pages) for s in specs])}
    extension: dict[str, Any] = {}
    if system_actions:
        # CDS Hooks 2.0 reads them at the top level; the Argonaut PAMA guide (written before 2.0) and
        # clients that follow it, the CDS Hooks sandbox among them, read extension.systemActions.
        # The same actions in both places: applying an update twice leaves the same resource.
        response["systemActions"] = system_actions
        extension[ARGONAUT_SYSTEM_ACTIONS] = system_actions
    engine.policy.record_issued(service.id, request["hookInstance"], patient_id, response["cards"], now)
    if record.gaps:
        extension[DATA_GAPS_EXTENSION] = [{"prefetchKey": g.key, "reason": g.reason} for g in record.gaps]
    if extension:
        response["extension"] = extension
    return response


def sort_specs(specs: list[CardSpec], cards: CardLibrary) -> list[CardSpec]:
    """Card specs in the order their cards will show: critical > warning > info, the rules' order kept."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(specs, key=lambda s: rank[cards.template(s.kind).indicator])
