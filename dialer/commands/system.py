"""``dialer init`` and ``dialer doctor``."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import typer
from rich.text import Text

from dialer.commands.common import GLOBALS, console, fail, open_store, run_async, settings
from dialer.consent.crypto import create_key_file
from dialer.errors import ConfigError, DialerError, InputError, NumberError
from dialer.numbers import normalise
from dialer.settings import config_path, settings_from_dict, toml_string

SETTINGS_TEMPLATE = """\
# dialer settings. Relative paths are relative to this file.
# Secrets are NOT kept here: the store key and the AMI secret live in 0600 files.

[organisation]
name = {org}                    # spoken first in every message (C8)
timezone = {timezone}           # fallback when a number's time zone is unknown (C12)
default_region = "US"           # numbers written without +country code
callback_number = {callback}    # spoken in every message (C11)
hotline_number = {hotline}      # inbound opt-out line (C5, C11)

[store]
path = "dialer.db"
key_file = "dialer.key"         # created by 'dialer init', mode 0600 (C18)

[asterisk]
ami_host = "127.0.0.1"
ami_port = 5038
ami_user = "dialer"
ami_secret_file = {ami_secret_file}   # mode 0600; the secret from manager.conf
dial_string = "PJSIP/{{e164}}@trunk"     # how Asterisk reaches the callee
ring_timeout = 30

[agi]
host = "127.0.0.1"
port = 4573

[engine]
max_concurrent = 30
calls_per_second = 10
max_attempts = 1
retry_delay_seconds = 300
answering_machine_detection = false   # true: machines get the voicemail version (C11)

[audio]
sounds_dir = {sounds_dir}   # converted audio; Asterisk must be able to read it

[campaigns]
approval = "non-emergency"      # who needs a second operator's 'campaign approve': all, none
"""


def init(
    org: str = typer.Option("Example School District", help="Organisation name (spoken first)"),
    timezone: str = typer.Option("America/New_York", help="Organisation's time zone"),
    callback: str = typer.Option("", help="Callback number spoken in messages (C11)"),
    hotline: str = typer.Option("", help="Opt-out hotline number (C5)"),
    ami_secret_file: str = typer.Option("secrets/ami.secret", help="File holding the AMI secret"),
    sounds_dir: str = typer.Option(
        "sounds", "--sounds-dir", help="Folder for converted audio that Asterisk reads"
    ),
) -> None:
    """Create the settings file, the store key (0600) and the database.

    Example: dialer init --org "Springfield Public Schools" --callback +12175550100
    """
    path = config_path(GLOBALS.config)
    if not path.exists():
        try:
            text = _settings_text(org, timezone, callback, hotline, ami_secret_file, sounds_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except DialerError as exc:
            fail(str(exc), exc.exit_code)
        except OSError as exc:
            fail(f"cannot write the settings file {path}: {exc.strerror}", 3)
        console.print(f"wrote settings {path}")
    else:
        console.print(f"settings {path} exist; keeping them")

    async def body() -> None:
        cfg = settings()
        key, database = cfg.store.key_file, cfg.store.path
        if not key.exists():
            if await asyncio.to_thread(_holds_data, database):
                # a new key would not open it, and would hide that the real one is lost
                raise ConfigError(
                    f"database {database} exists but its key file {key} is missing; restore "
                    "the key from backup ('dialer init' never makes a new key for an "
                    "existing database)"
                )
            create_key_file(key)
            console.print(f"created key file {key} (0600); back it up safely")
        async with open_store(cfg) as store:
            version = await store.db.version()
            fingerprint = await store.key_fingerprint()
        console.print(
            f"database {database} ready (schema version {version}, key fingerprint "
            f"{fingerprint[:16]})"
        )
        cfg.audio.sounds_dir.mkdir(parents=True, exist_ok=True)

    run_async(body)


def _holds_data(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _settings_text(
    org: str,
    timezone: str,
    callback: str,
    hotline: str,
    ami_secret_file: str,
    sounds_dir: str = "sounds",
) -> str:
    """The new settings file, checked as ``load_settings`` will read it: a value
    that would not parse or not validate is refused before anything is written."""
    if not org.strip():
        raise InputError("--org must name the organisation (it is spoken first, C8)")
    numbers = {}
    for option, value in (("--callback", callback), ("--hotline", hotline)):
        try:
            numbers[option] = normalise(value, "US") if value.strip() else ""
        except NumberError as exc:
            raise InputError(f"{option}: {exc}") from exc
    text = SETTINGS_TEMPLATE.format(
        org=toml_string(org.strip()),
        timezone=toml_string(timezone.strip()),
        callback=toml_string(numbers["--callback"]),
        hotline=toml_string(numbers["--hotline"]),
        ami_secret_file=toml_string(ami_secret_file),
        sounds_dir=toml_string(sounds_dir),
    )
    try:
        settings_from_dict(tomllib.loads(text), base_dir=Path.cwd())
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - toml_string escapes all
        raise ConfigError(f"the settings would not be valid TOML: {exc}") from exc
    return text


def doctor() -> None:
    """Check settings, key file, database, AMI login and the FastAGI port.

    Example: dialer doctor
    """
    from dialer.telephony.ami import client_for
    from dialer.telephony.fastagi import FastAgiServer

    async def body() -> None:
        problems = 0

        def report(ok: bool, what: str, detail: str = "") -> None:
            nonlocal problems
            problems += 0 if ok else 1
            mark = ("ok  ", "green") if ok else ("FAIL", "red")
            console.print(
                Text.assemble(mark, f" {what}{': ' + detail if detail else ''}"), highlight=False
            )

        try:
            cfg = settings()
            report(True, "settings", str(cfg.source))
        except ConfigError as exc:
            report(False, "settings", str(exc))
            raise typer.Exit(3) from exc
        try:
            async with open_store(cfg) as store:
                # the start-up check (seconds on a million consents); 'dialer audit
                # verify' walks every entry and row
                checked = await store.check_integrity(action="pass the doctor")
            report(
                True,
                "store and key",
                f"{cfg.store.path}: key fingerprint matches, integrity check passes "
                f"({checked.audit_entries} audit entries)",
            )
        except DialerError as exc:
            report(False, "store and key", str(exc))
        try:
            client = client_for(
                cfg.asterisk_servers[0],
                cfg.ami_secret(),
                connect_timeout=cfg.asterisk.connect_timeout,
                action_timeout=cfg.asterisk.action_timeout,
            )
            await client.connect()
            await client.close()
            report(
                True,
                "AMI login",
                f"{cfg.asterisk.ami_user}@{cfg.asterisk.ami_host}:{cfg.asterisk.ami_port}"
                + (" over TLS, certificate verified" if cfg.asterisk.ami_tls else ""),
            )
        except DialerError as exc:
            report(False, "AMI login", str(exc))
        server = FastAgiServer({}, cfg.agi.host, cfg.agi.port)
        try:
            await server.start()
            report(True, "FastAGI port free", f"{cfg.agi.host}:{cfg.agi.port}")
        except DialerError as exc:
            report(False, "FastAGI port", str(exc))
        finally:
            await server.stop()
        sounds: Path = cfg.audio.sounds_dir
        report(await asyncio.to_thread(sounds.is_dir), "sounds folder", str(sounds))
        if problems:
            raise typer.Exit(1)

    run_async(body)
