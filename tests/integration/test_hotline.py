"""The inbound opt-out hotline (C5), for real and, for the corner cases, scripted.

Integration tests (``@pytest.mark.integration``): the real Asterisk 22 sandbox
runs the real AGI program (``agi-bin/dialer-optout-hotline`` ->
``agi_scripts/optout_hotline.py`` in the chroot's venv) against a real store
file under the sandbox's state directory (the chroot sees it at the same
path). A call INTO ``[dialer-hotline]`` is placed with AMI Originate
``Local/s@dialer-hotline``; the other half runs ``[sandbox-caller]``
(asterisk_conf/sandbox/extensions_sandbox.conf), which presents the parent's
number as caller ID and presses ``SANDBOX_KEYS`` after ``SANDBOX_KEYS_DELAY``.

The remaining tests drive :func:`dialer.hotline.run_hotline` with a scripted
AGI channel: a caller hanging up at an exact moment, or a store failing at an
exact moment, cannot be produced reliably through Asterisk. The store in those
tests is real (a sqlite file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from typer.testing import CliRunner

from dialer.cli import app
from dialer.consent.crypto import create_key_file
from dialer.consent.gate import decide
from dialer.consent.model import (
    CampaignRules,
    ConsentSource,
    Purpose,
    Reason,
    RevocationChannel,
)
from dialer.errors import StoreError
from dialer.hotline import (
    CORE_APOLOGY,
    CallerHangup,
    HotlineOutcome,
    HotlinePrompts,
    StoreRevoker,
    caller_number,
    resolve_prompts,
    run_hotline,
)
from dialer.model.consents import ConsentInput
from dialer.settings import load_settings
from dialer.store.store import Store
from dialer.telephony.ami import AmiClient

# --- helpers ------------------------------------------------------------------------------------


def consent_for(number: str, scope: Purpose = Purpose.SCHOOL) -> ConsentInput:
    return ConsentInput(
        number=number,
        scope=scope,
        source=ConsentSource.ENROLLMENT,
        method="enrollment form",
        obtained_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
        disclosure="We may call you about school matters.",
        evidence_ref="SIS:form/1",
        contact_ref="parent",
    )


@dataclass
class Installation:
    """A dialer installation the hotline AGI program (in the chroot) uses."""

    root: Path
    config: Path

    async def store(self) -> Store:
        cfg = load_settings(self.config)
        return await Store.open(cfg.store.path, cfg.store.key_file)


def write_installation(root: Path, config: Path, *, key: bool = True) -> Installation:
    root.mkdir(parents=True, exist_ok=True)
    if key:
        create_key_file(root / "dialer.key")
    config.write_text(
        f"""
[organisation]
default_region = "US"

[store]
path = "{root / "dialer.db"}"
key_file = "{root / "dialer.key"}"

[audio]
sounds_dir = "{root / "sounds"}"
""",
        encoding="utf-8",
    )
    return Installation(root, config)


@pytest.fixture
def installation(sandbox: Sandbox) -> Iterator[Installation]:
    """``<state>/dialer.toml`` (the path the sandbox's hotline wrapper reads)
    pointing at a fresh store under the state directory; the previous file is
    restored afterwards."""
    config = sandbox.state_dir / "dialer.toml"
    previous = config.read_text(encoding="utf-8") if config.exists() else None
    root = sandbox.state_dir / "hotline-tests" / uuid.uuid4().hex[:12]
    try:
        yield write_installation(root, config)
    finally:
        if previous is None:
            config.unlink(missing_ok=True)
        else:
            config.write_text(previous, encoding="utf-8")


@pytest.fixture
async def ami(sandbox: Sandbox) -> AsyncIterator[AmiClient]:
    client = AmiClient(sandbox.ami_host, sandbox.ami_port, sandbox.ami_user, sandbox.ami_secret())
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


@dataclass
class HotlineCall:
    call_id: str
    answered: bool
    finished: bool
    ended_at: dt.datetime
    #: what the hotline program wrote to stderr (Asterisk's console log) during the call
    log: str

    @property
    def hotline_uniqueid(self) -> str:
        """The ``;2`` half runs [dialer-hotline]: its uniqueid is the AGI's agi_uniqueid."""
        return f"{self.call_id}-2"


async def call_hotline(
    ami: AmiClient,
    sandbox: Sandbox,
    caller_id: str,
    keys: str,
    *,
    delay: float = 5.0,
    within: float = 60.0,
) -> HotlineCall:
    """Place one call into [dialer-hotline] and wait until it has ended."""
    console = sandbox.state_dir / "log" / "console.log"
    offset = console.stat().st_size if console.exists() else 0
    call_id = f"hotline-{os.getpid()}-{time.monotonic_ns()}"
    result = await ami.originate(
        call_id=call_id,
        channel="Local/s@dialer-hotline",
        context="sandbox-caller",
        exten="s",
        priority=1,
        caller_id=caller_id,
        variables={"SANDBOX_KEYS": keys, "SANDBOX_KEYS_DELAY": f"{delay:g}"},
        timeout_s=15,
    )
    events = ami.calls.get(call_id)
    assert events is not None
    finished = await events.wait_finished(within) if result.answered else False
    ended_at = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.5)  # let the AGI program's last log lines reach the file
    with console.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return HotlineCall(call_id, result.answered, finished, ended_at, text)


