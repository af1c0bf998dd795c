"""Service settings: defaults < ``config/settings.yaml`` < ``CDS_*`` environment < keyword overrides.

One frozen pydantic-settings model holds every setting. Each field's name is its YAML key; its
environment variable is ``CDS_`` + the name in upper case. Every field has a type and bounds, so a
bad value stops start-up with one line per bad setting naming where it came from (the
environment variable, or the YAML file and key), never later in a request. Secrets are
:class:`~pydantic.SecretStr`: their value never appears in ``repr``, logs or error messages;
callers read it with ``.get_secret_value()``.

``Settings.load()`` reads the sources (YAML file, environment); ``Settings(**values)`` is the
defaults plus ``values`` only (tests, and a copy with changes: :meth:`Settings.replace`), with the
same checks.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Callable, ClassVar, Literal, Mapping

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def normalize_base_url(url: object) -> str | None:
    from .fhir.access import normalize_base_url as normalize  # here: cds_service.fhir imports this module

    return normalize(url)

#: The repository root: ``hooks/``, ``cards/`` and ``config/`` live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_YAML = PROJECT_ROOT / "config" / "settings.yaml"
ENV_PREFIX = "CDS_"


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each (its variable, or its YAML file and key).

    ``problems`` holds one line per bad setting.
    """

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


# --- conversions of the environment's text (and YAML's loose forms) --------------------------


