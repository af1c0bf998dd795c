"""Render cards from the reviewable templates in ``cards/``.

Each card kind is a folder: ``card.yaml`` (indicator, source, links, override
reasons), ``summary.txt`` and ``detail.md`` (Jinja templates). The clinical
wording lives there, so a clinician can review it without reading Python; this
module only fills the templates and shapes the result as a CDS Hooks card.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import jinja2
import yaml
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from .bibliography import Bibliography, BibliographyError
from .explainer import ExplainerError, Explainers

#: Code system of this service's card topics and override reasons.
TOPIC_SYSTEM = "https://spine-order-cds.example.org/fhir/CodeSystem/card-kind"
OVERRIDE_SYSTEM = "https://spine-order-cds.example.org/fhir/CodeSystem/override-reason"
INDICATORS = ("critical", "warning", "info")
#: critical > warning > info: the order cards show in.
INDICATOR_RANK = {indicator: i for i, indicator in enumerate(INDICATORS)}
SUMMARY_LIMIT = 139
#: Card extension (the spec reserves `extension`) listing why the card was shown.
REASONS_EXTENSION = "org.example.spine-order-cds.reasons"  # the spec: "<140-character summary"


class CardContentError(ValueError):
    """A card template folder is invalid; the message names the folder."""


class CardRenderError(ValueError):
    """A template could not be rendered with the context the rules gave."""


@dataclass(frozen=True)
class Suggestion:
    """A suggestion the rules propose; uuids are given when the card is built."""

    label: str
    actions: tuple[dict, ...]
    is_recommended: bool = False


@dataclass(frozen=True)
class CardSpec:
    """What the rules decided: which card kind, with which facts, and which actions."""

    kind: str
    context: Mapping[str, Any] = field(default_factory=dict)
    suggestions: tuple[Suggestion, ...] = ()
    #: Machine-readable reason codes, returned in the card's extension for integrators.
    reasons: tuple[str, ...] = ()
    #: Bibliography keys of links the rule chose for this card (after the kind's own links).
    links: tuple[str, ...] = ()
    #: The rule's indicator when the facts raise it above the kind's own (card.yaml); None: the kind's.
    indicator: str | None = None


class _LinkSchema(Schema):
    """A link: a bibliography key (`cite`), a patient page of this service (`page`: a folder of
    cards/_patient/), or a label and address for a page that is not a source."""

    class Meta:
        unknown = RAISE

    cite = fields.String()
    page = fields.String()
    label = fields.String()
    url = fields.Url()
    type = fields.String(load_default="absolute", validate=validate.OneOf(["absolute", "smart"]))

    @validates_schema
    def _one_form(self, data, **kwargs):
        named = [k for k in ("cite", "page") if k in data]
        labelled = "label" in data or "url" in data
        if len(named) > 1 or (named and labelled) or (not named and not ("label" in data and "url" in data)):
            raise ValidationError("a link is either {cite: key}, {page: name} or {label, url}")


class _ReasonSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]+$"))
    display = fields.String(required=True)
    #: The HL7 CDS Hooks 3.0 non-adherence reason code of the same meaning (config/override-reason-codes.yaml).
    hl7 = fields.String(validate=validate.Regexp(r"^[a-z0-9-]+$"))


class _SourceSchema(Schema):
    """The card's source: bibliography keys (`cite`; label and link come from the entries) or a label."""

    class Meta:
        unknown = RAISE

    cite = fields.List(fields.String(), validate=validate.Length(min=1))
    label = fields.String()
    url = fields.Url()
    topic = fields.String(required=True)  # the topic display; its code is the card kind

    @validates_schema
    def _one_form(self, data, **kwargs):
        if ("cite" in data) == ("label" in data):
            raise ValidationError("a source has either cite (bibliography keys) or label")


class _CardYamlSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # free-text reviewer notes (e.g. `review:`) are allowed

    indicator = fields.String(required=True, validate=validate.OneOf(INDICATORS))
    source = fields.Nested(_SourceSchema, required=True)
    links = fields.List(fields.Nested(_LinkSchema), load_default=list)
    override_reasons = fields.List(fields.Nested(_ReasonSchema), load_default=list)
    selection_behavior = fields.String(load_default="at-most-one", validate=validate.OneOf(["at-most-one", "any"]))


