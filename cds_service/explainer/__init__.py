"""Patient explainers: pages a clinician hands or sends to the patient, linked from the cards.

The text is reviewed content in ``cards/_patient/<page>/`` (``page.yaml`` and ``page.md``, see there);
this module only loads it, checks it, fills in a variant and turns its small Markdown subset into
HTML. A page holds no patient data: its URL carries only a variant chosen from the page's fixed
lists (limb, question), so any other value is ignored, never echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlencode

import jinja2
import yaml
from markupsafe import Markup, escape

from ..bibliography import Bibliography, BibliographyError
from ..reading import levels

#: Where the pages are served: ``/patient/<name>``.
URL_PREFIX = "/patient"
#: The card library's order limb (``order.limb``: upper | lower) in the page's words.
ORDER_LIMB = {"upper": "arm", "lower": "leg"}
REGION_LIMB = {region: ORDER_LIMB[limb] for region, limb in levels.REGION_LIMB.items()}
#: The limb words used when the link names no limb.
ANY_LIMB = "any"
GENERAL = "general"


class ExplainerError(ValueError):
    """A page's content is invalid; the message names the file."""


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    body: str  # the section's Markdown, a Jinja template
    sources: tuple[str, ...]


@dataclass(frozen=True)
class RenderedSection:
    id: str
    heading: str
    html: Markup
    text: str  # what the patient reads, for the readability test
    sources: tuple[str, ...]  # the sources' short labels


@dataclass(frozen=True)
class RenderedPage:
    name: str
    title: str
    limb: str | None
    question: str
    intro_html: Markup
    intro_text: str
    sections: tuple[RenderedSection, ...]

    @property
    def text(self) -> str:
        """The patient's text (title, intro, headings, sections), without the source notes."""
        parts = [self.title, self.intro_text] + [f"{s.heading}.\n{s.text}" for s in self.sections]
        return "\n\n".join(parts)


