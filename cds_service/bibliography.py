"""The sources cards and tables cite (``config/bibliography.yaml``), loaded once and checked.

Cards name a source by its key; the label a clinician sees and the link come from the entry,
so a citation's label and address cannot disagree, and a source is written down once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DOI = re.compile(r"^10\.\d{4,9}/\S+$")
PMID = re.compile(r"^\d{6,9}$")
#: Entries without a DOI or PubMed id must say what they are and where to find them.
KINDS_WITHOUT_ID = ("web", "book", "local")


class BibliographyError(ValueError):
    """An entry is incomplete, or a key cited somewhere has no entry."""


@dataclass(frozen=True)
class Source:
    key: str
    short: str
    year: int
    first_author: str
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    kind: str | None = None
    #: How text names it besides the first author's surname ("AANEM", "ACP/APS").
    cited_as: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.first_author, *self.cited_as)

    @property
    def link(self) -> str | None:
        """Where a clinician can read it: the DOI, else PubMed, else the entry's address."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return self.url


class Bibliography:
    def __init__(self, entries: dict[str, Source]):
        self._entries = entries

    @classmethod
    def load(cls, path: Path) -> "Bibliography":
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise BibliographyError(f"{path.name}: expected a mapping of keys to entries")
        return cls({key: _entry(key, e) for key, e in raw.items()})

    @classmethod
    def empty(cls) -> "Bibliography":
        return cls({})

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __iter__(self):
        return iter(self._entries.values())

    def get(self, key: str) -> Source:
        try:
            return self._entries[key]
        except KeyError:
            raise BibliographyError(f"no bibliography entry {key!r}") from None

    def label(self, keys: list[str] | tuple[str, ...]) -> str:
        return "; ".join(self.get(k).short for k in keys)


def _entry(key: str, e: dict) -> Source:
    if not isinstance(e, dict):
        raise BibliographyError(f"{key}: expected a mapping")
    missing = [f for f in ("authors", "year", "title", "short", "verified") if not e.get(f)]
    if missing:
        raise BibliographyError(f"{key}: missing {', '.join(missing)}")
    doi, pmid = e.get("doi"), e.get("pmid")
    if doi is not None and not DOI.match(str(doi)):
        raise BibliographyError(f"{key}: {doi!r} is not a DOI")
    if pmid is not None and not PMID.match(str(pmid)):
        raise BibliographyError(f"{key}: {pmid!r} is not a PubMed id")
    kind = e.get("kind")
    if not doi and not pmid:
        if kind not in KINDS_WITHOUT_ID or not e.get("why_no_id") or not (e.get("url") or e.get("isbn") or e.get("file")):
            raise BibliographyError(
                f"{key}: needs a doi or pmid, or kind ({'/'.join(KINDS_WITHOUT_ID)}) with why_no_id and url, isbn or file")
    first = re.split(r"[ ,(]", str(e["authors"]).strip(), maxsplit=1)[0]
    return Source(key=key, short=str(e["short"]), year=int(e["year"]), first_author=first,
                  doi=str(doi) if doi else None, pmid=str(pmid) if pmid else None,
                  url=e.get("url"), kind=kind, cited_as=tuple(e.get("cited_as") or ()))