@dataclass(frozen=True)
class OverrideReason:
    """One override reason a card offers: its own code, which ``config/feedback.yaml`` names, and the
    coding the EHR is sent (the HL7 non-adherence code where card.yaml gives one, else its own)."""

    local: str
    system: str
    code: str
    display: str

    @property
    def codings(self) -> tuple[tuple[str, str], ...]:
        """Every (system, code) that means this reason: the one sent, and the service's own, which
        feedback recorded before the reason had an HL7 code still carries."""
        return tuple(dict.fromkeys([(self.system, self.code), (OVERRIDE_SYSTEM, self.local)]))

    def coding(self) -> dict:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class CardTemplate:
    kind: str
    indicator: str
    source: dict
    links: tuple[dict, ...]
    override_reasons: tuple[OverrideReason, ...]
    selection_behavior: str
    summary: jinja2.Template
    detail: jinja2.Template | None
    #: ``summary_short.txt``: said instead when the summary comes out over the limit (long names on both
    #: sides, several roots), so a summary is never cut mid-phrase and a card is never lost for its length.
    summary_short: jinja2.Template | None = None
    #: Patient pages (cards/_patient/<name>) the card links to; the link's URL is made per card (base URL, variant).
    pages: tuple[str, ...] = ()

    def reason_display(self, system: str, code: str) -> str | None:
        """The card's display for a coding it offers or offered, else None."""
        return next((r.display for r in self.override_reasons if (system, code) in r.codings), None)


def _load_hl7_reason_codes(path: Path) -> tuple[str, frozenset[str]]:
    """The HL7 non-adherence reason code system and its codes; none when the file is absent."""
    if not path.exists():
        return "", frozenset()
    try:
        data = yaml.safe_load(path.read_text()) or {}
        system, codes = data["system"], data["codes"]
        if not isinstance(system, str) or not isinstance(codes, dict):
            raise TypeError
    except (yaml.YAMLError, KeyError, TypeError):
        raise CardContentError(f"{path.name}: needs `system` (a URL) and `codes` (code: display)") from None
    return system, frozenset(codes)


