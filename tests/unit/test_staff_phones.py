"""Staff phones and phone PINs (issue 14) through the real command line and store.

The allowlist decides which numbers a test call or a recording call may ring;
a phone PIN ties the call-in recording line to a console account. Both are
audited; no number and no PIN is stored in plain text (C18).
"""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import closing
from pathlib import Path

import pytest
from support.store import audit_kinds, raw
from typer.testing import CliRunner

from dialer.cli import app
from dialer.settings import load_settings
from dialer.store.store import Store

RUNNER = CliRunner()
STAFF = "+12125550142"


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "dialer.toml"
        self.db = root / "dialer.db"

    def __call__(self, *args: str, code: int = 0) -> str:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args])
        assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
        return result.output

    async def store(self) -> Store:
        cfg = load_settings(self.config)
        return await Store.open(cfg.store.path, cfg.store.key_file)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    run("init")
    return run


def test_staff_phones_are_added_listed_masked_and_removed_with_audit(cli: Cli) -> None:
    out = cli("staff-phone", "add", "(212) 555-0142", "--label", "Ms. Diaz mobile")
    assert "staff phone +1******0142 added (Ms. Diaz mobile)" in out
    listed = json.loads(cli("staff-phone", "list", "--json"))
    assert [(p["number"], p["label"]) for p in listed] == [("+1******0142", "Ms. Diaz mobile")]

    again = cli("staff-phone", "add", STAFF, "--label", "twice", code=2)
    assert "already a staff phone" in again
    assert "--label" in cli("staff-phone", "add", STAFF, "--label", " ", code=2)
    assert "invalid phone number" in cli(
        "staff-phone", "add", "555-CALL-NOW", "--label", "x", code=2
    )

    with closing(raw(cli.db)) as conn:
        dumped = "\n".join(conn.iterdump())
    assert "5550142" not in dumped  # C18: sealed and hashed only

    cli("staff-phone", "remove", STAFF)
    assert json.loads(cli("staff-phone", "list", "--json")) == []
    assert "not a staff phone" in cli("staff-phone", "remove", STAFF, code=4)
    kinds = audit_kinds(cli.db)
    assert kinds["staff-phone-added"] == 1 and kinds["staff-phone-removed"] == 1


def test_recording_call_to_a_number_that_is_not_a_staff_phone_is_refused_before_dialling(
    cli: Cli,
) -> None:
    # no Asterisk runs here: the refusal must come before anything is contacted
    out = cli("recordings", "record", "closure", "--call-me", STAFF, code=2)
    assert "+1******0142 is not a staff phone: only staff phones can be called" in out
    assert "phone-recording" not in audit_kinds(cli.db)
    bad = cli("recordings", "record", "Bad Name!", "--call-me", STAFF, code=2)
    assert "recording name 'Bad Name!'" in bad
    cli("staff-phone", "add", STAFF, "--label", "desk")
    for typed in ("spanish", "", "1e"):  # once quietly catalogued as 'sp', '' and '1e'
        refused = cli("recordings", "record", "closure", "--call-me", STAFF, "--language", typed,
                      code=2)  # fmt: skip
        assert f"language {typed!r} is not a language code: use two letters" in refused
    assert "phone-recording" not in audit_kinds(cli.db)


def test_a_recording_language_is_a_two_letter_code() -> None:
    from dialer.errors import InputError
    from dialer.usecases.recordings import recording_language

    assert [recording_language(t) for t in ("es", "ES", "es-MX", "es_mx", " en ")] == [
        "es", "es", "es", "es", "en",
    ]  # fmt: skip
    for bad in ("spanish", "", "e", "12", "é", "-es"):
        with pytest.raises(InputError, match="is not a language code"):
            recording_language(bad)


def _user(cli: Cli, name: str) -> None:
    secret = cli.root / f"{name}.pw"
    secret.write_text("a long enough password 1")
    secret.chmod(0o600)
    cli("users", "add", name, "--role", "staff", "--password-file", str(secret))


def _pin(out: str) -> str:
    match = re.search(r"phone PIN of '\w+': (\d{6})", out)
    assert match, out
    return match.group(1)


def test_phone_pin_finds_its_account_and_is_stored_only_as_a_keyed_hash(cli: Cli) -> None:
    _user(cli, "ruiz")
    _user(cli, "lee")
    first = _pin(cli("users", "phone-pin", "ruiz"))
    lees = _pin(cli("users", "phone-pin", "lee"))
    assert first != lees

    async def who(*pins: str) -> list[str | None]:
        store = await cli.store()
        try:
            return [await store.staff.user_for_pin(p) for p in pins]
        finally:
            await store.close()

    assert asyncio.run(who(first, lees, "000000" if first != "000000" else "111111")) == [
        "ruiz",
        "lee",
        None,
    ]
    with closing(raw(cli.db)) as conn:
        dumped = "\n".join(conn.iterdump())
    assert first not in dumped and lees not in dumped

    # a new PIN replaces the old one; a disabled account's PIN opens nothing
    second = _pin(cli("users", "phone-pin", "ruiz"))
    assert asyncio.run(who(first, second)) == ([None, "ruiz"] if first != second else ["ruiz"] * 2)
    cli("users", "disable", "lee")
    assert asyncio.run(who(lees)) == [None]
    assert "no active web console account" in cli("users", "phone-pin", "lee", code=4)
    cli("users", "phone-pin", "ruiz", "--clear")
    assert asyncio.run(who(second)) == [None]
    assert "has no phone PIN" in cli("users", "phone-pin", "ruiz", "--clear", code=4)
    kinds = audit_kinds(cli.db)
    assert kinds["phone-pin-set"] == 3 and kinds["phone-pin-cleared"] == 1
