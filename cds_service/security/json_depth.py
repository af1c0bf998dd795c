"""Refuse JSON request bodies nested deeper than a limit, before they are parsed.

Deep nesting costs recursion in every layer that walks the document (the json
module, model validation, our own code) and can end in RecursionError; a scan
of the raw bytes finds it first, without building any objects.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

# A whole JSON string, escapes included, so brackets inside strings do not count.
# An unterminated string runs to the end: the pattern never fails after its
# opening quote, so there is no backtracking and the scan is linear on any input.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
# Opening bracket -> +1, closing -> 0xff, read as -1 by a signed byte array.
_SIGNS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")


def max_depth_of(body: bytes) -> int:
    """Deepest nesting of arrays/objects in ``body`` (``{}`` is 1, a scalar 0).

    Malformed JSON gets some number here and is refused by the parser anyway.
    All the work runs in C (regex, translate, accumulate), not per byte in Python.
    """
    brackets = _STRING.sub(b"", body).translate(_SIGNS, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0)


def exceeds_depth(body: bytes, max_depth: int) -> bool:
    return max_depth_of(body) > max_depth
