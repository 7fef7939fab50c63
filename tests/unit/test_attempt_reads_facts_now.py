"""Issue 7 item 5: each attempt decides on facts read at that moment, and nothing
slow sits between the decision and the originate (C6, C14, C15).

The real engine (``Engine``: runner, attempts, FastAGI, AMI client) runs in this
process against the loopback fake Asterisk (``support.fake_asterisk``: no root,
no sandbox; the same code paths run against the real sandbox Asterisk in
tests/integration/test_callpath_live.py). To land a change at an exact moment
of an attempt, a store or planner method is wrapped so that it first does what
another process would do at that moment (a parent's revocation, an
administrator's override, a new national DNC copy), through the same store
functions the CLI and console use, then carries on as before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_asterisk import FakeAsterisk, Phone
from support.sample import daytime_prefix, sample_number, write_contacts
from support.workspace import CALLER_ID, Workspace, make_workspace

from dialer.campaign.engine import Engine
from dialer.consent.model import RevocationChannel
from dialer.store.store import Store
from dialer.usecases.campaigns import set_override

Hook = Callable[[Engine, Store], Awaitable[None]]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAsterisk]:
    with FakeAsterisk(tmp_path, lambda _number: Phone(hang_up_at=0.2), 0.05) as peer:
        yield peer


def _workspace(tmp_path: Path, fake: FakeAsterisk) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    # one call at a time: "the next attempt" is well defined
    return make_workspace(root, fake, ring_timeout=5, max_concurrent=1)


def _run(ws: Workspace, prepare: Callable[[Engine, Store], None]) -> dict[str, Any]:
    """Run campaign ``c`` in this process with ``prepare`` applied to the engine."""
    settings = ws.settings()

    async def go() -> None:
        store = await Store.open(settings.store.path, settings.store.key_file)
        try:
            async with Engine(settings, store) as engine:
                prepare(engine, store)
                await asyncio.wait_for(engine.run_campaign("c"), timeout=60)
        finally:
            await store.close()

    asyncio.run(go())
    report: dict[str, Any] = json.loads(ws.ok("campaign", "report", "c", "--json"))
    return report


def _gates(report: dict[str, Any]) -> dict[str, str]:
    return {c["contact"]: c["gate"] for c in report["per_contact"]}


def _spy(obj: Any, name: str, before: Hook | None, engine: Engine, store: Store) -> list[int]:
    """Wrap ``obj.name``: ``before`` runs ahead of the first call only; returns call counts."""
    original = getattr(obj, name)
    calls: list[int] = []

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if before is not None and len(calls) == 1:
            await before(engine, store)
        return await original(*args, **kwargs)

    setattr(obj, name, wrapped)
    return calls


def _revoke(number: str) -> Hook:
    async def revoke(_engine: Engine, store: Store) -> None:
        await store.revoke_durably(number, RevocationChannel.STAFF, recorded_by="test")

    return revoke


def test_c6_revocation_committed_while_the_decision_was_written_blocks_the_dial(
    tmp_path: Path, fake: FakeAsterisk
) -> None:
    """The last look right before the originate (step 5) sees a revocation that
    landed after the decision of record was taken: no INVITE, the attempt says why."""
    number = sample_number(daytime_prefix(), 1, 2)
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"parent": number})
    seen: dict[str, list[int]] = {}

    def prepare(engine: Engine, store: Store) -> None:
        campaigns = store.campaigns
        seen["record"] = _spy(campaigns, "record_decision", _revoke(number), engine, store)
        seen["last_look"] = _spy(campaigns, "block_before_dial", None, engine, store)

    report = _run(ws, prepare)
    assert fake.originated(number) == 0
    assert _gates(report) == {"parent": "revoked"}
    assert report["calls_placed"] == 0
    assert len(seen["last_look"]) == 1  # the re-check right before the originate did it


def test_c6_revocation_while_the_message_renders_is_seen_by_the_decision_of_record(
    tmp_path: Path, fake: FakeAsterisk
) -> None:
    """The personalised message is rendered before the decision of record, so a
    revocation arriving during a slow render is in the facts that decision reads."""
    number = sample_number(daytime_prefix(), 2, 2)
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"parent": number})
    seen: dict[str, list[int]] = {}

    def prepare(engine: Engine, store: Store) -> None:
        seen["render"] = _spy(engine.messages, "plan", _revoke(number), engine, store)
        seen["last_look"] = _spy(store.campaigns, "block_before_dial", None, engine, store)

    report = _run(ws, prepare)
    assert len(seen["render"]) == 1
    assert fake.originated(number) == 0
    assert _gates(report) == {"parent": "revoked"}
    assert seen["last_look"] == []  # the decision of record itself blocked it


def test_c6_override_recorded_mid_run_is_read_by_the_next_attempt(
    tmp_path: Path, fake: FakeAsterisk
) -> None:
    """An emergency campaign over three revoked numbers: the override an
    administrator records after the first decision lets the next two through."""
    prefix = daytime_prefix()
    contacts = {f"n{i}": sample_number(prefix, i, 2) for i in range(3)}
    ws = _workspace(tmp_path, fake)
    ws.school_campaign(contacts)  # (school campaign "c" is left alone)
    for number in contacts.values():
        ws.ok("consent", "revoke", number, "--channel", "staff")
    ws.ok("campaign", "create", "e", "--purpose", "emergency", "--category", "closure",
          "--authorized-by", "Supt. Ruiz", "--list", "l", "--message", "m",
          "--caller-id", CALLER_ID)  # fmt: skip

    async def override(_engine: Engine, store: Store) -> None:
        await set_override(store, "e", "Supt. Ruiz", "building closed: gas leak")

    def prepare(engine: Engine, store: Store) -> None:
        campaigns = store.campaigns
        original = campaigns.record_decision
        decided: list[int] = []

        async def after_first(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            decided.append(1)
            if len(decided) == 1:
                await override(engine, store)
            return result

        campaigns.record_decision = after_first  # type: ignore[method-assign]

    report = _run_named(ws, "e", prepare)
    gates = sorted(_gates(report).values())
    assert gates == ["emergency-override", "emergency-override", "revoked"]
    assert report["calls_placed"] == 2
    assert sum(fake.originated(n) for n in contacts.values()) == 2


def test_c15_national_dnc_copy_read_for_every_attempt(tmp_path: Path, fake: FakeAsterisk) -> None:
    """A telemarketing run: a national DNC copy imported after the first call
    (as of 40 days ago, so stale) stops the attempts that follow."""
    prefix = daytime_prefix()
    contacts = {f"n{i}": sample_number(prefix, i + 3, 2) for i in range(3)}
    ws = _workspace(tmp_path, fake)
    _telemarketing(ws, contacts)
    stale = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)).isoformat()
    dnc = ws.root / "dnc-old.csv"
    dnc.write_text("phone\n+12025550998\n")

    def prepare(engine: Engine, store: Store) -> None:
        campaigns = store.campaigns
        original = campaigns.contact_attempts  # read once an attempt has ended
        ended: list[int] = []

        async def after_first(*args: Any, **kwargs: Any) -> Any:
            ended.append(1)
            if len(ended) == 1:
                await store.consent.import_national_dnc(
                    ["+12025550998"], dt.date.fromisoformat(stale), dnc.name
                )
            return await original(*args, **kwargs)

        campaigns.contact_attempts = after_first  # type: ignore[method-assign]

    report = _run(ws, prepare)
    gates = sorted(_gates(report).values())
    assert gates == ["allowed", "dnc-list-stale", "dnc-list-stale"]
    assert report["calls_placed"] == 1


def _run_named(ws: Workspace, name: str, prepare: Callable[[Engine, Store], None]) -> Any:
    settings = ws.settings()

    async def go() -> None:
        store = await Store.open(settings.store.path, settings.store.key_file)
        try:
            async with Engine(settings, store) as engine:
                prepare(engine, store)
                await asyncio.wait_for(engine.run_campaign(name), timeout=60)
        finally:
            await store.close()

    asyncio.run(go())
    return json.loads(ws.ok("campaign", "report", name, "--json"))


def _telemarketing(ws: Workspace, contacts: dict[str, str]) -> None:
    """Written consent, a fresh national DNC copy, and telemarketing campaign ``c``."""
    root = ws.root
    numbers = sorted(set(contacts.values()))
    lines = [
        "phone,scope,source,method,obtained_at,disclosure,evidence_ref,written,signature_ref,"
        "contact"
    ]
    lines += [
        f"{n},telemarketing,web-form,signed web form,2026-08-15T09:30:00Z,"
        f"I agree to automated calls; consent is not a condition of purchase,form/{i},yes,sig/{i},"
        f"customer {i}"
        for i, n in enumerate(numbers)
    ]
    (root / "consent.csv").write_text("\n".join(lines) + "\n")
    ws.ok("consent", "import", str(root / "consent.csv"))
    (root / "dnc.csv").write_text("phone\n+12025550999\n")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    ws.ok("dnc", "import", str(root / "dnc.csv"), "--as-of", today)
    rows = [{"id": key, "phone": number} for key, number in contacts.items()]
    ws.ok("contacts", "import", str(write_contacts(root / "c.csv", rows)), "--list", "l")
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "m")
    ws.ok("callerid", "add", CALLER_ID, "--label", "office")
    ws.ok("campaign", "create", "c", "--purpose", "telemarketing", "--list", "l",
          "--message", "m", "--caller-id", CALLER_ID)  # fmt: skip
