"""One hook call, start to finish, with no Flask in sight.

validate -> the service's handler scopes the call -> gather the record -> the handler
advises -> the card policy (suppression, most urgent first, ``max_cards``) -> render.
What a service says is its handler's (``handlers.py``, named in ``hooks/``); everything
else is here, the same for every service. The views only parse HTTP and call
``run_call``; tests and the replay command call ``call_service`` directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from . import compute
from .cardbuilder import INDICATOR_RANK, CardLibrary, CardSpec
from .envelope import StagedBody
from .errors import CdsError
from .fhir import gather_record
from .handlers import HookCall
from .limits import CallLimits, check_request
from .metrics import Metrics, NullMetrics
from .protocol import validate_hook_request, validate_prefetch
from .reading import check_valuesets
from .reading import memo as text_memo
from .reading.memo import TextMemo
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
    """Everything loaded once at start-up that a hook call needs, and what it reports to."""

    settings: Settings
    registry: ServiceRegistry
    cards: CardLibrary
    valuesets: ValueSets
    rules: RuleConfig
    policy: CardPolicy = field(default_factory=NullCardPolicy)
    limits: CallLimits = field(default_factory=CallLimits)
    metrics: Metrics = field(default_factory=NullMetrics)
    #: This engine's memo of text readings (``reading/memo.py``), lent to the readers during each call.
    memo: TextMemo = field(default_factory=lambda: TextMemo(0))


def load_engine(settings: Settings, policy: CardPolicy | None = None, metrics: Metrics | None = None,
                cards: CardLibrary | None = None) -> Engine:
    """Load and check every content file once: services (and their handlers), card templates, value sets, rules.

    ``cards``: the card library when the caller loaded it already (the app: the card policy needs it).

    :raise DefinitionError, CardContentError, ValueSetError, RuleConfigError: naming the file at fault.
    """
    valuesets = load_valuesets(settings.valuesets_dir)
    check_valuesets(valuesets)  # every value set the reader needs is there, or start-up stops
    return Engine(
        settings=settings,
        registry=ServiceRegistry(load_definitions(settings.hooks_dir)),
        cards=CardLibrary(settings.cards_dir) if cards is None else cards,
        valuesets=valuesets,
        rules=load_rule_config(settings.content_dir / "config" / "guidelines"),
        policy=policy or NullCardPolicy(),
        limits=CallLimits.from_settings(settings),
        metrics=NullMetrics() if metrics is None else metrics,
        memo=TextMemo(settings.text_cache_chars, settings.text_cache_patient_text),  # this worker's memo of text readings
    )


@dataclass(frozen=True)
class HookOutcome:
    """A hook call's response, and what the request's log line says of it."""

    response: dict
    hook_instance: str
    #: The kinds of the returned cards' specs, in the cards' order.
    card_kinds: tuple[str, ...] = ()


def links_base_url(settings: Settings, request_root: str | None = None) -> str:
    """The base of the absolute URLs cards give to the service's own pages (the patient explainers):
    the first ``public_base_url``, else the request's URL root, else the bind address (replay, scripts)."""
    if settings.public_base_urls:
        return settings.public_base_urls[0]
    if request_root:
        return request_root.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def call_service(engine: Engine, service: ServiceDefinition, body: Any, now: datetime | None = None,
                 base_url: str | None = None) -> dict:
    """The CDS Hooks response for ``body`` sent to ``service`` (``run_call(...).response``).

    ``base_url``: where the service is reached (``links_base_url``), for card links to its patient pages;
    default: ``links_base_url(settings)``. With ``explainer_enabled`` off the cards do not link them.

    :raise InvalidRequest: the body is not a valid call of this service (400).
    :raise PayloadTooLarge: more work than one call may ask for (413).
    :raise PreconditionFailed: essential data neither prefetched nor obtainable (412).
    """
    return run_call(engine, service, body, now, base_url).response


def run_call(engine: Engine, service: ServiceDefinition, body: Any, now: datetime | None = None,
             base_url: str | None = None) -> HookOutcome:
    """``call_service``, with the hookInstance and the card kinds for the request's log line.

    ``body``: the parsed body, or (from the view) an ``envelope.StagedBody`` whose prefetch is decoded
    only when an order concerns the service; both give the same response and the same refusals.
    """
    # One call computes at a time per worker (see compute.py); the engine's memo serves its readers.
    with compute.computing(), text_memo.using(engine.memo):
        return _run_call(engine, service, body, now, base_url)


