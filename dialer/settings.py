"""Typed, frozen settings read from ``dialer.toml``.

The environment is read here and nowhere else: ``DIALER_CONFIG`` names the
settings file (default ``./dialer.toml``). Relative paths in the file are
resolved against the file's own directory, so a district can keep the whole
installation in one folder. Secrets are never in this file: the AMI secret and
the store key live in their own files, which must be mode 0600 (C18).
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dialer.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("dialer.toml")
ENV_CONFIG = "DIALER_CONFIG"

DEFAULT_AMI_PORT = 5038
DEFAULT_AGI_PORT = 4573
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8080
#: the name of the one Asterisk server of a plain ``[asterisk]`` section
DEFAULT_SERVER_NAME = "default"
MAX_SERVER_CHANNELS = 100_000
#: seconds between two progress lines per running campaign in the service's log
DEFAULT_PROGRESS_SECONDS = 5.0
#: issue 14: which campaigns need a second operator's approval before they start
APPROVAL_MODES = ("non-emergency", "all", "none")
DEFAULT_APPROVAL = "non-emergency"


@dataclass(frozen=True)
class OrganisationSettings:
    name: str = "Example School District"
    #: the organisation's own time zone: fallback when a number maps to no zone (C12)
    timezone: str = "America/New_York"
    #: region used to read numbers written without a country code
    default_region: str = "US"
    #: number spoken in every message for callbacks (C11); never the dialer's own line
    callback_number: str = ""
    #: the inbound opt-out hotline (C5, C11 voicemail version)
    hotline_number: str = ""


@dataclass(frozen=True)
class StoreSettings:
    path: Path = Path("dialer.db")
    key_file: Path = Path("dialer.key")


@dataclass(frozen=True)
class AsteriskServer:
    """One Asterisk PBX the engine places calls through (``[[asterisk.servers]]``).

    Keys left out of an entry take the value of the ``[asterisk]`` section.
    """

    name: str = DEFAULT_SERVER_NAME
    ami_host: str = "127.0.0.1"
    ami_port: int = DEFAULT_AMI_PORT
    ami_user: str = "dialer"
    ami_secret_file: Path = Path("secrets/ami.secret")
    dial_string: str = "PJSIP/{e164}@trunk"
    dial_via_dialplan: bool = False
    #: calls at once on this server (its trunk's channels); 0 in code: no own limit
    max_channels: int = 0
    ami_tls: bool = False
    ami_tls_ca_file: Path = Path("ami-ca.pem")
    ami_tls_server_name: str = ""

    @property
    def where(self) -> str:
        return f"{self.ami_host}:{self.ami_port}"


@dataclass(frozen=True)
class AsteriskSettings:
    ami_host: str = "127.0.0.1"
    ami_port: int = DEFAULT_AMI_PORT
    ami_user: str = "dialer"
    ami_secret_file: Path = Path("secrets/ami.secret")
    #: AMI over TLS (manager.conf ``tlsenable``), for an engine on another host:
    #: ``ami_port`` is then Asterisk's TLS port, and Asterisk's certificate must
    #: verify against ``ami_tls_ca_file`` (the CA that signed it, or the
    #: self-signed certificate itself) for the name ``ami_tls_server_name``
    #: (default: ``ami_host``). Nothing is sent before it verifies.
    ami_tls: bool = False
    ami_tls_ca_file: Path = Path("ami-ca.pem")
    ami_tls_server_name: str = ""
    #: the callee's channel; ``{e164}`` (+12025550123) and ``{digits}``
    #: (12025550123) are filled in. The engine originates it directly into
    #: ``answered_context`` (one channel per call, issue #11).
    dial_string: str = "PJSIP/{e164}@trunk"
    #: true: originate ``Local/dial@<originate_context>`` instead, whose dialplan
    #: ``Dial()``s the dial string (two more channels per call, about 60% more
    #: Asterisk CPU); only for a channel type that cannot be originated directly
    dial_via_dialplan: bool = False
    originate_context: str = "dialer-outbound"
    answered_context: str = "dialer-answered"
    ring_timeout: int = 30
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    #: an idle AMI link is pinged this often; no answer within ``action_timeout``
    #: means a dead peer (a hung Asterisk or a dropped route closes no socket)
    heartbeat_seconds: float = 10.0
    #: several PBXs (``[[asterisk.servers]]``); empty: the one server above
    servers: tuple[AsteriskServer, ...] = ()


@dataclass(frozen=True)
class AgiSettings:
    #: where the engine's FastAGI server listens; Asterisk connects here
    host: str = "127.0.0.1"
    port: int = DEFAULT_AGI_PORT
    #: address Asterisk uses to reach us (differs from ``host`` behind NAT)
    advertise: str = ""
    #: FastAGI connections allowed at once; past it new ones are closed at once
    #: (0: engine.max_concurrent plus headroom, see telephony.fastagi.session_cap)
    max_sessions: int = 0


@dataclass(frozen=True)
class HttpSettings:
    """``dialer serve``'s HTTP server: JSON API, webhooks, /healthz, /metrics, web UI.

    Loopback by default: put a TLS reverse proxy in front to reach it from elsewhere.
    """

    host: str = DEFAULT_HTTP_HOST
    port: int = DEFAULT_HTTP_PORT


#: how an SMS provider's webhook proves itself (dialer/web/webhooks.py)
SMS_WEBHOOK_AUTH = ("", "twilio", "shared-secret")


@dataclass(frozen=True)
class SmsSettings:
    """``POST /sms/inbound``: the SMS provider's webhook (C5). Off until configured."""

    #: "twilio" (X-Twilio-Signature), "shared-secret" (X-Dialer-Webhook-Secret) or "" (off)
    webhook_auth: str = ""
    #: the provider's auth token or the shared secret, alone in a 0600 file (C18)
    auth_token_file: Path = Path("secrets/sms-webhook.secret")
    #: the webhook's URL as the provider calls it (behind a reverse proxy it differs
    #: from the URL this server sees, and Twilio signs the URL it called)
    public_url: str = ""