class CardLibrary:
    """Every card kind, loaded and checked once at start-up."""

    def __init__(self, cards_dir: Path, bibliography: Bibliography | None = None):
        # The project layout: cards/ beside config/bibliography.yaml and config/override-reason-codes.yaml.
        config_dir = Path(cards_dir).parent / "config"
        if bibliography is None:
            path = config_dir / "bibliography.yaml"
            bibliography = Bibliography.load(path) if path.exists() else Bibliography.empty()
        self._bibliography = bibliography
        self._hl7_system, self._hl7_codes = _load_hl7_reason_codes(config_dir / "override-reason-codes.yaml")
        try:
            #: The patient explainers (cards/_patient/): served by cds_service.explainer.views, linked by cards.
            self.explainers = Explainers(Path(cards_dir) / "_patient", bibliography)
        except ExplainerError as exc:
            raise CardContentError(str(exc)) from None
        self._env = jinja2.Environment(
            # Templates may import shared macros from cards/_macros/.
            loader=jinja2.FileSystemLoader(str(cards_dir)),
            undefined=jinja2.StrictUndefined,  # a missing fact is an error, not a blank
            autoescape=False,  # Markdown and plain text, not HTML
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["shorten"] = _shorten
        # Record text (condition names, report sentences, order names) goes into Markdown:
        # templates pass it through `md` so it can never become a link, an image or HTML.
        self._env.filters["md"] = markdown_text
        # Unlike Jinja's capitalize, keeps "MRI" and "EMG" upper case.
        self._env.filters["first_upper"] = lambda text: str(text)[:1].upper() + str(text)[1:]
        self._templates: dict[str, CardTemplate] = {}
        for folder in sorted(p for p in Path(cards_dir).iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            self._templates[folder.name] = self._load(folder)
        if not self._templates:
            raise CardContentError(f"no card templates in {cards_dir}")

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._templates)

    def template(self, kind: str) -> CardTemplate:
        return self._templates[kind]

    def indicator(self, spec: CardSpec) -> str:
        """The indicator ``spec``'s card shows: the rule's when it raised it, else the kind's (card.yaml)."""
        return spec.indicator if spec.indicator in INDICATORS else self._templates[spec.kind].indicator

    def _reasons(self, kind: str, entries: list[dict]) -> tuple[OverrideReason, ...]:
        """The override reasons a card offers. Within a card both a reason's own code and the code it
        sends must be unique, or feedback could not say which reason was meant."""
        offered: list[OverrideReason] = []
        for entry in entries:
            local, hl7 = entry["code"], entry.get("hl7")
            if any(r.local == local for r in offered):
                raise CardContentError(f"cards/{kind}: override reason {local!r} listed twice")
            if hl7 is not None and hl7 not in self._hl7_codes:
                raise CardContentError(f"cards/{kind}: override reason {local!r}: {hl7!r} is not an HL7 "
                                       "non-adherence reason code (config/override-reason-codes.yaml)")
            system, code = (self._hl7_system, hl7) if hl7 is not None else (OVERRIDE_SYSTEM, local)
            if any((r.system, r.code) == (system, code) for r in offered):
                raise CardContentError(f"cards/{kind}: two override reasons send the code {code!r}")
            offered.append(OverrideReason(local, system, code, entry["display"]))
        return tuple(offered)

    def _load(self, folder: Path) -> CardTemplate:
        try:
            meta = _CardYamlSchema().load(yaml.safe_load((folder / "card.yaml").read_text()) or {})
            summary = self._env.get_template(f"{folder.name}/summary.txt")
            detail = self._env.get_template(f"{folder.name}/detail.md") if (folder / "detail.md").exists() else None
            short = (self._env.get_template(f"{folder.name}/summary_short.txt")
                     if (folder / "summary_short.txt").exists() else None)
        except FileNotFoundError as exc:
            raise CardContentError(f"cards/{folder.name}: missing {Path(exc.filename).name}") from None
        except jinja2.TemplateNotFound as exc:
            raise CardContentError(f"cards/{folder.name}: missing {exc.name}") from None
        except (yaml.YAMLError, ValidationError, jinja2.TemplateSyntaxError) as exc:
            detail_msg = exc.messages if isinstance(exc, ValidationError) else exc
            raise CardContentError(f"cards/{folder.name}: {detail_msg}") from None
        try:
            source = self._source(meta["source"])
            links = tuple(self._link(link) for link in meta["links"] if "page" not in link)
            pages = tuple(link["page"] for link in meta["links"] if "page" in link)
            unknown = [p for p in pages if p not in self.explainers]
            if unknown:
                raise CardContentError(f"cards/{folder.name}: no patient page {unknown} in cards/_patient/")
        except BibliographyError as exc:
            raise CardContentError(f"cards/{folder.name}: {exc}") from None
        source["topic"] = {"system": TOPIC_SYSTEM, "code": folder.name, "display": meta["source"]["topic"]}
        reasons = self._reasons(folder.name, meta["override_reasons"])
        return CardTemplate(
            kind=folder.name,
            indicator=meta["indicator"],
            source=source,
            links=links,
            override_reasons=reasons,
            selection_behavior=meta["selection_behavior"],
            summary=summary,
            detail=detail,
            summary_short=short,
            pages=pages,
        )

    def _source(self, meta: dict) -> dict:
        if "cite" in meta:
            first = self._bibliography.get(meta["cite"][0])
            self._bibliography.label(meta["cite"])  # every key resolves
            source = {"label": self._bibliography.label(meta["cite"])}
            if first.link:
                source["url"] = first.link
            return source
        return {"label": meta["label"], **({"url": meta["url"]} if meta.get("url") else {})}

    def _link(self, meta: dict) -> dict:
        if "cite" in meta:
            src = self._bibliography.get(meta["cite"])
            if not src.link:
                raise BibliographyError(f"{src.key} has no address to link to")
            return {"label": src.short, "url": src.link, "type": meta.get("type", "absolute")}
        return {"label": meta["label"], "url": meta["url"], "type": meta["type"]}

    def render(self, spec: CardSpec, base_url: str | None = None) -> dict:
        """One CDS Hooks card for ``spec``.

        ``base_url``: the service's public URL, for links to its patient pages (absolute, as the spec
        requires); None leaves those links out.

        :raise KeyError: for a card kind with no template folder.
        :raise CardRenderError: when the context lacks a fact the template uses,
            or the summary (or, when it is too long, ``summary_short.txt``) comes out empty or over the
            spec's 140-character limit.
        """
        tpl = self._templates[spec.kind]
        try:
            summary = " ".join(visible_text(tpl.summary.render(**spec.context)).split())
            if len(summary) > SUMMARY_LIMIT and tpl.summary_short is not None:
                summary = " ".join(visible_text(tpl.summary_short.render(**spec.context)).split())
            detail = visible_text(tpl.detail.render(**spec.context)).strip() if tpl.detail else None
            if detail:
                # Templates keep blank lines around blocks for readability; Markdown needs one.
                detail = re.sub(r"\n{3,}", "\n\n", detail)
        except jinja2.UndefinedError as exc:
            raise CardRenderError(f"card {spec.kind}: {exc.message}") from None
        if not summary or len(summary) > SUMMARY_LIMIT:
            raise CardRenderError(f"card {spec.kind}: summary is {len(summary)} characters (1-{SUMMARY_LIMIT})")
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": summary,
            "indicator": self.indicator(spec),
            "source": dict(tpl.source),
        }
        if detail:
            card["detail"] = detail
        if spec.suggestions:
            card["suggestions"] = [
                {
                    "label": visible_text(s.label),
                    "uuid": str(uuid.uuid4()),
                    **({"isRecommended": True} if s.is_recommended else {}),
                    "actions": [{**a, "description": visible_text(a["description"])} if "description" in a else dict(a)
                                for a in s.actions],
                }
                for s in spec.suggestions
            ]
            card["selectionBehavior"] = tpl.selection_behavior
        if tpl.override_reasons:
            card["overrideReasons"] = [r.coding() for r in tpl.override_reasons]
        try:
            links = [dict(link) for link in tpl.links] + [self._link({"cite": key}) for key in spec.links]
        except BibliographyError as exc:
            raise CardRenderError(f"card {spec.kind}: {exc}") from None
        if base_url:
            links += [self.explainers.get(page).link(base_url, spec.context) for page in tpl.pages]
        links = list({link["url"]: link for link in links}.values())  # a rule's link may repeat the kind's
        if links:
            card["links"] = links
        if spec.reasons:
            card["extension"] = {REASONS_EXTENSION: list(spec.reasons)}
        return card


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!])")
#: Bare URLs that GitHub-flavoured renderers would turn into links.
_MD_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=\bwww)(\.)")
#: The "@" of an e-mail address. Backslash escapes do not stop cmark-gfm's autolink extension (it
#: reads the text after escapes are resolved, so "a\@b.org" still becomes a mailto: link): the
#: address gets the fullwidth commercial at U+FF20 instead, which reads the same and links nowhere.
_MD_EMAIL_AT = re.compile(r"(?<=[A-Za-z0-9._%+\-])@(?=[A-Za-z0-9\-])")
#: A dot inside a name ("example.org", "evil.co/path"): linkify-style renderers link bare domains;
#: an escaped dot renders as a dot and breaks the domain for them (decimals such as 3.5 are left alone).
_MD_DOMAIN_DOT = re.compile(r"(?<=[A-Za-z0-9\-])\.(?=[A-Za-z])")


