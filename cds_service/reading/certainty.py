"""How sure the record is of a finding: one vocabulary for the readers, the localisation and the rules.

A ``StrEnum``: members compare equal to their text ("affirmed"), so JSON, card facts and the tests'
tables keep the plain words, while code names the member and a typo is an AttributeError, not a
condition that is silently never true.
"""

from __future__ import annotations

from enum import StrEnum


class Certainty(StrEnum):
    AFFIRMED = "affirmed"  # stated as present
    NEGATED = "negated"  # "no", "without", "ruled out", "excluded"
    HEDGED = "hedged"  # "possible", "cannot exclude", a provisional diagnosis, a preliminary report
    OTHER = "other"  # about someone else ("family history of"), or not about the patient now


AFFIRMED, NEGATED, HEDGED, OTHER = Certainty.AFFIRMED, Certainty.NEGATED, Certainty.HEDGED, Certainty.OTHER
