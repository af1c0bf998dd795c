"""One seam per service: the handler a ``hooks/*.yaml`` file names answers that service's calls.

As HAPI's CDS Hooks module calls one method per service, the pipeline calls one handler per
service: ``validate -> handler.scope -> gather -> handler.advise -> policy -> render``
(``pipeline.py``). The handler decides what the call is about and which cards it deserves;
the pipeline does everything every service shares (limits, validation, the record, suppression,
``max_cards``, rendering, the data-gap extension).

A service names its handler as ``package.module:name`` (``handler: cds_service.advice:spine_orders``);
the registry resolves it at start-up, so an unknown handler fails start-up naming the file. A new
service on a new hook is a YAML file, the hook's context schema (``protocol.HOOKS``) and a handler.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .cardbuilder import CardSpec

if TYPE_CHECKING:  # the pipeline and the registry import this module
    from .pipeline import Engine
    from .record import PatientRecord
    from .registry import ServiceDefinition


class HandlerError(ValueError):
    """A ``handler:`` name that does not resolve to a handler."""


@dataclass(frozen=True)
class HookCall:
    """One validated call of one service, as its handler sees it."""

    engine: "Engine"
    service: "ServiceDefinition"
    #: The request as ``protocol.validate_hook_request`` returned it (``context`` checked by its hook's schema).
    request: dict
    now: datetime

    @property
    def context(self) -> dict:
        return self.request["context"]


@dataclass
class Advice:
    """What a handler decided: the cards (as specs, rendered by the pipeline) and any system actions."""

    specs: list[CardSpec] = field(default_factory=list)
    system_actions: list[dict] = field(default_factory=list)


class Handler:
    """What answers one service. Subclass it: name the ``hooks`` it answers and write ``advise``."""

    #: The hooks this handler answers; a service of another hook fails start-up.
    hooks: tuple[str, ...] = ()

    def check(self, service: "ServiceDefinition") -> None:
        """Called at start-up for each service naming this handler.

        :raise ValueError: the definition lacks what the handler needs (the message is shown with the file).
        """

    def scope(self, call: HookCall) -> Any | None:
        """What the call is about (for the order hooks: the orders the service advises on), or None:
        no card, and the record is not gathered. Default: the whole call."""
        return call

    def advise(self, call: HookCall, scope: Any, record: "PatientRecord") -> Advice:
        """The cards for ``scope`` (what ``scope`` returned) given the patient's ``record``."""
        raise NotImplementedError


def resolve_handler(name: str) -> Handler:
    """The handler ``package.module:name`` (an instance, or a class taking no arguments).

    :raise HandlerError: if the module or name does not exist or is not a Handler.
    """
    module_name, sep, attribute = name.partition(":")
    if not sep or not module_name or not attribute:
        raise HandlerError("expected 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError(f"module {module_name!r} cannot be imported ({type(exc).__name__})") from None
    target = getattr(module, attribute, None)
    if isinstance(target, type) and issubclass(target, Handler):
        target = target()
    if not isinstance(target, Handler):
        raise HandlerError(f"{module_name} has no Handler named {attribute!r}")
    return target