#: Characters that change how text is shown without being seen: bidirectional overrides and isolates
#: (U+202A-202E, U+2066-2069), marks (U+200E, U+200F, U+061C), zero-width characters, and C0/C1
#: controls other than newline and tab. Record text carrying them could make a card read differently
#: from what it says ("display spoofing"), so they never reach a card.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\u2028\u2029\ufeff"
                        "\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible_text(text: str) -> str:
    return _INVISIBLE.sub("", text)


def markdown_text(text: object) -> str:
    """``text`` as literal Markdown inline text: one line, every special character escaped."""
    text = " ".join(str(text).split())  # a newline could start a heading or a list
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_EMAIL_AT.sub("\uff20", text)
    text = _MD_DOMAIN_DOT.sub(r"\\.", text)
    if re.match(r"\d+[.)](\s|$)", text):  # "1. text" would start an ordered list: escape its dot
        return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    return re.sub(r"^([-+])(?=\s|$)", r"\\\1", text)


_PHRASE_END = re.compile(r"[,;:]\s|\s(?:with|and|or|at|of|to|from|in)\s")


def _shorten(text: str, width: int = 60) -> str:
    """Free text from the record, shortened to ``width`` at the end of a phrase (a comma, "with", "and")
    when one falls in its last half, else at a word: never mid-word."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    room = text[: width - 1]
    ends = [m.start() for m in _PHRASE_END.finditer(room + " ") if m.start() >= width // 2]
    cut = ends[-1] if ends else (room.rfind(" ") if room.rfind(" ") > width // 3 else width - 1)
    return room[:cut].rstrip(" ,;:") + "…"


def sort_cards(cards: list[dict]) -> list[dict]:
    """critical > warning > info; the rules' order is kept within an indicator."""
    return sorted(cards, key=lambda c: INDICATOR_RANK[c["indicator"]])
