"""Side, severity, zone, region and limb words around a mention."""

from __future__ import annotations

import re

from . import lexicon as lx

_B = r"(?<![A-Za-z0-9])(?:%s)(?![A-Za-z0-9])"
_BILATERAL = re.compile(_B % lx.SIDE_BILATERAL, re.IGNORECASE)
_LEFT = re.compile(_B % lx.SIDE_LEFT, re.IGNORECASE)
_RIGHT = re.compile(_B % lx.SIDE_RIGHT, re.IGNORECASE)
_SEVERITY = [(re.compile(_B % p, re.IGNORECASE), v) for p, v in lx.SEVERITY]
#: Any severity word at all: most texts asked have none, and one search says so.
_ANY_SEVERITY = re.compile(_B % "|".join(p for p, _ in lx.SEVERITY), re.IGNORECASE)
_ZONES = [(re.compile(_B % p, re.IGNORECASE), v) for p, v in lx.ZONES]
_REGIONS = [(re.compile(_B % p, re.IGNORECASE), v) for p, v in lx.REGION_WORDS]
_LIMBS = [(re.compile(_B % p, re.IGNORECASE), v) for p, v in lx.LIMB_WORDS]
#: Side stated after a finding: "..., on the left", "(right)", "bilaterally", "left greater than right".
_POST_SIDE = re.compile(
    r"^[\s,(]{0,3}(?:(?:which is|that is|is|are|greater|worse|more (?:prominent|pronounced))\s+)?(?:on|to|at|involving|affecting)?\s*(?:the\s+)?"
    r"(left|right|bilateral(?:ly)?|both sides)(?![A-Za-z])",
    re.IGNORECASE,
)
_POST_SEVERITY = re.compile(
    r"^[\s,(]{0,3}(?:(?:which|that) (?:is|are)\s+|(?:is|are)\s+)?(mild(?:ly)?[- ](?:to[- ])?moderate|moderate[- ](?:to[- ])?severe|mild|moderate|severe|minimal|marked)"
    # ... and nothing after it but punctuation or a level/side: ", severe left and moderate right"
    # belongs to the next finding.
    r"(?=\s*(?:[,.;)]|$|at\b|on\b|in\b|bilateral))",
    re.IGNORECASE,
)


def side_in(text: str) -> str | None:
    """left / right / bilateral from the side words in ``text``; both left and right make bilateral."""
    if not text:
        return None
    if _BILATERAL.search(text):
        return "bilateral"
    left, right = bool(_LEFT.search(text)), bool(_RIGHT.search(text))
    if left and right:
        return "bilateral"
    return "left" if left else "right" if right else None


def side_after(text: str) -> str | None:
    """A side stated right after a finding ("..., on the left")."""
    m = _POST_SIDE.match(text)
    if not m:
        return None
    word = m.group(1).lower()
    return "bilateral" if word.startswith(("bilateral", "both")) else word


def merge_sides(*sides: str | None) -> str | None:
    known = {s for s in sides if s}
    if not known:
        return None
    if "bilateral" in known or {"left", "right"} <= known:
        return "bilateral"
    return known.pop()


def severity_in(text: str) -> str | None:
    """The highest severity named in ``text``."""
    if not _ANY_SEVERITY.search(text):
        return None
    found = []
    for rx, value in _SEVERITY:
        for m in rx.finditer(text):
            found.append((m.start(), m.end(), value))
    if not found:
        return None
    # Combined phrases ("mild to moderate") win over their parts.
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    kept: list[tuple[int, int, str]] = []
    for f in found:
        if not any(k[0] < f[1] and f[0] < k[1] for k in kept):
            kept.append(f)
    return max((v for _, _, v in kept), key=lx.SEVERITY_ORDER.index)


def severity_after(text: str) -> str | None:
    m = _POST_SEVERITY.match(text)
    return severity_in(m.group(1)) if m else None


def max_severity(*values: str | None) -> str | None:
    known = [v for v in values if v]
    return max(known, key=lx.SEVERITY_ORDER.index) if known else None


def zone_in(text: str) -> str | None:
    for rx, value in _ZONES:
        if rx.search(text):
            return value
    return None


def region_in(text: str) -> str | None:
    for rx, value in _REGIONS:
        if rx.search(text):
            return value
    return None


def limb_in(text: str) -> str | None:
    """upper / lower from body-part words; None when neither or both."""
    found = {value for rx, value in _LIMBS if rx.search(text)}
    return found.pop() if len(found) == 1 else None


def last_words(text: str, n: int) -> str:
    """The last ``n`` words of ``text`` (the reach of a pre-modifier)."""
    parts = text.rsplit(None, n)
    return " ".join(parts[-n:]) if len(parts) > n else text


def clip(text: str, limit: int = 160) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