@dataclass(frozen=True)
class EngineSettings:
    max_concurrent: int = 30
    calls_per_second: float = 10.0
    max_attempts: int = 1
    retry_delay_seconds: int = 300
    #: an answered call longer than this is hung up by the engine
    max_call_seconds: int = 300
    #: Asterisk's AMD() on every answer; a machine hears the voicemail version
    #: (hotline number instead of "press 9", C11). Costs ~1-2 s before a person
    #: hears the message, so it is off unless a district wants voicemails.
    answering_machine_detection: bool = False
    #: on SIGTERM/SIGINT, how long calls in progress may take to finish their
    #: message before the rest are hung up as ``interrupted-by-shutdown`` (issue 9)
    drain_seconds: float = 60.0
    #: ``campaign run`` in the foreground: how long it waits for Asterisk to come
    #: back after the AMI link is lost before it gives up (exit 7); ``dialer serve``
    #: waits as long as it takes
    pbx_wait_seconds: float = 300.0


@dataclass(frozen=True)
class AudioSettings:
    #: where Asterisk reads the converted sound files (the sandbox shares this folder)
    sounds_dir: Path = Path("sounds")
    #: the same folder as Asterisk sees it (differs when Asterisk runs in a chroot
    #: or on another host); AGI commands name files under this path
    asterisk_sounds_dir: str = ""
    max_seconds: int = 300
    default_language: str = "en"


DEFAULT_SESSION_IDLE_MINUTES = 30
DEFAULT_SESSION_MAX_HOURS = 12
#: an API token stops working this many days after it was created
DEFAULT_API_TOKEN_DAYS = 365
DEFAULT_MAX_UPLOAD_MB = 100
DEFAULT_LOGIN_FAILURES_PER_ACCOUNT = 5
DEFAULT_LOGIN_ATTEMPTS_PER_ADDRESS = 20
DEFAULT_OPTOUT_PER_ADDRESS_PER_HOUR = 10
DEFAULT_OPTOUT_PER_NUMBER_PER_DAY = 3