def revocation_rows(store_path: Path) -> list[tuple[str, str, str, str, str, str]]:
    """Revocations straight from the file (a second connection: proves they are committed)."""
    with sqlite3.connect(store_path) as conn:
        return list(
            conn.execute(
                "SELECT number_hash, channel, received_at, recorded_at, COALESCE(source_ref, ''), "
                "recorded_by FROM revocations ORDER BY id"
            )
        )


def school_rules() -> CampaignRules:
    return CampaignRules(purpose=Purpose.SCHOOL)


# --- the real hotline in the real Asterisk ----------------------------------------------------


@pytest.mark.integration
async def test_c5_hotline_caller_pressing_1_revokes_and_the_gate_blocks(
    sandbox: Sandbox, installation: Installation, ami: AmiClient
) -> None:
    number = sample_number(daytime_prefix(), int(time.time()) % 10, 2)
    store = await installation.store()
    try:
        await store.consent.add_consent(consent_for(number), "test")
        await store.consent.add_consent(consent_for(number, Purpose.INFORMATIONAL), "test")
        before = decide(
            number, await store.consent.facts_for(number), school_rules(), store.clock()
        )
        assert before.allowed, before  # daytime number with consent: the baseline is "allowed"

        call = await call_hotline(ami, sandbox, f'"Parent" <{number}>', keys="1")
        assert call.answered and call.finished, call.log

        rows = revocation_rows(store.db.path)
        assert len(rows) == 1, call.log
        number_hash, channel, _received, recorded_at, source_ref, recorded_by = rows[0]
        assert number_hash == store.sealer.index(number)
        assert channel == RevocationChannel.HOTLINE.value
        assert source_ref == call.hotline_uniqueid  # the call it came from (C5)
        assert recorded_by == "hotline"
        # committed BEFORE "hotline-done" (6.2 s) played: the call ended well after it
        recorded = dt.datetime.strptime(recorded_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        assert (call.ended_at - recorded).total_seconds() >= 5.0

        facts = await store.consent.facts_for(number)
        for purpose in (Purpose.SCHOOL, Purpose.INFORMATIONAL):
            after = decide(number, facts, CampaignRules(purpose=purpose), store.clock())
            assert not after.allowed and after.reason is Reason.REVOKED, (purpose, after)

        chain = await store.verify_audit()
        assert chain.entries == 3  # two consents, one revocation
        # issue 8 item 7: the sandbox trunk signs nothing, so Asterisk's STIR_SHAKEN
        # function reports no identity: recorded as "none" and listed for review
        with sqlite3.connect(store.db.path) as conn:
            assert conn.execute("SELECT attestation FROM revocations").fetchall() == [("none",)]
    finally:
        await store.close()
    review = await asyncio.to_thread(  # the CLI runs its own event loop
        CliRunner().invoke,
        app,
        ["--config", str(installation.config), "contacts", "review", "--json"],
    )
    assert review.exit_code == 0, review.output
    assert [(r["reason"], r["attestation"], r["call"]) for r in json.loads(review.stdout)] == [
        ("hotline-unattested", "none", call.hotline_uniqueid)
    ]

    # C18: the program logged what happened, with the number masked
    assert "hotline.revoked" in call.log
    national = number[-10:]
    assert national not in call.log and number not in call.log


@pytest.mark.integration
async def test_c5_hotline_without_caller_id_revokes_nothing(
    sandbox: Sandbox, installation: Installation, ami: AmiClient
) -> None:
    """The caller presses 1 anyway: with no caller ID there is nobody to revoke for."""
    store = await installation.store()
    try:
        call = await call_hotline(ami, sandbox, "", keys="1", delay=2)
        assert call.answered and call.finished, call.log
        assert revocation_rows(store.db.path) == []
        assert (await store.verify_audit()).entries == 0
    finally:
        await store.close()
    assert "hotline.no_caller_id" in call.log


@pytest.mark.integration
@pytest.mark.slow
async def test_c5_hotline_caller_who_does_not_confirm_keeps_consent(
    sandbox: Sandbox, installation: Installation, ami: AmiClient
) -> None:
    number = sample_number(daytime_prefix(), 3, 6)
    store = await installation.store()
    try:
        await store.consent.add_consent(consent_for(number), "test")
        call = await call_hotline(ami, sandbox, f'"Parent" <{number}>', keys="2", within=90)
        assert call.answered and call.finished, call.log
        assert revocation_rows(store.db.path) == []
        facts = await store.consent.facts_for(number)
        assert facts.revoked_at is None
    finally:
        await store.close()
    assert "hotline.not_confirmed" in call.log


@pytest.mark.integration
async def test_hotline_with_a_broken_installation_apologises_and_hangs_up(
    sandbox: Sandbox, installation: Installation, ami: AmiClient
) -> None:
    """No key file: the program says sorry, hangs up and logs why; no traceback, no revocation."""
    write_installation(installation.root / "broken", installation.config, key=False)
    number = sample_number(daytime_prefix(), 4, 2)
    call = await call_hotline(ami, sandbox, f'"Parent" <{number}>', keys="1", delay=1)
    assert call.answered and call.finished, call.log
    assert "hotline.not_ready" in call.log
    assert "Traceback" not in call.log
    assert not (installation.root / "broken" / "dialer.db").exists()


# --- the call flow with a scripted channel and a real store ----------------------------------


@dataclass
class ScriptedChannel:
    """A caller who presses ``keys`` (one per prompt / wait, "" = nothing) and
    optionally hangs up when a given prompt starts. Stands in for Asterisk where
    the timing cannot be produced through a real call (see module docstring)."""

    env: Mapping[str, str]
    keys: list[str] = field(default_factory=list)
    hang_up_at: str = ""
    commands: list[str] = field(default_factory=list)
    on_stream: dict[str, object] = field(default_factory=dict)
    #: channel variables / dialplan functions (STIR_SHAKEN ...) the trunk reports
    variables: dict[str, str] = field(default_factory=dict)

    def get_variable(self, name: str) -> str:
        return self.variables.get(name, "")

    def answer(self) -> None:
        self.commands.append("ANSWER")

    def stream_file(self, stem: str, escape_digits: str = "") -> str:
        self.commands.append(f"STREAM {Path(stem).name}")
        hook = self.on_stream.get(Path(stem).name)
        if callable(hook):
            hook()
        if self.hang_up_at and Path(stem).name == self.hang_up_at:
            raise CallerHangup("scripted hangup")
        return self.keys.pop(0) if escape_digits and self.keys else ""

    def wait_for_digit(self, timeout_ms: int) -> str:
        self.commands.append("WAIT")
        return self.keys.pop(0) if self.keys else ""

    def hangup(self) -> None:
        self.commands.append("HANGUP")


@pytest.fixture
def local_install(tmp_path: Path) -> Iterator[tuple[Installation, StoreRevoker]]:
    inst = write_installation(tmp_path / "install", tmp_path / "dialer.toml")
    revoker = StoreRevoker(load_settings(inst.config))
    revoker.open()  # as main() does before answering
    yield inst, revoker
    revoker.close()


def prompts() -> HotlinePrompts:
    return resolve_prompts("en", sounds_dir=None, default_language="en")


NUMBER = "+12125550142"


def env(callerid: str = NUMBER) -> dict[str, str]:
    return {"agi_callerid": callerid, "agi_uniqueid": "1700000000.42"}


def test_c5_revocation_is_committed_before_the_done_prompt(
    local_install: tuple[Installation, StoreRevoker],
) -> None:
    inst, revoker = local_install
    seen: list[int] = []
    channel = ScriptedChannel(env(), keys=["", "1"])
    db = inst.root / "dialer.db"
    channel.on_stream["hotline-done"] = lambda: seen.append(len(revocation_rows(db)))
    result = run_hotline(channel, revoker, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.REVOKED and result.exit_code == 0
    assert seen == [1]  # a second connection saw the committed row when "done" started
    assert channel.commands == [
        "ANSWER",
        "STREAM hotline-welcome",
        "STREAM hotline-press-1-confirm",
        "STREAM hotline-done",
        "HANGUP",
    ]
    assert revocation_rows(db)[0][4] == "1700000000.42"


def test_c5_caller_hanging_up_during_confirmation_keeps_the_revocation(
    local_install: tuple[Installation, StoreRevoker],
) -> None:
    inst, revoker = local_install
    channel = ScriptedChannel(env(), keys=["1"], hang_up_at="hotline-done")
    result = run_hotline(channel, revoker, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.REVOKED and result.exit_code == 0
    assert len(revocation_rows(inst.root / "dialer.db")) == 1


def test_hotline_wrong_key_asks_again_then_1_revokes(
    local_install: tuple[Installation, StoreRevoker],
) -> None:
    _, revoker = local_install
    channel = ScriptedChannel(env(), keys=["", "5", "", "1"])
    result = run_hotline(channel, revoker, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.REVOKED
    assert "STREAM hotline-invalid" in channel.commands


def test_hotline_no_key_twice_ends_without_revocation(
    local_install: tuple[Installation, StoreRevoker],
) -> None:
    inst, revoker = local_install
    channel = ScriptedChannel(env(), keys=[])
    result = run_hotline(channel, revoker, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.NOT_CONFIRMED and result.exit_code == 0
    assert channel.commands.count("STREAM hotline-press-1-confirm") == 2
    assert channel.commands[-2:] == ["STREAM goodbye", "HANGUP"]
    assert revocation_rows(inst.root / "dialer.db") == []


def test_hotline_hangup_before_confirming_revokes_nothing(
    local_install: tuple[Installation, StoreRevoker],
) -> None:
    inst, revoker = local_install
    channel = ScriptedChannel(env(), hang_up_at="hotline-press-1-confirm")
    result = run_hotline(channel, revoker, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.HUNG_UP
    assert revocation_rows(inst.root / "dialer.db") == []


def test_hotline_store_failure_apologises_with_nonzero_exit() -> None:
    def broken(number: str, source_ref: str, attestation: str) -> str:
        raise StoreError("database is locked")

    channel = ScriptedChannel(env(), keys=["1"])
    result = run_hotline(channel, broken, prompts(), default_region="US")
    assert result.outcome is HotlineOutcome.FAILED
    assert result.exit_code == StoreError.exit_code != 0
    assert [c for c in channel.commands if c.startswith("STREAM")][-2:] == [
        f"STREAM {name}" for name in CORE_APOLOGY
    ]
    assert channel.commands[-1] == "HANGUP"
    assert "STREAM hotline-done" not in channel.commands


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+12125550142", "+12125550142"),
        ("2125550142", "+12125550142"),  # national form from a US trunk
        ("12125550142", "+12125550142"),
        ("", None),
        ("unknown", None),
        ("Anonymous", None),
        ("restricted", None),
        ("12", None),
        ("+1555", None),
        ("not a number", None),
    ],
)
def test_caller_number_accepts_only_valid_numbers(raw: str, expected: str | None) -> None:
    assert caller_number({"agi_callerid": raw}, "US") == expected


def test_caller_number_missing_variable() -> None:
    assert caller_number({}, "US") is None
