"""Service settings: defaults < ``config/settings.yaml`` < ``CDS_*`` environment.

One frozen dataclass holds every setting. Each field's name is its YAML key;
its environment variable is ``CDS_`` + the name in upper case. Values are
converted by the field's type, so a bad value fails at start-up with the
variable's name in the message, never later in a request.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

#: The repository root: ``hooks/``, ``cards/`` and ``config/`` live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


def _csv(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _json_object(value: Any) -> dict:
    if isinstance(value, dict):
        return dict(value)
    if value in (None, ""):
        return {}
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("expected a JSON object")
    return parsed


_CONVERTERS = {
    "int": int,
    "float": float,
    "str": str,
    "bool": _bool,
    "tuple[str, ...]": _csv,
    "dict": _json_object,
    "Path": Path,
}


@dataclass(frozen=True)
class Settings:
    # --- gunicorn, read by `cds-service serve` -------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    #: Request threads per worker (ops/worker.py); 1: one call at a time each (CPU-bound work;
    #: see docs/operations.md). Slow clients take no thread whatever this is.
    threads: int = 1
    timeout: int = 30
    graceful_timeout: int = 10
    keepalive: int = 5
    #: Seconds a client has to send a whole request (head and body) once it has connected (or, on a
    #: kept-alive connection, once it has begun); then the connection is closed (408). No thread waits.
    request_read_timeout: float = 10.0

    # --- HTTP edge ------------------------------------------------------------
    max_body_bytes: int = 10 * 1024 * 1024
    #: Origins whose pages may call the hooks from a browser (CORS); empty: none. ``*`` (any
    #: page, answered with a literal ``*``, never the caller's origin) is for local demos (`make run`).
    cors_origins: tuple[str, ...] = ()
    #: Answer Chrome's Private Network Access preflight, so a public page (the CDS
    #: Hooks sandbox) may call a service on localhost. Local demos only.
    cors_allow_private_network: bool = False
    log_level: str = "INFO"

    # --- work per call (issue 17): over a limit, 413 naming it -------------------
    #: Draft orders (and order-select selections) in one call.
    max_draft_orders: int = 50
    #: Resources in one prefetch key's Bundle.
    max_prefetch_resources_per_key: int = 2000
    #: Characters of DiagnosticReport text (conclusion and attachments) in one call's record.
    max_report_text_chars: int = 2_000_000
    #: Cards in one response (the most urgent first); the service's rule is a few cards.
    max_cards: int = 5

    # --- content: service definitions, card templates, value sets --------------
    content_dir: Path = PROJECT_ROOT
    #: Characters of free text whose readings each worker keeps in memory (reading/memo.py); 0: off.
    text_cache_chars: int = 2_000_000

    # --- FHIR access (issue 3) --------------------------------------------------
    #: Base URLs a token may be sent to; a fhirServer outside it gets no request.
    #: Matched exactly after normalisation (scheme and host case, default port,
    #: trailing slash), so a fhirServer on another path of an allowed host is refused.
    allowed_fhir_servers: tuple[str, ...] = ()
    #: Accept plain http:// FHIR servers outside loopback (the spec requires TLS); a warning
    #: is logged at start-up. Off: such an allowlist entry stops start-up.
    allow_plain_http_fhir: bool = False
    fhir_connect_timeout: float = 0.2
    fhir_read_timeout: float = 0.35
    #: Wall-clock budget for all FHIR queries of one hook call, in seconds.
    fhir_budget_seconds: float = 0.4
    #: Searchset pages read per query (the first page included).
    fhir_max_pages: int = 5
    #: Extra attempts after a connection error or 502/503/504 (GETs only); 0 disables.
    fhir_max_retries: int = 1
    #: Queries of one hook call run at the same time at most.
    fhir_max_parallel: int = 8
    #: A FHIR response body larger than this (decoded) is dropped as a gap.
    fhir_max_response_bytes: int = 20 * 1024 * 1024
    #: Bytes all FHIR responses of one hook call may total (counted while streaming); past it
    #: the query stops and its key is a data gap (call-byte-budget).
    fhir_call_max_bytes: int = 8 * 1024 * 1024
    #: Bundle entries all FHIR responses of one hook call may total (call-entry-budget past it).
    fhir_call_max_entries: int = 5000

    # --- security (issue 6) ----------------------------------------------------
    #: Local demos only: accept calls without a JWT (logs a warning on every call).
    auth_disabled: bool = False
    #: Also require a JWT on GET /cds-services (the spec says every call).
    auth_discovery: bool = False
    #: JSON object: issuer -> JWKS URL, or issuer -> {"jwks_url": ..., "jku_allowlist": [...]}.
    trusted_issuers: dict = field(default_factory=dict)
    #: The base URL(s) clients call, comma-separated: the expected ``aud`` is one of them +
    #: the request path. Required while JWT checks are on: ``aud`` never comes from the request.
    public_base_url: str = ""
    #: Addresses (or CIDR networks) of proxies whose X-Forwarded-* headers gunicorn honours
    #: (scheme, client address); empty: none. They never make the expected ``aud``.
    trusted_proxy_ips: tuple[str, ...] = ()
    #: Accepted JWT algorithms; only asymmetric ones are allowed here.
    jwt_algorithms: tuple[str, ...] = (
        "ES384", "RS384", "ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512",
    )
    jwt_clock_skew_seconds: int = 60
    #: Longest accepted exp - iat; bounds replay-cache size and stolen-token use.
    jwt_max_lifetime_seconds: int = 3600
    jwks_connect_timeout: float = 0.5
    #: Also the budget for the whole body download (a slow server is cut off).
    jwks_read_timeout: float = 1.0
    #: A fetched JWK Set is used without re-fetching for this long.
    jwks_cache_ttl_seconds: int = 300
    #: When the JWKS URL fails, a cached set this old is still used.
    jwks_max_stale_seconds: int = 3600
    #: Fewest seconds between two fetches of one URL forced by an unknown kid.
    jwks_refresh_min_interval_seconds: int = 30
    #: After a failed fetch no new try for this long, doubling up to the max.
    jwks_failure_backoff_seconds: float = 5.0
    jwks_failure_backoff_max_seconds: float = 120.0
    #: SQLite file shared by all workers on this host (jti replay cache);
    #: a relative path is taken from content_dir.
    replay_cache_path: Path = Path("var/replay-cache.sqlite3")
    replay_cache_busy_timeout: float = 1.0
    #: Request bodies nested deeper than this are refused with 400.
    json_max_depth: int = 64

    # --- feedback store and operations (issue 7) ---------------------------------
    #: Embedded store (SQLite, WAL): issued cards and feedback, shared by the
    #: workers of one host; a relative path is taken from content_dir.
    store_path: Path = Path("var/cds-store.sqlite3")
    #: PostgreSQL URL (postgresql://user:password@host:5432/db) for several
    #: replicas; when set, store_path is unused and the JWT replay cache moves
    #: there too. A secret: give it from a Secret, never in settings.yaml.
    store_database_url: str = ""
    #: Longest wait of one store operation (SQLite lock, PostgreSQL statement,
    #: pool checkout); a hook call then goes on without suppression or recording.
    store_timeout_seconds: float = 1.0
    #: Issued cards and feedback older than this many days are deleted by the service itself
    #: (each worker, about hourly); 0 keeps them for ever. At least the suppression window.
    store_retention_days: int = 400
    #: PostgreSQL connections per worker process, at most.
    store_pool_size: int = 4
    #: HMAC key for the patient hashes of issued cards. A secret; empty: a random
    #: key generated once and kept in the store (then the store alone can be
    #: matched against candidate patient ids). Changing it ends suppressions.
    patient_hash_key: str = ""
    #: Serve Prometheus metrics at GET /metrics (no JWT: keep it off unless the port is
    #: reachable by the scraper only; `make run` and deploy/ turn it on).
    metrics_enabled: bool = False
    #: One JSON object per log line on stderr (false: plain text lines).
    log_json: bool = True

    # --- demo patients (issue 8) -------------------------------------------------
    #: Serve the synthetic demo patients and their ready hook requests under
    #: /demo (no JWT: the data is invented). Local demos and integration tests.
    demo_enabled: bool = False

    # --- card console (issue 8) ----------------------------------------------------
    #: Serve the browser console at GET / (static page, no JWT; its hook calls
    #: go to the public endpoints and get 401 unless auth is off or a JWT is given).
    #: Off by default (public by default is not a production default); `make run` turns it on.
    console_enabled: bool = False

    # --- patient explainers (issue 18) -------------------------------------------------
    #: Serve the patient pages of cards/_patient/ at GET /patient/<name> (no patient data, no JWT), and
    #: link the EMG/NCS cards to them. On by default: the cards link to them.
    explainer_enabled: bool = True

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

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        yaml_path: Path | None = None,
        **overrides: Any,
    ) -> "Settings":
        """Build settings from the YAML file, then ``CDS_*`` variables, then ``overrides``.

        :raise SettingsError: on an unknown YAML key or a value that does not convert.
        """
        env = os.environ if env is None else env
        if yaml_path is None:
            yaml_path = Path(env.get("CDS_CONFIG_FILE", PROJECT_ROOT / "config" / "settings.yaml"))
        values: dict[str, Any] = {}
        if yaml_path and Path(yaml_path).is_file():
            loaded = yaml.safe_load(Path(yaml_path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise SettingsError(f"{yaml_path}: expected a mapping of settings")
            values.update(loaded)
        known = {f.name for f in dataclasses.fields(cls)}
        for name in known:
            var = f"CDS_{name.upper()}"
            if var in env:
                values[name] = env[var]
        values.update(overrides)
        unknown = set(values) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**{name: _convert(cls, name, value) for name, value in values.items()})

    #: Settings that hold secrets (a database password, a hash key): never printed.
    SECRET_FIELDS = ("store_database_url", "patient_hash_key")

    def public_summary(self) -> dict[str, Any]:
        """Settings safe to print: secrets are masked."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.SECRET_FIELDS and value:
                value = "***"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def _convert(cls: type, name: str, value: Any) -> Any:
    type_name = next(f.type for f in dataclasses.fields(cls) if f.name == name)
    type_name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    converter = _CONVERTERS.get(type_name.replace("typing.", ""))
    if converter is None:
        return value
    try:
        return converter(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name} (CDS_{name.upper()}): {exc}") from None