@dataclass(frozen=True)
class WebSettings:
    """The staff web console and the parent opt-out page (served by ``dialer serve``)."""

    #: a session ends after this long without a request ...
    session_idle_minutes: int = DEFAULT_SESSION_IDLE_MINUTES
    #: ... and this long after the login, whatever happens
    session_max_hours: int = DEFAULT_SESSION_MAX_HOURS
    #: largest upload (recording, contact list, consent file) the console accepts
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    #: failed logins per account, and attempts per address, per 15 minutes
    login_failures_per_account: int = DEFAULT_LOGIN_FAILURES_PER_ACCOUNT
    login_attempts_per_address: int = DEFAULT_LOGIN_ATTEMPTS_PER_ADDRESS
    #: the public opt-out page: requests per address per hour, per number per day
    optout_per_address_per_hour: int = DEFAULT_OPTOUT_PER_ADDRESS_PER_HOUR
    optout_per_number_per_day: int = DEFAULT_OPTOUT_PER_NUMBER_PER_DAY
    #: serve /optout on its own address too (e.g. the one address open to the
    #: internet); port 0: only on the console's address
    optout_host: str = "127.0.0.1"
    optout_port: int = 0
    #: cookies are marked Secure when served over TLS; set true behind a TLS proxy
    secure_cookies: bool = False
    #: the key that signs session cookies (created 0600 on first use, C18)
    session_key_file: Path = Path("secrets/web-session.key")
    #: an API token (``dialer users token``) stops working this many days after
    #: its creation: a token copied into a forgotten script does not last forever
    api_token_days: int = DEFAULT_API_TOKEN_DAYS


@dataclass(frozen=True)
class CampaignsSettings:
    #: "non-emergency": every campaign but emergencies needs a second operator's
    #: ``campaign approve`` before it starts; "all": emergencies too; "none": nobody
    approval: str = DEFAULT_APPROVAL


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "info"
    json: bool = False
    #: the service logs one progress line per running campaign this often
    progress_seconds: float = DEFAULT_PROGRESS_SECONDS


