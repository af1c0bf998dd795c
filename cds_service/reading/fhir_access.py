"""Tolerant access to the record's resources: every helper accepts missing, empty or odd values.

The record holds the Structs of ``fhir/reader.py`` (JSON types already checked;
tests also use ``fhir.resources`` R4B models, with the same attribute names);
elements may be absent, codings may lack a system or code, and text may sit in
``text`` or only in displays.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any, Iterable

from ..valuesets import Concept, ValueSets, canonical_system
from .attributes import clip
from .model import CODED, TEXT, Evidence
from .certainty import Certainty

#: Errors odd but parseable data may raise in the reader: such a resource is skipped and
#: counted, never allowed to stop the reading of the rest of the record.
ODD_DATA = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)

#: Text larger than this in one attachment is cut before reading (the reader cuts again).
MAX_ATTACHMENT_BYTES = 256 * 1024
#: Attachment content types whose inline data is read as text (the record's reader decodes only these).
TEXT_CONTENT_TYPES = ("text/", "application/xhtml")


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def codings(concepts: Any) -> list[Any]:
    """The codings of one CodeableConcept or a list of them."""
    if concepts is None:
        return []
    out: list[Any] = []
    for concept in concepts if isinstance(concepts, (list, tuple)) else (concepts,):
        found = getattr(concept, "coding", None)
        if found is None:
            continue
        if isinstance(found, (list, tuple)):
            out.extend(c for c in found if c is not None)
        else:
            out.append(found)
    return out


def concept_text(concepts: Any) -> str:
    """``text`` and coding displays of one CodeableConcept or a list, de-duplicated, joined by "; "."""
    parts: list[str] = []
    for concept in as_list(concepts):
        text = getattr(concept, "text", None)
        if isinstance(text, str) and text.strip():
            parts.append(text.strip())
        for c in as_list(getattr(concept, "coding", None)):
            display = getattr(c, "display", None)
            if isinstance(display, str) and display.strip():
                parts.append(display.strip())
    return "; ".join(dict.fromkeys(parts))


def is_code_wording(*concepts: Any) -> bool:
    """True when every concept's ``text`` is blank or one of its own codings' displays.

    Such wording belongs to a code system ("Radiculopathy, lumbar region") and is the same for every
    patient with the code; a ``text`` of its own was typed for this patient (``reading/memo.py``).
    """
    for concept in concepts:
        for one in as_list(concept):
            text = getattr(one, "text", None)
            if not isinstance(text, str) or not text.strip():
                continue
            displays = {d.strip() for c in as_list(getattr(one, "coding", None)) if isinstance(d := getattr(c, "display", None), str)}
            if text.strip() not in displays:
                return False
    return True


def value_wording(observation: Any) -> tuple[str, bool]:
    """An Observation's value as text (its valueCodeableConcept's wording, else valueString) and
    whether that text is code-system wording (``is_code_wording``; a valueString never is)."""
    value_cc = getattr(observation, "valueCodeableConcept", None)
    text = concept_text(value_cc)
    if text:
        return text, is_code_wording(value_cc)
    value = getattr(observation, "valueString", None)
    value = value if isinstance(value, str) else ""
    return value, not value.strip()


def status_codes(concept: Any) -> set[str]:
    """Lower-case codes of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    return {str(c.code).lower() for c in codings(concept) if getattr(c, "code", None)}


def rid(resource: Any) -> str | None:
    value = getattr(resource, "id", None)
    return value if isinstance(value, str) and value else None


def rtype(resource: Any) -> str:
    try:
        return resource.get_resource_type()
    except AttributeError:
        return type(resource).__name__


def match_coded(
    vs: ValueSets, names: Iterable[str], concepts: Any
) -> list[tuple[str, Concept, Any]]:
    """(value set name, matched entry, coding) for every coding of ``concepts`` in any of ``names``."""
    hits = []
    all_codings = codings(concepts)
    for name in names:
        for c in all_codings:
            entry = vs.lookup(name, getattr(c, "system", None), getattr(c, "code", None))
            if entry is not None:
                hits.append((name, entry, c))
    return hits


def coded_evidence(resource: Any, date: str | None, entry: Concept, coding: Any, certainty: Certainty = Certainty.AFFIRMED) -> Evidence:
    display = getattr(coding, "display", None) or entry.display
    return Evidence(
        resource_type=rtype(resource),
        resource_id=rid(resource),
        date=date,
        text=clip(display),
        matched_by=CODED,
        certainty=certainty,
        code=f"{canonical_system(getattr(coding, 'system', None))}|{getattr(coding, 'code', '')}",
        value_set=entry.value_set,
        verification=entry.verification,
    )


def text_evidence(resource: Any, date: str | None, text: str, certainty: str) -> Evidence:
    return Evidence(
        resource_type=rtype(resource),
        resource_id=rid(resource),
        date=date,
        text=clip(text),
        matched_by=TEXT,
        certainty=certainty,
    )


_TAG_RE = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAG_RE = re.compile(r"<\s*/?\s*(?:p|div|br|li|tr|h[1-6])\b[^<>]{0,2000}>", re.IGNORECASE)


def attachment_text(attachment: Any) -> str | None:
    """The text of an Attachment with inline data: text/plain or text/html; None otherwise (PDF, URL only)."""
    data = getattr(attachment, "data", None)
    if not data:
        return None
    content_type = (getattr(attachment, "contentType", None) or "text/plain").lower()
    if not content_type.startswith(TEXT_CONTENT_TYPES):
        return None
    raw = data if isinstance(data, (bytes, bytearray)) else _b64(data)
    if raw is None:
        return None
    text = bytes(raw[:MAX_ATTACHMENT_BYTES]).decode("utf-8", errors="replace")
    if "html" in content_type:
        text = _BLOCK_TAG_RE.sub("\n", text)
        text = html.unescape(_TAG_RE.sub(" ", text))
    return text


def _b64(value: Any) -> bytes | None:
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        return None


def quantity(value: Any) -> tuple[float, str | None] | None:
    """(value, unit code or unit) of a Quantity; None without a number."""
    number = getattr(value, "value", None)
    if number is None:
        return None
    try:
        return float(number), getattr(value, "code", None) or getattr(value, "unit", None)
    except (TypeError, ValueError):
        return None
