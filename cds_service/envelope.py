"""A hook call's body read in two stages: the envelope first, the prefetch only when it is needed.

Most order-select and order-sign calls an EHR sends are about orders this service does not advise
on (a chest X-ray, a medication, a knee MRI), and they carry the same prefetch (~48 kB for a
typical patient) as the ones it does. The spec's answer to them is ``{"cards": []}``; parsing,
depth-scanning and validating that prefetch cost 3-4 times what the answer does. So the view
hands the pipeline a :class:`StagedBody`:

1. ``msgspec`` decodes the top-level object with every member left as raw JSON (``msgspec.Raw``:
   its syntax checked in C, nothing built); the whole body must be UTF-8;
2. every member but ``prefetch`` (hook, hookInstance, context, fhirServer, fhirAuthorization, ...)
   is depth-checked (``json_max_depth``, counting the envelope's own level) and decoded with
   ``json.loads``, as the whole body was before: the *head*;
3. the pipeline checks the limits and validates the head exactly as before; the handler's scope
   then says whether any order concerns the service. If none does, the answer is
   ``{"cards": []}`` and the prefetch is never decoded;
4. otherwise :meth:`StagedBody.full` decodes the prefetch (the depth limit applied to it then) and
   the call goes on as before (the prefetch's limits and validation included).

Refusals stay what they were: whenever stage 1 or 2 fails, or the head is refused (400 or 413),
the body is parsed and checked the old way from its bytes (:func:`parse_full`, then the whole
pipeline), so every invalid body gets the same status and the same message, in the same order of
checks, as before.

What is *not* checked on an early answer, by design (CDS Hooks 2.0: the service may ignore
prefetch it does not use): the prefetch is never turned into Python objects, so its nesting depth
(up to msgspec's own limit of ~1,000 levels, past which stage 1 fails and the body is refused as
before), its shape (each value a resource or null), its ``max_prefetch_resources_per_key`` and
``max_report_text_chars`` limits are not applied to a call that gets no card. Its JSON syntax and
UTF-8 are checked, the body-size limit (``max_body_bytes``, 413) applies to the whole body before
any of this, and JWT checks come first (``security``). ``tests/test_early_answer.py`` holds these
to the full path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec

from .errors import InvalidRequest
from .security.json_depth import check_depth, max_depth_of

_ENVELOPE = msgspec.json.Decoder(dict[str, msgspec.Raw])


@dataclass(frozen=True)
class StagedBody:
    """A hook call's body whose prefetch is still raw JSON (see the module's docstring)."""

    #: The body's bytes, for the full path (:func:`parse_full`).
    raw: bytes
    #: Every top-level member but ``prefetch``, as ``json.loads`` of the whole body gives them.
    head: dict
    #: The prefetch's raw JSON, or None when the body has no prefetch.
    prefetch_raw: msgspec.Raw | None
    #: The members' order in the body (the full body keeps it).
    order: tuple[str, ...]
    max_depth: int

    def full(self) -> dict:
        """The whole body, as ``json.loads`` gives it; the prefetch decoded now.

        :raise InvalidRequest: the prefetch is nested deeper than ``json_max_depth`` (the message of
            the whole-body scan: the head is within the limit, so the body exceeds it exactly when
            the prefetch does).
        """
        if self.prefetch_raw is None:
            return self.head
        piece = bytes(self.prefetch_raw)
        check_depth(piece, self.max_depth, inside=1)  # the prefetch sits one level inside the body
        try:  # msgspec's decoder (the body is UTF-8, read_staged checked): ~1.7x json.loads on a large prefetch
            prefetch = msgspec.json.decode(piece)
        except (msgspec.MsgspecError, RecursionError):
            # What msgspec refuses and json.loads takes (1e400, a lone surrogate escape): as always.
            prefetch = json.loads(piece.decode("utf-8"))
        return {key: prefetch if key == "prefetch" else self.head[key] for key in self.order}

    def parse_full(self) -> Any:
        """The body parsed the old way (whole-body depth scan, ``json.loads``), for the full path."""
        return parse_full(self.raw, self.max_depth)


def parse_full(raw: bytes, max_depth: int) -> Any:
    """The whole body: depth-scanned, then ``json.loads``; the refusals the service always gave.

    :raise InvalidRequest: nested deeper than ``max_depth``, not UTF-8, not JSON (400).
    """
    check_depth(raw, max_depth)
    return decode_json(raw)


def decode_json(raw: bytes) -> Any:
    """``raw`` as JSON, decoded as UTF-8 so the parser never guesses another encoding.

    :raise InvalidRequest: not UTF-8, not valid JSON, or too deep for the parser (400).
    """
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("The body is not UTF-8 text.", {"_body": ["Expected UTF-8 JSON."]}) from None
    except json.JSONDecodeError as exc:
        # Position only: the message must not echo the body (it may hold PHI).
        raise InvalidRequest(
            "The body is not valid JSON.", {"_body": [f"JSON syntax error at line {exc.lineno}, column {exc.colno}."]}
        ) from None
    except RecursionError:
        raise InvalidRequest("The body is nested too deeply.", {"_body": ["JSON nesting too deep."]}) from None


def read_staged(raw: bytes, max_depth: int) -> StagedBody | None:
    """``raw`` with its head decoded and its prefetch left raw, or None when the body is anything but
    plainly valid (not UTF-8, not a JSON object, not JSON, a head member too deep): the caller then
    parses it with :func:`parse_full`, which says what is wrong as it always did."""
    try:
        raw.decode("utf-8")  # msgspec does not check the bytes of strings it skips
        members = _ENVELOPE.decode(raw)
        head: dict[str, Any] = {}
        for key, value in members.items():
            if key == "prefetch":
                continue
            piece = bytes(value)
            if max_depth_of(piece) + 1 > max_depth:
                return None
            head[key] = json.loads(piece.decode("utf-8"))
    except (UnicodeDecodeError, msgspec.MsgspecError, ValueError, RecursionError):
        return None
    return StagedBody(raw, head, members.get("prefetch"), tuple(members), max_depth)
