"""Prefetch templates: fill their tokens, and decide per key what the client sent.

Pure functions, no IO. Per the CDS Hooks spec ("Prefetch Template"):

- a key the client sent with a resource or Bundle is used as is;
- a key sent as ``null`` means "no data": it is not fetched;
- a key that is absent, or whose value holds an OperationOutcome (the client
  could not fill it), is fetched from ``fhirServer`` with the same query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable
from urllib.parse import quote

from ..registry import PrefetchTemplate

#: ``{{context.patientId}}``, ``{{userPractitionerId}}``; spaces inside tolerated.
_TOKEN = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")

#: Spec "Prefetch tokens identifying the user": token -> resource type of ``context.userId``.
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}

_ID = r"[A-Za-z0-9\-.]{1,64}"
#: A relative reference such as ``Practitioner/123``: kept unescaped so a
#: template like ``{{context.userId}}`` stays a read of that resource.
_REFERENCE = re.compile(rf"[A-Z][A-Za-z]{{1,63}}/{_ID}")


class UnresolvedToken(ValueError):
    """A template token has no usable value in the context; the message names the token only."""

    def __init__(self, token: str):
        super().__init__(f"prefetch token {{{{{token}}}}} has no usable value in the context")
        self.token = token


def _is_dots(text: str) -> bool:
    # "." or ".." would become a path step out of the FHIR base after URL normalisation.
    return set(text) <= {"."}


def _encode(value: Any, token: str) -> str:
    """A context value as it goes into a URL.

    Percent-encodes everything but a plain relative reference, so a value can
    neither add query parameters (``&``) nor leave the resource path (``/``, ``..``).
    """
    if isinstance(value, bool):  # before int: bool is an int
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:  # spec: only root-level primitive fields are tokens
        raise UnresolvedToken(token)
    if not text:
        raise UnresolvedToken(token)
    if _REFERENCE.fullmatch(text) and not _is_dots(text.split("/", 1)[1]):
        return text
    if _is_dots(text):
        raise UnresolvedToken(token)
    return quote(text, safe="")


def token_value(token: str, context: dict) -> str:
    """The URL-ready value of one prefetch token.

    :raise UnresolvedToken: when the context has no primitive value for it, or the
        token is a user token and ``context.userId`` is not of that resource type.
    """
    if token.startswith("context."):
        name = token[len("context."):]
        if "." in name or name not in context:
            raise UnresolvedToken(token)
        return _encode(context[name], token)
    if token in USER_TOKENS:
        user = context.get("userId")
        if isinstance(user, str) and "/" in user:
            rtype, _, uid = user.strip().rpartition("/")
            # userId may be absolute (".../Practitioner/123"): the type is the last step.
            if rtype.rsplit("/", 1)[-1] == USER_TOKENS[token]:
                return _encode(uid, token)
        raise UnresolvedToken(token)
    raise UnresolvedToken(token)


def render_query(template: str, context: dict) -> str:
    """The template with every token replaced: a FHIR URL relative to the server base.

    :raise UnresolvedToken: for the first token that cannot be filled.
    """
    return _TOKEN.sub(lambda m: token_value(m.group(1), context), template.strip()).lstrip("/")


def query_resource_type(query: str) -> str | None:
    """The resource type a relative query reads or searches (``Condition?...`` -> Condition)."""
    head = query.split("?", 1)[0].split("/", 1)[0]
    return head if re.fullmatch(r"[A-Z][A-Za-z]+", head) else None


class PrefetchState(Enum):
    """What the client sent for one key."""

    DATA = "data"  # a resource or Bundle to use
    NO_DATA = "no-data"  # null: the client has nothing for this query
    ABSENT = "not-sent"  # the client did not fill it
    OUTCOME = "prefetch-operation-outcome"  # the client failed to fill it and said why
    INVALID = "invalid-prefetch"  # not a FHIR resource at all


_ERROR_SEVERITIES = {"error", "fatal"}


def is_error_outcome(resource: Any) -> bool:
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    if not isinstance(issues, list) or not issues:
        return True  # an OperationOutcome with no issue still says "no data here"
    return any(isinstance(i, dict) and i.get("severity") in _ERROR_SEVERITIES for i in issues)


def classify(prefetch: dict | None, key: str, expected_type: str | None = None) -> PrefetchState:
    """The state of ``key`` in the request's ``prefetch`` object.

    A single resource of another type than the query reads (``expected_type``)
    is INVALID: it cannot be the answer to that query.
    """
    if not isinstance(prefetch, dict) or key not in prefetch:
        return PrefetchState.ABSENT
    value = prefetch[key]
    if value is None:
        return PrefetchState.NO_DATA
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return PrefetchState.INVALID
    if value["resourceType"] == "OperationOutcome":
        return PrefetchState.OUTCOME
    if value["resourceType"] == "Bundle":
        # A client may report a failed search as a Bundle holding an error outcome.
        entries = value.get("entry")
        for entry in entries if isinstance(entries, list) else ():  # JSON: anything may be there
            if isinstance(entry, dict) and is_error_outcome(entry.get("resource")):
                return PrefetchState.OUTCOME
    elif expected_type and value["resourceType"] != expected_type:
        return PrefetchState.INVALID
    return PrefetchState.DATA


@dataclass(frozen=True)
class KeyPlan:
    """What to do for one prefetch key of one hook call."""

    template: PrefetchTemplate
    state: PrefetchState
    #: The rendered query, relative to the FHIR base; None when a token could not be filled.
    query: str | None
    #: The prefetched value (for DATA).
    value: Any = None

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def essential(self) -> bool:
        return self.template.essential

    @property
    def must_fetch(self) -> bool:
        return self.state in (PrefetchState.ABSENT, PrefetchState.OUTCOME, PrefetchState.INVALID)

    @property
    def resource_type(self) -> str | None:
        return query_resource_type(self.query) if self.query else None


def plan(templates: Iterable[PrefetchTemplate], request: dict) -> list[KeyPlan]:
    """One plan per template, in template order."""
    context = request.get("context") if isinstance(request.get("context"), dict) else {}
    prefetch = request.get("prefetch")
    plans = []
    for template in templates:
        try:
            query: str | None = render_query(template.query, context)
        except UnresolvedToken:
            query = None
        state = classify(prefetch, template.key, query_resource_type(query) if query else None)
        value = prefetch[template.key] if state is PrefetchState.DATA else None
        plans.append(KeyPlan(template, state, query, value))
    return plans
