"""Every citation in cards/ and config/ resolves to one entry of config/bibliography.yaml.

A card's label and link come from the entry (so they cannot disagree); a table's `source` names
entries by key; an "Author [et al.] YEAR" or an ACR topic and year written in text must be an
entry too. A reference the project could not find (the article's "Levin 2012") therefore cannot
reach a card.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cds_service.bibliography import Bibliography, BibliographyError
from cds_service.cardbuilder import CardContentError, CardLibrary

ROOT = Path(__file__).resolve().parents[1]
BIB = Bibliography.load(ROOT / "config" / "bibliography.yaml")
KEY = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")
#: "Cho et al. 2010", "Nardin 1999", "Davies et al., BMJ 2018", "Levin (Neurol Clin 2012)".
AUTHOR_YEAR = re.compile(
    r"\b([A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]{3,}(?:/[A-Z]{3,})?)(?: (?:et al\.?|and [A-Z][a-z]+|& [A-Z][a-z]+))?,? "
    r"\(?(?:(?:[A-Z][A-Za-z.&/]*|\d+[A-Za-z]*) ){0,3}((?:19|20)\d{2})\b")
#: Words that precede a year without being an author (guideline topics, months, seasons).
NOT_AUTHORS = {"ACR", "AJNR", "NEJM", "BMJ", "JACR", "MRI", "EMG", "NCS", "EDX", "CPT", "ICD", "LOINC", "Pain", "Myelopathy", "Radiculopathy", "Trauma", "Update", "Criteria", "Revised",
               "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December", "Since", "In", "From", "Until"}
ACR_TOPIC = re.compile(r"ACR[^.\n]*?(Low Back Pain|Myelopathy|Cervical[^.\n(]*?Radiculopathy|Spine Trauma)"
                       r"\D{0,25}?((?:19|20)\d{2})")


def _text_files():
    for base, exts in ((ROOT / "cards", (".md", ".txt", ".yaml")), (ROOT / "config", (".yaml", ".md"))):
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix in exts and p.name != "bibliography.yaml":
                yield p


def _sources(node, where):
    """Every `source`/`sources` value in a config table, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("source", "sources"):
                for s in v if isinstance(v, list) else [v]:
                    if isinstance(s, str):
                        yield where, s
            yield from _sources(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _sources(v, f"{where}[{i}]")


def test_every_entry_has_an_identifier_or_says_why_not():
    assert len(list(BIB)) >= 10
    for src in BIB:
        assert src.doi or src.pmid or src.kind in ("web", "book", "local"), src.key
        assert src.link or src.kind in ("book", "local"), src.key


def test_an_entry_without_an_identifier_is_refused(tmp_path):
    path = tmp_path / "bib.yaml"
    path.write_text("x-2012:\n  authors: Levin KH\n  year: 2012\n  title: T\n  short: Levin 2012\n  verified: not found\n")
    with pytest.raises(BibliographyError, match="doi or pmid"):
        Bibliography.load(path)
    path.write_text("x-2012:\n  authors: A\n  year: 2012\n  title: T\n  short: S\n  verified: v\n  doi: 10.1/x\n")
    with pytest.raises(BibliographyError, match="not a DOI"):
        Bibliography.load(path)


def test_every_card_cites_its_source_by_key_and_every_key_resolves():
    lib = CardLibrary(ROOT / "cards")  # raises on a key with no entry
    for kind in lib.kinds:
        meta = yaml.safe_load((ROOT / "cards" / kind / "card.yaml").read_text())
        assert "cite" in meta["source"], f"cards/{kind}: source must be bibliography keys (cite: [...])"
        for link in meta.get("links") or []:
            assert "cite" in link or "page" in link or "pubmed.ncbi.nlm.nih.gov/?term" not in link["url"], (
                f"cards/{kind}: a search page is not a citation")
        tpl = lib.template(kind)
        assert tpl.source["label"] == BIB.label(meta["source"]["cite"])


def test_a_card_citing_an_unknown_key_does_not_load(tmp_path):
    folder = tmp_path / "cards" / "k"
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text("indicator: info\nsource: {cite: [levin-2012], topic: T}\n")
    (folder / "summary.txt").write_text("S")
    with pytest.raises(CardContentError, match="levin-2012"):
        CardLibrary(tmp_path / "cards", BIB)


def test_every_table_source_names_an_entry_or_says_it_is_a_local_choice():
    bad = []
    for p in sorted((ROOT / "config").rglob("*.yaml")):
        if p.name == "bibliography.yaml":
            continue
        for where, text in _sources(yaml.safe_load(p.read_text()), p.relative_to(ROOT).as_posix()):
            keys = [text] if KEY.match(text) else re.findall(r"\[([a-z][a-z0-9-]+)\]", text)
            keys = [k for k in keys if KEY.match(k)]
            unknown = [k for k in keys if k not in BIB]
            if unknown or not (keys or text.lower().startswith("local choice")):
                bad.append(f"{where}: {text[:80]!r}" + (f" (unknown {unknown})" if unknown else ""))
    assert not bad, "sources must name bibliography keys ([key]) or start 'Local choice':\n" + "\n".join(bad)


def test_every_author_and_year_written_in_cards_and_tables_is_an_entry():
    known = {(name, s.year) for s in BIB for name in s.names}
    bad = []
    for p in _text_files():
        for m in AUTHOR_YEAR.finditer(p.read_text()):
            name, year = m.group(1), int(m.group(2))
            if name not in NOT_AUTHORS and (name, year) not in known:
                bad.append(f"{p.relative_to(ROOT)}: {m.group(0)!r}")
    assert not bad, "cited in text but not in config/bibliography.yaml:\n" + "\n".join(bad)


def test_every_acr_topic_and_year_written_is_an_entry():
    acr = [(s.year, s.short) for s in BIB if s.short.startswith("ACR")]
    bad = []
    for p in _text_files():
        for m in ACR_TOPIC.finditer(p.read_text()):
            topic, year = m.group(1).split()[0], int(m.group(2))
            if not any(topic in short and (y == year or str(year) in short) for y, short in acr):
                bad.append(f"{p.relative_to(ROOT)}: {m.group(0)!r}")
    assert not bad, "ACR topics cited but not in config/bibliography.yaml:\n" + "\n".join(bad)


def test_the_checks_catch_an_unlisted_citation():
    assert AUTHOR_YEAR.search("Levin (Neurol Clin 2012)").groups() == ("Levin", "2012")
    assert AUTHOR_YEAR.search("Davies et al., BMJ 2018").groups() == ("Davies", "2018")
    assert AUTHOR_YEAR.search("radiculopathy (AAEM 1999).").groups() == ("AAEM", "1999")
    assert ("Levin", 2012) not in {(n, s.year) for s in BIB for n in s.names}