@dataclass(frozen=True)
class Settings:
    organisation: OrganisationSettings = field(default_factory=OrganisationSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    campaigns: CampaignsSettings = field(default_factory=CampaignsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    web: WebSettings = field(default_factory=WebSettings)
    #: the file these settings came from (None: built in code)
    source: Path | None = None

    def ami_secret(self) -> str:
        """Read the AMI secret from its 0600 file (C18)."""
        return read_secret_file(self.asterisk.ami_secret_file, "asterisk.ami_secret_file")

    @property
    def asterisk_servers(self) -> tuple[AsteriskServer, ...]:
        """Every PBX to place calls through: ``[[asterisk.servers]]``, or the one
        server of a plain ``[asterisk]`` section (limited by engine.max_concurrent)."""
        if self.asterisk.servers:
            return self.asterisk.servers
        a = self.asterisk
        return (
            AsteriskServer(
                name=DEFAULT_SERVER_NAME,
                ami_host=a.ami_host,
                ami_port=a.ami_port,
                ami_user=a.ami_user,
                ami_secret_file=a.ami_secret_file,
                dial_string=a.dial_string,
                dial_via_dialplan=a.dial_via_dialplan,
                max_channels=self.engine.max_concurrent,
                ami_tls=a.ami_tls,
                ami_tls_ca_file=a.ami_tls_ca_file,
                ami_tls_server_name=a.ami_tls_server_name,
            ),
        )

    def server_secret(self, server: AsteriskServer) -> str:
        """Read one server's AMI secret from its 0600 file (C18)."""
        if not self.asterisk.servers:
            return self.ami_secret()
        index = self.asterisk.servers.index(server) + 1
        return read_secret_file(
            server.ami_secret_file, f"asterisk.servers[{index}].ami_secret_file"
        )

    @property
    def agi_url(self) -> str:
        host = self.agi.advertise or f"{self.agi.host}:{self.agi.port}"
        return f"agi://{host}"


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string, quotes included (``dialer init`` writes
    what people typed: ``--org 'A \\ B'`` once produced a file that did not parse)."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ConfigError("settings text contains an invalid character (a lone surrogate)")
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The settings file to use: explicit argument, then $DIALER_CONFIG, then ./dialer.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_settings(path: Path) -> Settings:
    """Read and validate a settings file; unknown sections or keys are errors."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist (run 'dialer init')") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"settings file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    except ValueError as exc:  # a NUL in the path itself
        raise ConfigError(f"settings file {path!r} cannot be read: {exc}") from exc
    return settings_from_dict(raw, base_dir=path.resolve().parent, source=path)


def settings_from_dict(raw: dict[str, Any], base_dir: Path, source: Path | None = None) -> Settings:
    sections: dict[str, Any] = {}
    defaults = Settings()
    known = {f.name for f in fields(Settings)} - {"source"}
    for name in raw:
        if name not in known:
            raise ConfigError(f"settings: unknown section [{name}] in {source}")
        if not isinstance(raw[name], dict):
            raise ConfigError(f"settings: [{name}] must be a table in {source}")
    for name in sorted(known):
        # every section, present or not: default relative paths resolve against base_dir
        sections[name] = _build_section(
            getattr(defaults, name), name, raw.get(name, {}), base_dir, source
        )
    return replace(defaults, source=source, **sections)


def _build_section(
    default: Any, section: str, values: dict[str, Any], base_dir: Path, source: Path | None
) -> Any:
    if isinstance(default, AsteriskSettings) and "servers" in values:
        values = dict(values)
        entries = values.pop("servers")
        top = _build_section(default, section, values, base_dir, source)
        servers = _build_servers(top, entries, base_dir, source)
        return replace(top, servers=servers)
    types = {f.name: type(getattr(default, f.name)) for f in fields(default)}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types:
            raise ConfigError(f"settings: unknown key {section}.{key} in {source}")
        expected = types[key]
        if issubclass(expected, Path):
            if not isinstance(value, str):
                raise ConfigError(f"settings: {section}.{key} must be a path string")
            if not value.strip():
                # Path("") is the settings file's own folder: a key file, database or
                # secret "there" fails later as an internal error (IsADirectoryError)
                raise ConfigError(f"settings: {section}.{key} is empty: give a file or folder")
            path = Path(value).expanduser()
            converted[key] = path if path.is_absolute() else base_dir / path
        elif expected is float and isinstance(value, int) and not isinstance(value, bool):
            converted[key] = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(
                f"settings: {section}.{key} must be {expected.__name__}, got {value!r}"
            )
        else:
            converted[key] = value
    # relative default paths are relative to the settings file too
    for f in fields(default):
        current = getattr(default, f.name)
        if f.name not in converted and isinstance(current, Path) and not current.is_absolute():
            converted[f.name] = base_dir / current
    section_obj = replace(default, **converted)
    _validate(section, section_obj)
    return section_obj


def _build_servers(
    top: AsteriskSettings, entries: Any, base_dir: Path, source: Path | None
) -> tuple[AsteriskServer, ...]:
    """``[[asterisk.servers]]``: each entry inherits the ``[asterisk]`` keys it leaves out."""
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            "settings: asterisk.servers must be one or more [[asterisk.servers]] tables"
        )
    servers: list[AsteriskServer] = []
    for index, entry in enumerate(entries, start=1):
        where = f"asterisk.servers[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"settings: {where} must be a table")
        inherited = AsteriskServer(
            name=f"pbx{index}",
            ami_host=top.ami_host,
            ami_port=top.ami_port,
            ami_user=top.ami_user,
            ami_secret_file=top.ami_secret_file,
            dial_string=top.dial_string,
            dial_via_dialplan=top.dial_via_dialplan,
            ami_tls=top.ami_tls,
            ami_tls_ca_file=top.ami_tls_ca_file,
            ami_tls_server_name=top.ami_tls_server_name,
        )
        server = _build_section(inherited, where, entry, base_dir, source)
        if not 1 <= server.max_channels <= MAX_SERVER_CHANNELS:
            raise ConfigError(
                f"settings: {where}.max_channels must be 1-{MAX_SERVER_CHANNELS} "
                f"(the calls this PBX may carry at once), got {server.max_channels}"
            )
        servers.append(server)
    names = [s.name for s in servers]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"settings: two asterisk.servers are named {name!r}")
    places = [s.where for s in servers]
    for place in places:
        if places.count(place) > 1:
            raise ConfigError(f"settings: two asterisk.servers use the same AMI address {place}")
    return tuple(servers)


#: the range of every number in the settings file (issue 8 item 4: a port of
#: 70000 once reached the socket layer as an OverflowError). A number not
#: listed must still be finite and within +-1e12.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "asterisk.ami_port": (1, 65535),
    "asterisk.ring_timeout": (1, 600),
    "asterisk.connect_timeout": (0.1, 300),
    "asterisk.action_timeout": (0.1, 600),
    "asterisk.heartbeat_seconds": (0.5, 600),
    "agi.port": (1, 65535),
    "agi.max_sessions": (0, 100_000),
    "http.port": (0, 65535),
    "web.optout_port": (0, 65535),
    "engine.max_concurrent": (1, 10_000),
    "engine.calls_per_second": (0.01, 1000),
    "engine.max_attempts": (1, 100),
    "engine.retry_delay_seconds": (0, 30 * 86400),
    "engine.max_call_seconds": (10, 4 * 3600),
    "engine.drain_seconds": (0, 3600),
    "engine.pbx_wait_seconds": (0, 7 * 86400),
    "audio.max_seconds": (1, 3600),
    "logging.progress_seconds": (0.5, 3600),
}
_UNLISTED_LIMIT = 1e12
#: logging.level values (an unknown one was silently treated as info)
LOG_LEVELS = ("debug", "info", "warning", "error")


def _check_values(section: str, obj: Any) -> None:
    """Every number in range and finite, no NUL in any text (it cannot reach a file name)."""
    for f in fields(obj):
        key = f"{section}.{f.name}"
        value = getattr(obj, f.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            low, high = NUMBER_RANGES.get(key, (-_UNLISTED_LIMIT, _UNLISTED_LIMIT))
            if not math.isfinite(value) or not low <= value <= high:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                raise ConfigError(f"settings: {key} must be {low:g}-{high:g}, got {shown[:40]}")
        elif isinstance(value, str | Path) and "\x00" in str(value):
            raise ConfigError(f"settings: {key} contains a NUL character")


def _validate(section: str, obj: Any) -> None:
    _check_specific(section, obj)
    _check_values(section, obj)


def _check_specific(section: str, obj: Any) -> None:
    if isinstance(obj, AsteriskServer):
        if not obj.name.strip() or any(ch.isspace() for ch in obj.name):
            raise ConfigError(f"settings: {section}.name must be a word, got {obj.name!r}")
        if not 1 <= obj.ami_port <= 65535:
            raise ConfigError(f"settings: {section}.ami_port must be 1-65535, got {obj.ami_port}")
        if not obj.ami_host.strip():
            raise ConfigError(f"settings: {section}.ami_host must not be empty")
        _check_dial_string(f"{section}.dial_string", obj.dial_string)
    if isinstance(obj, LoggingSettings) and obj.level not in LOG_LEVELS:
        raise ConfigError(
            f"settings: logging.level must be one of {', '.join(LOG_LEVELS)}, got {obj.level!r}"
        )
    if isinstance(obj, OrganisationSettings):
        _check_organisation(obj)
    if isinstance(obj, SmsSettings):
        if obj.webhook_auth not in SMS_WEBHOOK_AUTH:
            raise ConfigError(
                f'settings: sms.webhook_auth must be "twilio", "shared-secret" or "", '
                f"got {obj.webhook_auth!r}"
            )
        if obj.public_url and not obj.public_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"settings: sms.public_url must be an http(s) URL, got {obj.public_url!r}"
            )
    if isinstance(obj, HttpSettings):
        if not 0 <= obj.port <= 65535:
            raise ConfigError(f"settings: http.port must be 0-65535, got {obj.port}")
        if not obj.host.strip():
            raise ConfigError("settings: http.host must not be empty")
    if isinstance(obj, LoggingSettings) and not 0.5 <= obj.progress_seconds <= 3600:
        raise ConfigError(
            f"settings: logging.progress_seconds must be 0.5-3600, got {obj.progress_seconds}"
        )
    if isinstance(obj, AgiSettings) and not 0 <= obj.max_sessions <= 100_000:
        raise ConfigError(
            f"settings: agi.max_sessions must be 0 (automatic) to 100000, got {obj.max_sessions}"
        )
    if isinstance(obj, EngineSettings):
        if obj.max_concurrent < 1:
            raise ConfigError("settings: engine.max_concurrent must be at least 1")
        if obj.calls_per_second <= 0:
            raise ConfigError("settings: engine.calls_per_second must be positive")
        if obj.max_attempts < 1:
            raise ConfigError("settings: engine.max_attempts must be at least 1")
    if isinstance(obj, WebSettings):
        for key in (
            "session_idle_minutes",
            "session_max_hours",
            "max_upload_mb",
            "login_failures_per_account",
            "login_attempts_per_address",
            "optout_per_address_per_hour",
            "optout_per_number_per_day",
        ):
            if getattr(obj, key) < 1:
                raise ConfigError(f"settings: web.{key} must be at least 1")
        if not 0 <= obj.optout_port <= 65535:
            raise ConfigError(f"settings: web.optout_port must be 0-65535, got {obj.optout_port}")
        if not 1 <= obj.api_token_days <= 3650:
            raise ConfigError(
                f"settings: web.api_token_days must be 1-3650, got {obj.api_token_days}"
            )
    if isinstance(obj, CampaignsSettings) and obj.approval not in APPROVAL_MODES:
        raise ConfigError(
            f"settings: campaigns.approval must be one of {', '.join(APPROVAL_MODES)}, "
            f"got {obj.approval!r}"
        )
    if isinstance(obj, AsteriskSettings):
        _check_dial_string("asterisk.dial_string", obj.dial_string)
        if not 1 <= obj.ami_port <= 65535:
            raise ConfigError(f"settings: asterisk.ami_port must be 1-65535, got {obj.ami_port}")
        if not 1 <= obj.ring_timeout <= 600:
            raise ConfigError(
                f"settings: asterisk.ring_timeout must be 1-600 seconds, got {obj.ring_timeout}"
            )


def _check_dial_string(key: str, dial_string: str) -> None:
    """The callee's channel: {e164} or {digits} filled in, nothing else (it is the
    Channel of an AMI Originate, so no line breaks)."""
    try:
        filled = dial_string.format(e164="+1", digits="1")
    except (KeyError, IndexError, ValueError):
        filled = None
    if filled is None or filled == dial_string or any(ch in dial_string for ch in "\r\n"):
        raise ConfigError(
            f"settings: {key} must contain {{e164}} or {{digits}} and no other "
            f"{{...}} field, got {dial_string!r}"
        )


def _check_organisation(org: OrganisationSettings) -> None:
    try:
        zoneinfo.ZoneInfo(org.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(
            f"settings: organisation.timezone {org.timezone[:60]!r} is not a time zone "
            "(e.g. America/Chicago)"
        ) from exc
    import phonenumbers  # here: settings stay importable without it in tools

    if org.default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"settings: organisation.default_region {org.default_region[:20]!r} is not a "
            "two-letter region code (e.g. US)"
        )


def read_secret_file(path: Path, setting: str) -> str:
    """Read a secret; refuse files readable by group or others (C18)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(f"secret file {path} ({setting}) does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path} ({setting}): {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secret file {path} ({setting}) must have 0600 permissions, has "
            f"{stat.S_IMODE(mode):04o}; run: chmod 600 {path}"
        )
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ConfigError(f"secret file {path} ({setting}) is empty")
    return value


def write_secret_file(path: Path, value: str | bytes) -> None:
    """Create a secret file with 0600 permissions from the first byte on (C18)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = value.encode() if isinstance(value, str) else value
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