def _csv(value: Any) -> Any:
    """A comma-separated text (environment, YAML) or a list: a tuple of stripped, non-empty items."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(v.strip() if isinstance(v, str) else v for v in value if not isinstance(v, str) or v.strip())
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value  # anything else: the type check says what is wrong


def _json_object(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be a JSON object (not JSON: {exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


def _blank_is_false(value: Any) -> Any:
    return False if isinstance(value, str) and not value.strip() else value


def _log_level(value: Any) -> Any:
    names = LogLevel.__args__
    name = value.strip().upper() if isinstance(value, str) else value
    if name not in names:
        raise ValueError(f"must be one of {', '.join(names)}")
    return name


LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
Flag = Annotated[bool, BeforeValidator(_blank_is_false)]
TextList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv)]
JsonObject = Annotated[dict[str, Any], NoDecode, BeforeValidator(_json_object)]
#: Asymmetric JWS algorithms; `none` and HMAC (shared secrets) are never accepted (security/client_jwt.py).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)

GIB = 1024 ** 3
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: A host name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def _between(default: Any, low: float, high: float, *, above: bool = False) -> Any:
    """A field from ``low`` (excluded when ``above``) to ``high``, both included otherwise."""
    return Field(default, gt=low, le=high) if above else Field(default, ge=low, le=high)


#: The sources of the load under way (contextvar: one per thread); None: init values only.
_SOURCES: ContextVar[tuple[PydanticBaseSettingsSource, ...] | None] = ContextVar("cds_settings_sources", default=None)
#: Where each value of the load under way came from: field name -> "CDS_PORT", "file: key port".
_ORIGINS: ContextVar[Callable[[str], str | None] | None] = ContextVar("cds_settings_origins", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """``CDS_*`` variables from a mapping given to :meth:`Settings.load` (tests) instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The one method EnvSettingsSource reads the process environment with (pydantic-settings 2.x);
        # names lower-cased as it does without case_sensitive. tests/test_settings.py checks both paths.
        return {key.lower(): value for key, value in self._environ.items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        frozen=True,
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,  # a pydantic error that escapes never shows a value
    )

    # --- gunicorn, read by `cds-service serve` -------------------------------
    #: Bind address: an IP address or a host name.
    host: str = "127.0.0.1"
    port: int = _between(8080, 1, 65535)
    workers: int = _between(2, 1, 128)
    #: Request threads per worker (ops/worker.py); 1: one call at a time each (CPU-bound work;
    #: see docs/operations.md). Slow clients take no thread whatever this is.
    threads: int = _between(1, 1, 64)
    timeout: int = _between(30, 1, 3600)
    graceful_timeout: int = _between(10, 1, 3600)
    #: 0: close the connection after each answer.
    keepalive: int = _between(5, 0, 300)
    #: Seconds a client has to send a whole request (head and body) once it has connected (or, on a
    #: kept-alive connection, once it has begun); then the connection is closed (408). No thread waits.
    request_read_timeout: float = _between(10.0, 0, 300, above=True)

    # --- HTTP edge ------------------------------------------------------------
    #: 4 MiB (10 MiB until issue 20, goal 3): the largest body a call may spend CPU on stays under
    #: ~300 ms of it (bench/bounded_cost.py); the heavy bench patient's full prefetch is 2.6 MB.
    max_body_bytes: int = _between(4 * 1024 * 1024, 1, GIB)
    #: Origins whose pages may call the hooks from a browser (CORS); empty: none. ``*`` (any
    #: page, answered with a literal ``*``, never the caller's origin) is for local demos (`make run`).
    cors_origins: TextList = ()
    #: Answer Chrome's Private Network Access preflight, so a public page (the CDS
    #: Hooks sandbox) may call a service on localhost. Local demos only.
    cors_allow_private_network: Flag = False
    log_level: Annotated[LogLevel, BeforeValidator(_log_level)] = "INFO"

    # --- work per call: over a limit, 413 naming it -------------------
    #: Draft orders (and order-select selections) in one call.
    max_draft_orders: int = _between(50, 1, 10_000)
    #: Resources in one prefetch key's Bundle.
    max_prefetch_resources_per_key: int = _between(2000, 1, 1_000_000)
    #: Characters of DiagnosticReport text (conclusion and attachments) in one call's record.
    max_report_text_chars: int = _between(2_000_000, 1, GIB)
    #: Cards in one response (the most urgent first); the service's rule is a few cards.
    max_cards: int = _between(5, 1, 100)

    # --- content: service definitions, card templates, value sets --------------
    #: An existing folder.
    content_dir: Path = PROJECT_ROOT
    #: Characters of free text whose readings each worker keeps in memory (reading/memo.py); 0: off.
    text_cache_chars: int = _between(2_000_000, 0, GIB)
    #: Also keep readings of free text (reports, notes, typed labels: patient data) across calls, not
    #: only of code-system wording; off by default (PHI in the worker's memory).
    text_cache_patient_text: Flag = False

    # --- FHIR access --------------------------------------------------
    #: Base URLs a token may be sent to; a fhirServer outside it gets no request.
    #: Matched exactly after normalisation (scheme and host case, default port,
    #: trailing slash), so a fhirServer on another path of an allowed host is refused.
    allowed_fhir_servers: TextList = ()
    #: Accept plain http:// FHIR servers outside loopback (the spec requires TLS); a warning
    #: is logged at start-up. Off: such an allowlist entry stops start-up.
    allow_plain_http_fhir: Flag = False
    fhir_connect_timeout: float = _between(0.2, 0, 30, above=True)
    fhir_read_timeout: float = _between(0.35, 0, 60, above=True)
    #: Wall-clock budget for all FHIR queries of one hook call, in seconds.
    fhir_budget_seconds: float = _between(0.4, 0, 60, above=True)
    #: Searchset pages read per query (the first page included).
    fhir_max_pages: int = _between(5, 1, 100)
    #: Extra attempts after a connection error or 502/503/504 (GETs only); 0 disables.
    fhir_max_retries: int = _between(1, 0, 5)
    #: Queries of one hook call run at the same time at most.
    fhir_max_parallel: int = _between(8, 1, 64)
    #: A FHIR response body larger than this (decoded) is dropped as a gap.
    fhir_max_response_bytes: int = _between(20 * 1024 * 1024, 1, GIB)
    #: Bytes all FHIR responses of one hook call may total (counted while streaming); past it
    #: the query stops and its key is a data gap (call-byte-budget). 4 MiB, as max_body_bytes: a
    #: fetched record costs what a prefetched one of its size does (bench/README.md, "Bounded cost").
    fhir_call_max_bytes: int = _between(4 * 1024 * 1024, 1, GIB)
    #: Bundle entries all FHIR responses of one hook call may total (call-entry-budget past it).
    fhir_call_max_entries: int = _between(5000, 1, 10_000_000)

    # --- security ----------------------------------------------------
    #: Local demos only: accept calls without a JWT (logs a warning on every call).
    auth_disabled: Flag = False
    #: Also require a JWT on GET /cds-services (the spec says every call).
    auth_discovery: Flag = False
    #: JSON object: issuer -> JWKS URL, or issuer -> {"jwks_url": ..., "jku_allowlist": [...]}
    #: (its entries are checked by security/issuers.py, which also reads jwks_file).
    trusted_issuers: JsonObject = Field(default_factory=dict)
    #: The base URL(s) clients call, comma-separated: the expected ``aud`` is one of them +
    #: the request path. Required while JWT checks are on: ``aud`` never comes from the request.
    public_base_url: str = ""
    #: Addresses (or CIDR networks) of proxies whose X-Forwarded-* headers gunicorn honours
    #: (scheme, client address); empty: none. They never make the expected ``aud``.
    trusted_proxy_ips: TextList = ()
    #: Accepted JWT algorithms; only asymmetric ones are allowed here.
    jwt_algorithms: TextList = (
        "ES384", "RS384", "ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512",
    )
    jwt_clock_skew_seconds: int = _between(60, 0, 300)
    #: Longest accepted exp - iat; bounds replay-cache size and stolen-token use.
    jwt_max_lifetime_seconds: int = _between(3600, 1, 86400)
    jwks_connect_timeout: float = _between(0.5, 0, 30, above=True)
    #: Also the budget for the whole body download (a slow server is cut off).
    jwks_read_timeout: float = _between(1.0, 0, 60, above=True)
    #: A fetched JWK Set is used without re-fetching for this long (0: fetched for every call).
    jwks_cache_ttl_seconds: int = _between(300, 0, 86400)
    #: When the JWKS URL fails, a cached set this old is still used.
    jwks_max_stale_seconds: int = _between(3600, 0, 7 * 86400)
    #: Fewest seconds between two fetches of one URL forced by an unknown kid.
    jwks_refresh_min_interval_seconds: int = _between(30, 1, 3600)
    #: After a failed fetch no new try for this long, doubling up to the max.
    jwks_failure_backoff_seconds: float = _between(5.0, 0, 3600, above=True)
    jwks_failure_backoff_max_seconds: float = _between(120.0, 0, 86400, above=True)
    #: SQLite file shared by all workers on this host (jti replay cache);
    #: a relative path is taken from content_dir.
    replay_cache_path: Path = Path("var/replay-cache.sqlite3")
    replay_cache_busy_timeout: float = _between(1.0, 0, 60, above=True)
    #: Request bodies nested deeper than this are refused with 400 (deeper than a few hundred levels,
    #: Python code walking the body could hit its recursion limit).
    json_max_depth: int = _between(64, 1, 256)

    # --- feedback store and operations ---------------------------------
    #: Embedded store (SQLite, WAL): issued cards and feedback, shared by the
    #: workers of one host; a relative path is taken from content_dir.
    store_path: Path = Path("var/cds-store.sqlite3")
    #: PostgreSQL URL (postgresql://user:password@host:5432/db) for several
    #: replicas; when set, store_path is unused and the JWT replay cache moves
    #: there too. A secret: give it from a Secret, never in settings.yaml.
    store_database_url: SecretStr = SecretStr("")
    #: Longest wait of one store operation (SQLite lock, PostgreSQL statement,
    #: pool checkout); a hook call then goes on without suppression or recording.
    store_timeout_seconds: float = _between(1.0, 0, 60, above=True)
    #: Issued cards and feedback older than this many days are deleted by the service itself
    #: (each worker, about hourly); 0 keeps them for ever. At least the suppression window.
    store_retention_days: int = _between(400, 0, 36_500)
    #: PostgreSQL connections per worker process, at most.
    store_pool_size: int = _between(4, 1, 100)
    #: HMAC key for the patient hashes of issued cards. A secret, at least 16 characters; empty: a
    #: random key generated once and kept in the store (then the store alone can be matched against
    #: candidate patient ids). Changing it ends suppressions.
    patient_hash_key: SecretStr = SecretStr("")
    #: Serve Prometheus metrics at GET /metrics (no JWT: keep it off unless the port is
    #: reachable by the scraper only; `make run` and deploy/ turn it on).
    metrics_enabled: Flag = False
    #: One JSON object per log line on stderr (false: plain text lines).
    log_json: Flag = True

    # --- demo patients -------------------------------------------------
    #: Serve the synthetic demo patients and their ready hook requests under
    #: /demo (no JWT: the data is invented). Local demos and integration tests.
    demo_enabled: Flag = False

    # --- card console ----------------------------------------------------
    #: Serve the browser console at GET / (static page, no JWT; its hook calls
    #: go to the public endpoints and get 401 unless auth is off or a JWT is given).
    #: Off by default (public by default is not a production default); `make run` turns it on.
    console_enabled: Flag = False

    # --- patient explainers -------------------------------------------------
    #: Serve the patient pages of cards/_patient/ at GET /patient/<name> (no patient data, no JWT), and
    #: link the EMG/NCS cards to them. On by default: the cards link to them.
    explainer_enabled: Flag = True

    #: Settings that hold secrets (a database password, a hash key): never printed.
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("store_database_url", "patient_hash_key")

    # --- checks of one field -----------------------------------------------------------

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.match(value):
                raise ValueError("must be an IP address or a host name") from None
        return value

    @field_validator("content_dir", "store_path", "replay_cache_path", mode="before")
    @classmethod
    def _path_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must be a path")
        return value

    @field_validator("content_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError("must be an existing folder")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            base = normalize_base_url(origin) if origin != "*" else "*"
            if base is None or (base != "*" and base.count("/") > 2):
                raise ValueError(f"not * or an origin (scheme://host[:port]): {origin!r}")
        return value

    @field_validator("allowed_fhir_servers")
    @classmethod
    def _fhir_bases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [entry for entry in value if normalize_base_url(entry) is None]
        if bad:
            raise ValueError(f"not base URLs (http(s)://host[:port]/path, no query or credentials): {bad}")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _public_bases(cls, value: str) -> str:
        for base in _csv(value):
            if normalize_base_url(base) is None or "?" in base or "#" in base:
                raise ValueError("absolute http(s) URLs, comma-separated, no query, fragment or credentials")
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not value:
            raise ValueError(f"only asymmetric algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) are accepted; "
                             f"not: {', '.join(bad) or 'an empty list'}")
        return value

    @field_validator("trusted_proxy_ips")
    @classmethod
    def _proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {entry!r}") from None
        return value

    @field_validator("store_database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value().strip()
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")  # never the value: it holds a password
        return SecretStr(url)

    @field_validator("patient_hash_key")
    @classmethod
    def _hash_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key and (len(key) < 16 or key != key.strip()):
            raise ValueError("must be at least 16 characters, without surrounding spaces (or empty)")
        return value

    # --- checks of several fields ----------------------------------------------------------

    @model_validator(mode="after")
    def _together(self) -> "Settings":
        if self.jwks_failure_backoff_max_seconds < self.jwks_failure_backoff_seconds:
            raise ValueError(
                "jwks_failure_backoff_max_seconds (CDS_JWKS_FAILURE_BACKOFF_MAX_SECONDS) must be at least "
                "jwks_failure_backoff_seconds (CDS_JWKS_FAILURE_BACKOFF_SECONDS)")
        return self

    # --- sources ---------------------------------------------------------------------------

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword values first (they win), then what load() reads: CDS_* environment, then the YAML file.
        return (init_settings, *(_SOURCES.get() or ()))

    def __init__(self, **values: Any):
        try:
            super().__init__(**values)
        except ValidationError as exc:
            origins = _ORIGINS.get()
            raise SettingsError(*_problems(exc, lambda name: _origin(name, values, origins))) from None

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        yaml_path: Path | str | None = None,
        **overrides: Any,
    ) -> "Settings":
        """Build settings: defaults < the YAML file < ``CDS_*`` variables of ``env`` < ``overrides``.

        ``env`` is ``os.environ`` unless given; the YAML file is ``yaml_path``, else the one named by
        ``CDS_CONFIG_FILE``, else ``config/settings.yaml`` (a ``yaml_path`` that does not exist: none).

        :raise SettingsError: one line per unknown YAML key or bad value, naming the variable or the
            file and key; a secret's value is never in it.
        """
        environ = os.environ if env is None else env
        if yaml_path is None:
            named = environ.get("CDS_CONFIG_FILE")
            if named and not Path(named).is_file():
                raise SettingsError(f"CDS_CONFIG_FILE: no such file: {named}")
            yaml_path = Path(named) if named else DEFAULT_YAML
        yaml_path = Path(yaml_path)
        env_source = EnvSettingsSource(cls) if env is None else _MappingEnvSource(cls, environ)
        sources: list[PydanticBaseSettingsSource] = [env_source]
        yaml_data: dict[str, Any] = {}
        if yaml_path.is_file():
            yaml_source = _yaml_source(cls, yaml_path)
            yaml_data = yaml_source.yaml_data
            sources.append(yaml_source)

        def origin(name: str) -> str | None:
            if name in env_source():
                return f"{ENV_PREFIX}{name.upper()}"
            if name in yaml_data:
                return f"{yaml_path}: key {name}"
            return None

        tokens = (_SOURCES.set(tuple(sources)), _ORIGINS.set(origin))
        try:
            return cls(**overrides)
        finally:
            _ORIGINS.reset(tokens[1])
            _SOURCES.reset(tokens[0])

    # --- use -------------------------------------------------------------------------------

    @property
    def public_base_urls(self) -> tuple[str, ...]:
        """The accepted base URLs of ``public_base_url`` (comma-separated), trailing ``/`` dropped."""
        return tuple(base.rstrip("/") for base in _csv(self.public_base_url))

    @property
    def hooks_dir(self) -> Path:
        return self.content_dir / "hooks"

    @property
    def cards_dir(self) -> Path:
        return self.content_dir / "cards"

    @property
    def valuesets_dir(self) -> Path:
        return self.content_dir / "config" / "valuesets"

    @property
    def demo_dir(self) -> Path:
        return self.content_dir / "demo"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with ``changes``, checked like any other settings (frozen: never changed in place)."""
        return type(self)(**{**{name: getattr(self, name) for name in type(self).model_fields}, **changes})

    def public_summary(self) -> dict[str, Any]:
        """Settings safe to print: secrets are masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            out[name] = str(value) if isinstance(value, Path) else value
        return out


def _yaml_source(cls: type[BaseSettings], path: Path) -> YamlConfigSettingsSource:
    try:
        source = YamlConfigSettingsSource(cls, yaml_file=path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"{path}: not valid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError:
        raise SettingsError(f"{path}: not valid YAML") from None
    except (AttributeError, TypeError, ValueError):
        raise SettingsError(f"{path}: expected a mapping of settings (key: value)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(source.yaml_data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings (key: value)")
    return source


def _origin(name: str, values: Mapping[str, Any], loaded: Callable[[str], str | None] | None) -> str:
    """Where the value of ``name`` came from, as the error's first words."""
    var = f"{ENV_PREFIX}{name.upper()}"
    if name not in values and loaded is not None:
        found = loaded(name)
        if found:
            return found
    return f"setting {name} ({var})"


def _bound_text(name: str) -> str | None:
    field = Settings.model_fields.get(name)
    if field is None:
        return None
    bounds = {type(m): m for m in field.metadata if isinstance(m, (Ge, Gt, Le, Lt))}
    low, high = bounds.get(Ge), bounds.get(Le)
    if low is not None and high is not None:
        return f"must be between {low.ge} and {high.le}"
    if bounds.get(Gt) is not None and high is not None:
        return f"must be more than {bounds[Gt].gt} and at most {high.le}"
    if low is not None:
        return f"must be at least {low.ge}"
    return None


_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "path_type": "must be a path",
    "tuple_type": "must be a list (comma-separated in the environment)",
    "dict_type": "must be a mapping (a JSON object in the environment)",
    "too_short": "must not be empty",
    "extra_forbidden": "unknown setting",
    "finite_number": "must be a finite number",
}


_LISTS = frozenset(name for name, f in Settings.model_fields.items() if f.annotation == tuple[str, ...])


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) and value.strip() else repr(value)  # '' and '  ' quoted
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(exc: ValidationError, origin: Callable[[str], str]) -> list[str]:
    """One line per bad setting: where it came from, what is wrong, and the value unless a secret."""
    lines: list[str] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        if name in seen:
            continue
        seen.add(name)
        kind = error["type"]
        if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            what = _bound_text(name) or error["msg"]
        elif kind == "literal_error":
            what = f"must be one of {error['ctx']['expected'].replace(' or ', ', ')}".replace("'", "")
        elif kind == "value_error":
            what = str(error["ctx"]["error"])
        else:
            what = _MESSAGES.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
        if len(loc) > 1 and kind != "extra_forbidden":
            what = f"item {loc[1]}: {what}"
        if not name:  # a check of several fields: its message names them
            lines.append(f"settings: {what}")
            continue
        secret = name in Settings.SECRET_FIELDS or name not in Settings.model_fields
        # A list's check names its bad items itself.
        hide = secret or "input" not in error or (kind == "value_error" and name in _LISTS)
        got = "" if hide else f" (got {_shown(error['input'])})"
        lines.append(f"{origin(name)}: {what}{got}")
    return lines