class ExplainerPage:
    """One page (``cards/_patient/<name>/``), loaded and checked once at start-up."""

    def __init__(self, folder: Path, bibliography: Bibliography):
        self.name = folder.name
        where = f"cards/_patient/{folder.name}"
        if not re.fullmatch(r"[a-z0-9-]+", folder.name):
            raise ExplainerError(f"{where}: a page's folder name is its URL: lower-case letters, digits and '-'")
        try:
            meta = yaml.safe_load((folder / "page.yaml").read_text()) or {}
            source = (folder / "page.md").read_text()
        except (OSError, yaml.YAMLError) as exc:
            raise ExplainerError(f"{where}: {exc}") from None
        for name in ("title", "link_label", "limbs", "questions", "urgent_care"):
            if name not in meta:
                raise ExplainerError(f"{where}/page.yaml: {name} is required")
        self.title: str = meta["title"]
        self.link_label: str = meta["link_label"]
        self.limbs: dict[str, dict[str, str]] = dict(meta["limbs"])
        if set(self.limbs) != {"arm", "leg", ANY_LIMB}:
            raise ExplainerError(f"{where}/page.yaml: limbs must be arm, leg and {ANY_LIMB}")
        words = {frozenset(v) for v in self.limbs.values()}
        if len(words) != 1:
            raise ExplainerError(f"{where}/page.yaml: every limb needs the same words")
        self.questions: dict[str, dict[str, Any]] = dict(meta["questions"])
        if GENERAL not in self.questions or any(not re.fullmatch(r"[a-z-]+", q) for q in self.questions):
            raise ExplainerError(f"{where}/page.yaml: questions need lower-case keys and a {GENERAL!r} entry")
        self.urgent_care: dict[str, list[str]] = dict(meta["urgent_care"])
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        try:
            self._questions = {k: env.from_string(v["text"]) for k, v in self.questions.items()}
            intro, sections = _split(source)
            self._intro = env.from_string(intro)
            self.sections = tuple(sections)
            self._bodies = {s.id: env.from_string(s.body) for s in sections}
        except jinja2.TemplateSyntaxError as exc:
            raise ExplainerError(f"{where}: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise ExplainerError(f"{where}/page.yaml: every question needs a text ({exc})") from None
        except ValueError as exc:
            raise ExplainerError(f"{where}/page.md: {exc}") from None
        try:
            self._labels = {s.id: tuple(bibliography.get(k).short for k in s.sources) for s in self.sections}
        except BibliographyError as exc:
            raise ExplainerError(f"{where}/page.md: {exc}") from None
        for limb in self.limb_choices:  # every variant renders now, or start-up stops
            for question in self.questions:
                self.render(limb, question)

    @property
    def path(self) -> str:
        return f"{URL_PREFIX}/{self.name}"

    @property
    def limb_choices(self) -> tuple[str | None, ...]:
        return ("arm", "leg", None)

    def variant(self, limb: Any, question: Any) -> tuple[str | None, str]:
        """The variant named by a request's values: anything not on the page's lists is dropped."""
        limb = limb if limb in ("arm", "leg") else None
        question = question if isinstance(question, str) and question in self.questions else GENERAL
        return limb, question

    def render(self, limb: Any = None, question: Any = None) -> RenderedPage:
        limb, question = self.variant(limb, question)
        words = self.limbs[limb or ANY_LIMB]
        try:
            question_text = " ".join(self._questions[question].render(limb=words).split())
            context = {"limb": words, "question": question_text}
            intro = self._intro.render(**context)
            sections = []
            for s in self.sections:
                body = self._bodies[s.id].render(**context)
                html, text = markdown_html(body)
                sections.append(RenderedSection(s.id, s.heading, html, text, self._labels[s.id]))
        except jinja2.UndefinedError as exc:
            raise ExplainerError(f"cards/_patient/{self.name}: {exc.message}") from None
        intro_html, intro_text = markdown_html(intro)
        return RenderedPage(self.name, self.title, limb, question, intro_html, intro_text, tuple(sections))

    def card_variant(self, context: Mapping[str, Any]) -> tuple[str | None, str]:
        """The variant a card links to, from its facts: the order's limb, the first question whose reasons it has."""
        order = context.get("order") or {}
        limb = ORDER_LIMB.get(order.get("limb")) or REGION_LIMB.get(order.get("region") or "")
        if limb is None:
            limb = REGION_LIMB.get((context.get("question") or {}).get("region") or "")
        codes = set()
        for reason in context.get("reasons") or ():
            codes.add(reason.get("code"))
            if reason.get("kind"):
                codes.add(reason["kind"])
        question = next((q for q, v in self.questions.items() if codes & set(v.get("reasons") or ())), GENERAL)
        return limb, question

    def url(self, base_url: str, limb: str | None, question: str) -> str:
        limb, question = self.variant(limb, question)
        query = {k: v for k, v in (("limb", limb), ("question", question)) if v and v != GENERAL}
        return base_url.rstrip("/") + self.path + (("?" + urlencode(query)) if query else "")

    def link(self, base_url: str, context: Mapping[str, Any]) -> dict:
        """The card's link to this page (CDS Hooks Link, type absolute)."""
        return {"label": self.link_label, "url": self.url(base_url, *self.card_variant(context)), "type": "absolute"}


_HEADING = re.compile(r"^## (?P<heading>.+?) \{#(?P<id>[a-z][a-z-]*)\}\s*$")
_SOURCES = re.compile(r"^Sources: (?P<keys>[a-z0-9-]+(?:, [a-z0-9-]+)*)\s*$")


def _split(source: str) -> tuple[str, list[Section]]:
    """(intro, sections) of page.md: each section runs from its heading to its Sources line."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)  # Jinja comments (reviewer notes)
    intro: list[str] = []
    sections: list[Section] = []
    current: dict | None = None
    for number, line in enumerate(source.splitlines(), 1):
        heading = _HEADING.match(line)
        sources = _SOURCES.match(line)
        if heading:
            if current is not None:
                raise ValueError(f"line {number}: section {current['id']!r} has no Sources line")
            current = {"id": heading["id"], "heading": heading["heading"], "lines": []}
        elif sources:
            if current is None:
                raise ValueError(f"line {number}: a Sources line outside a section")
            sections.append(Section(current["id"], current["heading"], "\n".join(current["lines"]).strip(),
                                    tuple(sources["keys"].split(", "))))
            current = None
        elif line.startswith("#"):
            raise ValueError(f"line {number}: headings are '## Heading {{#id}}'")
        else:
            (current["lines"] if current is not None else intro).append(line)
    if current is not None:
        raise ValueError(f"section {current['id']!r} has no Sources line")
    if not sections:
        raise ValueError("no sections")
    if len({s.id for s in sections}) != len(sections):
        raise ValueError("a section id is used twice")
    return "\n".join(intro).strip(), sections


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> Markup:
    return Markup(_BOLD.sub(r"<strong>\1</strong>", str(escape(" ".join(text.split())))))


def markdown_html(text: str) -> tuple[Markup, str]:
    """(HTML, plain text) of the page's Markdown subset: paragraphs, "- " lists, **bold**; everything escaped."""
    html: list[str] = []
    plain: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and lines[0].startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line.strip()
            html.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            # A list item is read as a sentence (the readability formula counts sentences).
            plain += [_plain(i).rstrip(".") + "." for i in items]
        elif block.strip():
            html.append(f"<p>{_inline(block)}</p>")
            plain.append(_plain(block))
    return Markup("\n".join(html)), "\n".join(plain)


def _plain(text: str) -> str:
    return _BOLD.sub(r"\1", " ".join(text.split()))


class Explainers:
    """Every page under ``cards/_patient/``."""

    def __init__(self, folder: Path, bibliography: Bibliography):
        self._pages = {}
        if folder.is_dir():
            for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
                self._pages[sub.name] = ExplainerPage(sub, bibliography)

    def __contains__(self, name: str) -> bool:
        return name in self._pages

    def __iter__(self):
        return iter(self._pages.values())

    def get(self, name: str) -> ExplainerPage | None:
        return self._pages.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._pages)