def _run_call(engine: Engine, service: ServiceDefinition, body: Any, now: datetime | None,
              base_url: str | None) -> HookOutcome:
    staged = body if isinstance(body, StagedBody) else None
    if staged is not None:
        # The prefetch still raw (envelope.py): the rest is checked as always, and when no order concerns
        # the service the answer is given without decoding the prefetch.
        try:
            check_request(staged.head, engine.limits)
            request = validate_hook_request(staged.head, service.hook)
        except CdsError:
            # Refused: the whole body parsed and checked as always, for the same refusal in the same order.
            return _run_call(engine, service, staged.parse_full(), now, base_url)
    else:
        check_request(body, engine.limits)  # a count before any work: 413 over a limit
        request = validate_hook_request(body, service.hook)  # the hook's context schema (protocol.HOOKS)
    call = HookCall(engine, service, request, now or datetime.now(timezone.utc))
    scope = service.handler.scope(call)
    if scope is None:
        # Per the spec, no guidance is an empty card list; nothing is fetched (or decoded) for it.
        return HookOutcome({"cards": []}, request["hookInstance"])
    if staged is not None:
        body = staged.full()  # the prefetch decoded (depth limit applied), then its limits and its schema
        check_request(body, engine.limits)
        prefetch = validate_prefetch(body)
        if prefetch is not None:
            request["prefetch"] = prefetch
    record = gather_record(service, request, engine.settings, metrics=engine.metrics)
    advice = service.handler.advise(call, scope, record)
    specs = _kept(engine, service, call, advice.specs)
    pages = (base_url or links_base_url(engine.settings)) if engine.settings.explainer_enabled else None
    # As the cards show: most urgent first by the indicator each shows (a rule may raise it), else kept in order.
    specs = sorted(specs, key=lambda s: INDICATOR_RANK[engine.cards.indicator(s)])
    cards = [engine.cards.render(s, pages) for s in specs]
    response: dict[str, Any] = {"cards": cards}
    extension: dict[str, Any] = {}
    if advice.system_actions:
        # CDS Hooks 2.0 reads them at the top level; the Argonaut PAMA guide (written before 2.0) and
        # clients that follow it, the CDS Hooks sandbox among them, read extension.systemActions.
        # The same actions in both places: applying an update twice leaves the same resource.
        response["systemActions"] = advice.system_actions
        extension[ARGONAUT_SYSTEM_ACTIONS] = advice.system_actions
    engine.policy.record_issued(service.id, request["hookInstance"], call.context["patientId"], cards, call.now)
    engine.metrics.cards_issued(service.id, cards)
    if record.gaps:
        extension[DATA_GAPS_EXTENSION] = [{"prefetchKey": g.key, "reason": g.reason} for g in record.gaps]
    if extension:
        response["extension"] = extension
    return HookOutcome(response, request["hookInstance"], tuple(s.kind for s in specs))


def _kept(engine: Engine, service: ServiceDefinition, call: HookCall, specs: list[CardSpec]) -> list[CardSpec]:
    """The specs the card policy lets through, most urgent first, at most ``max_cards``."""
    suppressed = engine.policy.suppressed_kinds(service.id, call.context["patientId"], call.now)
    # Red-flag (critical) cards are never suppressed, whatever feedback said before.
    specs = [s for s in specs if s.kind not in suppressed or engine.cards.template(s.kind).indicator == "critical"]
    # The most urgent first, then at most max_cards (each card kind is rendered once it is kept).
    specs = sort_specs(specs, engine.cards)
    if len(specs) > engine.limits.cards:
        log.info("cards cut to max_cards: service=%s kept=%d of=%d", service.id, engine.limits.cards, len(specs))
        specs = specs[: engine.limits.cards]
    return specs


def sort_specs(specs: list[CardSpec], cards: CardLibrary) -> list[CardSpec]:
    """Card specs in the order their cards will show: critical > warning > info, the rules' order kept."""
    return sorted(specs, key=lambda s: INDICATOR_RANK[cards.template(s.kind).indicator])
