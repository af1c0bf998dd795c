"""Which card silences which: the table of ``config/guidelines/precedence.yaml``, applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from ..cardbuilder import CardSpec


@dataclass(frozen=True)
class Precedence:
    silences: Mapping[str, frozenset[str]] = field(default_factory=dict)
    never_silenced: frozenset[str] = frozenset()
    once_per_response: frozenset[str] = frozenset()
    #: (kind, reason code) -> the kind it covers
    covers: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def apply(self, per_order: Iterable[list[CardSpec]]) -> list[CardSpec]:
        """The cards to show: each order's cards filtered by the table, once-per-response kinds once."""
        out: list[CardSpec] = []
        seen: set[str] = set()
        for specs in per_order:
            covered = {self.covers[(s.kind, r)] for s in specs for r in s.reasons if (s.kind, r) in self.covers}
            silenced = ({k for s in specs for k in self.silences.get(s.kind, ())} | covered) - self.never_silenced
            for s in specs:
                if s.kind in silenced:
                    continue
                if s.kind in self.once_per_response:
                    if s.kind in seen:
                        continue
                    seen.add(s.kind)
                out.append(s)
            # A kind covered on one order (e.g. a recent EMG already quoted) is covered for the response.
            seen |= covered
        return out


def load_precedence(path: Path) -> Precedence:
    data = yaml.safe_load(path.read_text()) or {}
    return Precedence(
        silences={k: frozenset(v) for k, v in (data.get("silences") or {}).items()},
        never_silenced=frozenset(data.get("never_silenced") or ()),
        once_per_response=frozenset(data.get("once_per_response") or ()),
        covers={(c["kind"], c["reason"]): c["covers"] for c in data.get("covers") or ()},
    )
