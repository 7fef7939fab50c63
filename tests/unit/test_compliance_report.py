"""The C20 compliance report over a real store (a sqlite file) with a history
built through the store's own functions and the real gate, on a controlled clock.

``clean_history`` is what the product produces: every figure that must be zero
is zero. The ``test_c20_detects_*`` tests then add rows the gate would never
allow (written straight through ``record_decision``, as a bug or a tampered
engine would) and check that the report recomputes and flags each one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dialer.cli import app as cli_app
from dialer.compliance_report import audit_report, render_report
from dialer.consent.crypto import create_key_file
from dialer.consent.gate import decide
from dialer.consent.model import (
    CampaignRules,
    ConsentSource,
    Decision,
    EmergencyCategory,
    Purpose,
    Reason,
    RevocationChannel,
)
from dialer.model.campaign import Campaign, MessageSpec, NewCampaign
from dialer.model.consents import ConsentInput
from dialer.model.contact import Contact, NewContact
from dialer.model.outcome import Outcome
from dialer.sms import handle_inbound_sms
from dialer.store.store import Store

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York (EST)
CALLER_ID = "+12125550100"
A, B, C, D, E = (f"+1212555010{i}" for i in range(1, 6))
F, G = "+12125550106", "+12125550107"


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, delta: dt.timedelta) -> None:
        self.now = T0 + delta


@dataclass
class World:
    store: Store
    clock: Clock
    path: Path
    campaigns: dict[str, Campaign]
    contacts: dict[str, Contact]

    async def attempt(
        self,
        campaign: str,
        number: str,
        decision: Decision | None = None,
        *,
        outcome: Outcome = Outcome.COMPLETED,
        digits: str = "",
    ) -> tuple[str, Decision]:
        """One attempt as the runner makes it: gate on fresh facts, record them with
        the decision, finish. A ``decision`` given overrides the gate's (a bug)."""
        camp = self.campaigns[campaign]
        facts = await self.store.consent.facts_for(number)
        rules = await self.rules(camp)
        if decision is None:
            decision = decide(number, facts, rules, self.clock())
        call_id = uuid.uuid4().hex
        await self.store.campaigns.record_decision(
            call_id=call_id,
            campaign=camp,
            contact_id=self.contacts[number].id,
            number=number,
            attempt_no=1,
            decision=decision,
            with_consent=decision.with_consent,
            language="en",
            facts=facts,
            rules=rules,
        )
        if decision.allowed:
            await self.store.campaigns.mark_answered(call_id)
            await self.store.campaigns.finish(call_id, outcome, digits=digits)
        return call_id, decision

    async def rules(self, camp: Campaign) -> CampaignRules:
        fresh = await self.store.campaigns.get(camp.name)  # override may have been added
        return CampaignRules(
            purpose=fresh.purpose,
            window_start=fresh.window_start,
            window_end=fresh.window_end,
            caller_id_allowed=await self.store.consent.caller_id_allowed(fresh.caller_id),
            emergency_category=fresh.category,
            authorized_by=fresh.authorized_by,
            revocation_override=fresh.override_by is not None,
            residential_exemption=fresh.residential_exemption,
            national_dnc_as_of=await self.store.consent.national_dnc_as_of(),
        )


def consent(number: str, scope: Purpose, at: dt.datetime, written: bool = False) -> ConsentInput:
    return ConsentInput(
        number=number,
        scope=scope,
        source=ConsentSource.ENROLLMENT,
        method="enrollment form",
        obtained_at=at,
        disclosure="We may call you with automated messages.",
        evidence_ref="SIS:form",
        contact_ref="parent",
        signature_ref="esign:1" if written else "",
        written=written,
    )


async def open_world(tmp_path: Path) -> World:
    create_key_file(tmp_path / "dialer.key")
    clock = Clock(T0 - dt.timedelta(days=1))
    store = await Store.open(tmp_path / "dialer.db", tmp_path / "dialer.key", clock=clock)
    await store.consent.add_caller_id(CALLER_ID, "office", "admin")
    list_id = await store.contacts.import_list(
        "parents",
        [NewContact(f"s{i}", n, "en", {}) for i, n in enumerate((A, B, C, D, E, F, G))],
        replace=False,
        operator="admin",
    )
    contacts = {c.number: c for c in await store.contacts.contacts(list_id)}
    day_before = T0 - dt.timedelta(days=2)
    for number in (A, B, E, F):
        await store.consent.add_consent(consent(number, Purpose.SCHOOL, day_before), "admin")
    await store.consent.add_consent(consent(C, Purpose.INFORMATIONAL, day_before), "admin")
    specs = {
        "school-news": (Purpose.SCHOOL, None, None),
        "reminders": (Purpose.INFORMATIONAL, None, None),
        "closure": (Purpose.EMERGENCY, EmergencyCategory.CLOSURE, "Superintendent"),
        "offers": (Purpose.TELEMARKETING, None, None),
    }
    campaigns = {}
    for name, (purpose, category, authorizer) in specs.items():
        await store.campaigns.create(
            NewCampaign(
                name=name,
                purpose=purpose,
                list_id=list_id,
                message=MessageSpec("body"),
                caller_id=CALLER_ID,
                window_start=dt.time(8),
                window_end=dt.time(20 if purpose is Purpose.TELEMARKETING else 21),
                max_attempts=1,
                retry_delay=300,
                category=category,
                authorized_by=authorizer,
            ),
            "admin",
        )
        campaigns[name] = await store.campaigns.get(name)
    return World(store, clock, tmp_path / "dialer.db", campaigns, contacts)


async def clean_history(w: World) -> dict[str, str]:
    """What the product does on a normal day; returns call ids by label."""
    ids: dict[str, str] = {}
    w.clock.at(dt.timedelta(hours=1))
    for label, number in (("A1", A), ("B1", B), ("D1", D), ("E1", E)):
        ids[label], _ = await w.attempt("school-news", number)
    ids["C1"], _ = await w.attempt("reminders", C)
    # an SMS STOP from A, received a minute before the hook delivered it
    w.clock.at(dt.timedelta(hours=2))
    await handle_inbound_sms(w.store, A, "Stop.", "SM-1", w.clock() - dt.timedelta(seconds=60))
    w.clock.at(dt.timedelta(hours=2, minutes=10))
    ids["A2"], _ = await w.attempt("school-news", A)  # blocked: revoked (C6)
    # B calls the hotline
    w.clock.at(dt.timedelta(hours=3))
    await w.store.consent.revoke(
        B,
        RevocationChannel.HOTLINE,
        source_ref="1772470800.1",
        received_at=w.clock() - dt.timedelta(seconds=5),
        recorded_by="hotline",
    )
    w.clock.at(dt.timedelta(hours=3, minutes=1))
    ids["B2"], _ = await w.attempt("closure", B)  # blocked: revoked, no override (C6)
    await w.store.campaigns.set_override("closure", "Superintendent", "building fire")
    ids["B3"], _ = await w.attempt("closure", B)  # allowed: audited override
    # C presses 9 on a reminder call: keypad revocation named after the call (C10)
    w.clock.at(dt.timedelta(hours=4))
    call_id, decision = await w.attempt("reminders", C, outcome=Outcome.OPTED_OUT, digits="9")
    assert decision.allowed
    await w.store.consent.revoke(
        C, RevocationChannel.KEYPAD, source_ref=call_id, recorded_by="keypad"
    )
    ids["C2"] = call_id
    # E is erased; the next attempt is blocked
    w.clock.at(dt.timedelta(hours=5))
    await w.store.consent.erase(E, "admin")
    ids["E2"], _ = await w.attempt("school-news", E)
    w.clock.at(dt.timedelta(hours=6))
    return ids


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await open_world(tmp_path)
    yield w
    await w.store.close()


def req(data: dict[str, object], cid: str) -> dict[str, object]:
    requirements = data["requirements"]
    assert isinstance(requirements, list)
    return next(r for r in requirements if r["id"] == cid)


async def test_c20_clean_history_figures(world: World) -> None:
    ids = await clean_history(world)
    data = await audit_report(world.store, T0, T0 + dt.timedelta(days=1))
    json.dumps(data)  # plain data, ready for --json

    assert data["calls_placed_by_purpose"] == {
        "emergency": 1,
        "school": 3,
        "informational": 2,
        "telemarketing": 0,
    }
    assert data["calls_blocked_by_reason"] == {"revoked": 2, "no-consent": 1, "erased": 1}

    rev = data["revocations"]
    assert rev["total"] == 3
    assert rev["by_channel"] == {
        "keypad": 1,
        "hotline": 1,
        "sms": 1,
        "staff": 0,
        "web": 0,
        "email": 0,
    }
    assert rev["seconds_received_to_recorded"] == {"max": 60.0, "median": 5.0}
    nxt = rev["next_attempt"]
    assert nxt["blocked"] == 2 and nxt["allowed_in_violation"] == 0
    assert nxt["revocations_followed_by_an_attempt"] == 2  # C's has none yet
    assert nxt["seconds_recorded_to_blocked_attempt"] == {"max": 600.0, "median": 330.0}
    assert rev["calls_between_received_and_recorded"] == 0

    # E was erased after its call: the log and the facts kept with the attempt still
    # verify it (nothing becomes unverifiable, C20)
    window = data["calls_outside_window"]
    assert window == {
        "checked": 5,
        "unverifiable": 0,
        "count": 0,
        "call_ids": [],
        "unverifiable_call_ids": [],
    }
    consent = data["calls_without_required_consent"]
    assert consent["count"] == 0 and consent["checked"] == 5 and consent["unverifiable"] == 0
    dial_time = data["dial_time"]
    assert dial_time["violations"] == 0 and dial_time["unverifiable"] == 0
    assert dial_time["rules"]["caller-id"]["checked"] == 6  # every placed call
    assert data["gate_facts"] == {"kept": 10, "not_kept": 0, "failing_mac": 0, "call_ids": []}
    assert data["frequency_caps"]["count"] == 0
    assert data["audit_chain"]["ok"] is True
    assert data["audit_chain"]["entries"] == (await world.store.verify_audit()).entries

    assert [r["id"] for r in data["requirements"]] == [f"C{i}" for i in range(1, 21)]
    assert all(r["status"] != "violation" for r in data["requirements"]), data["requirements"]
    assert data["ok"] is True
    assert req(data, "C1")["figures"] == {
        "campaigns_by_purpose": {
            "school": 1,
            "informational": 1,
            "emergency": 1,
            "telemarketing": 1,
        },
        "emergency_without_category_or_authorizer": 0,
        "campaigns_created_in_period": 0,  # created the day before the period
    }
    c2 = req(data, "C2")["figures"]
    assert c2["attempts"] == 10 and c2["blocked"] == 4 and c2["blocked_without_audit_entry"] == 0
    assert req(data, "C6")["figures"]["overrides_recorded"] == 1
    assert req(data, "C6")["figures"]["emergency_override_calls"] == 1
    assert req(data, "C7")["figures"]["blocked_as_revoked_by_purpose"] == {
        "school": 1,
        "emergency": 1,
    }
    assert req(data, "C10")["figures"]["calls_with_9"] == 1
    assert req(data, "C10")["status"] == "ok"
    assert req(data, "C14")["figures"]["allowlisted_caller_ids"] == 1
    assert req(data, "C14")["figures"]["campaigns_not_on_allowlist_now"] == 0
    assert req(data, "C17")["figures"] == {
        "erasures_in_period": 1,
        "erased_suppressions": 1,
        "blocked_erased": 1,
        "calls_to_erased_numbers": 0,
        "call_ids": [],
    }
    c18 = req(data, "C18")
    assert c18["status"] == "ok" and c18["figures"]["found"] == 0
    assert c18["figures"]["numbers"] > 0 and c18["figures"]["scanned_bytes"] > 0
    assert req(data, "C20")["status"] == "ok"
    assert req(data, "C5")["tests"] == "pytest -k c5_"
    # C18: no plaintext number anywhere in the report
    text = json.dumps(data)
    for number in (A, B, C, D, E, CALLER_ID):
        assert number[2:] not in text
    assert ids["A2"] not in text  # nothing to flag: no call ids listed


async def test_c20_period_bounds(world: World) -> None:
    await clean_history(world)
    early = await audit_report(world.store, T0, T0 + dt.timedelta(hours=1, minutes=30))
    assert sum(early["calls_placed_by_purpose"].values()) == 4  # A1, B1, E1, C1
    assert early["calls_blocked_by_reason"] == {"no-consent": 1}
    assert early["revocations"]["total"] == 0
    late = await audit_report(world.store, T0 + dt.timedelta(hours=1, minutes=55), None)
    assert late["revocations"]["total"] == 3
    assert late["calls_placed_by_purpose"]["school"] == 0
    everything = await audit_report(world.store, None, None)
    assert req(everything, "C1")["figures"]["campaigns_created_in_period"] == 4


async def test_c20_detects_calls_outside_window_and_without_consent(world: World) -> None:
    await clean_history(world)
    world.clock.now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)  # 03:00 in New York
    bad, _ = await world.attempt("school-news", D, Decision(True, Reason.ALLOWED, "bug"))
    data = await audit_report(world.store, T0, None)
    assert data["calls_outside_window"]["count"] == 1
    assert data["calls_outside_window"]["call_ids"] == [bad]
    assert data["calls_without_required_consent"]["count"] == 1
    assert data["calls_without_required_consent"]["call_ids"] == [bad]
    for cid in ("C7", "C12", "C20"):
        assert req(data, cid)["status"] == "violation", cid
    assert data["ok"] is False


async def test_c20_detects_an_allowed_call_after_revocation(world: World) -> None:
    await clean_history(world)
    await world.store.consent.revoke(F, RevocationChannel.STAFF, recorded_by="staff")
    world.clock.at(dt.timedelta(hours=6, minutes=5))
    bad, _ = await world.attempt("school-news", F, Decision(True, Reason.ALLOWED, "bug"))
    data = await audit_report(world.store, T0, None)
    nxt = data["revocations"]["next_attempt"]
    assert nxt["allowed_in_violation"] == 1 and nxt["call_ids"] == [bad]
    assert req(data, "C6")["status"] == "violation"
    # after a new consent, the same kind of call is legitimate again
    world.clock.at(dt.timedelta(hours=7))
    await world.store.consent.add_consent(consent(G, Purpose.SCHOOL, world.clock()), "admin")
    await world.store.consent.revoke(G, RevocationChannel.WEB, recorded_by="web")
    world.clock.at(dt.timedelta(hours=7, minutes=1))
    await world.store.consent.add_consent(consent(G, Purpose.SCHOOL, world.clock()), "admin")
    _, ok = await world.attempt("school-news", G)
    assert ok.allowed
    again = await audit_report(world.store, T0, None)
    assert again["revocations"]["next_attempt"]["allowed_after_new_consent"] == 1
    assert again["revocations"]["next_attempt"]["allowed_in_violation"] == 1


async def test_c20_detects_keypad_9_without_revocation_and_frequency_cap(world: World) -> None:
    await clean_history(world)
    world.clock.at(dt.timedelta(hours=6))
    nine, _ = await world.attempt("school-news", F, outcome=Outcome.OPTED_OUT, digits="9")
    offers = []
    for minute in range(4):  # four telemarketing calls in an hour, no DNC copy: gate bypassed
        world.clock.at(dt.timedelta(hours=7, minutes=minute))
        call_id, _ = await world.attempt("offers", G, Decision(True, Reason.ALLOWED, "bug"))
        offers.append(call_id)
    data = await audit_report(world.store, T0, None)
    c10 = req(data, "C10")
    assert c10["status"] == "violation" and c10["figures"]["call_ids"] == [nine]
    assert data["frequency_caps"]["call_ids"] == [offers[3]]
    assert req(data, "C13")["status"] == "violation"
    assert req(data, "C15")["figures"]["telemarketing_calls_with_stale_list"] == 4
    assert req(data, "C15")["status"] == "violation"
    assert data["calls_without_required_consent"]["count"] == 4  # no written consent


async def test_c15_dnc_age_is_reported(world: World) -> None:
    world.clock.now = T0
    await world.store.consent.import_national_dnc([D], dt.date(2026, 2, 20), "dnc.csv")
    data = await audit_report(world.store, None, T0 + dt.timedelta(days=1))
    figures = req(data, "C15")["figures"]
    assert figures["as_of"] == "2026-02-20" and figures["entries"] == 1
    assert figures["age_days"] == 11


async def test_c19_broken_chain_is_reported_not_raised(world: World) -> None:
    await clean_history(world)
    await world.store.close()
    with sqlite3.connect(world.path) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 3")
    world.store = await Store.open(
        world.path, world.path.with_name("dialer.key"), clock=world.clock
    )
    data = await audit_report(world.store, None, None)
    assert data["audit_chain"]["ok"] is False
    assert "entry 3" in data["audit_chain"]["error"]
    assert req(data, "C19")["status"] == "violation"
    assert data["ok"] is False


async def test_c20_render_shows_every_table_and_requirement(world: World) -> None:
    await clean_history(world)
    data = await audit_report(world.store, T0, None)
    console = Console(record=True, width=200)
    render_report(data, console)
    text = " ".join(console.export_text().split())  # titles wrap to table width
    for heading in (
        "Calls placed by purpose",
        "Calls blocked by reason",
        "Revocations by channel",
        "Time from revocation to effect",
        "Must be zero",
        "Requirements",
    ):
        assert heading in text
    for i in range(1, 21):
        assert f"C{i} " in text
    assert "no violations found" in text


def test_c20_audit_report_command_prints_json(tmp_path: Path) -> None:
    async def build() -> None:
        w = await open_world(tmp_path)
        try:
            await clean_history(w)
        finally:
            await w.store.close()

    asyncio.run(build())
    config = tmp_path / "dialer.toml"
    config.write_text("", encoding="utf-8")
    result = CliRunner().invoke(
        cli_app, ["--config", str(config), "audit", "report", "--since", "2026-03-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period"]["since"] == "2026-03-01T00:00:00+00:00"
    assert data["calls_placed_by_purpose"]["school"] == 3
    assert len(data["requirements"]) == 20


# -- every violation class is planted and seen (issue 7, item 2) ----------------------

BUG = Decision(True, Reason.ALLOWED, "bug")


async def _emergency(w: World, name: str) -> None:
    list_id = w.campaigns["closure"].list_id
    await w.store.campaigns.create(
        NewCampaign(
            name=name,
            purpose=Purpose.EMERGENCY,
            list_id=list_id,
            message=MessageSpec("body"),
            caller_id=CALLER_ID,
            window_start=dt.time(8),
            window_end=dt.time(21),
            max_attempts=1,
            retry_delay=300,
            category=EmergencyCategory.SAFETY,
            authorized_by="Superintendent",
        ),
        "admin",
    )
    w.campaigns[name] = await w.store.campaigns.get(name)


async def _violations(w: World) -> dict[str, object]:
    data = await audit_report(w.store, T0, None)
    assert data["ok"] is False
    return data


def _rule(data: dict[str, object], rule: str) -> dict[str, object]:
    dial_time = data["dial_time"]
    assert isinstance(dial_time, dict)
    found: dict[str, object] = dial_time["rules"][rule]
    return found


@pytest.mark.parametrize(
    ("plant", "rule", "cid"),
    [
        ("company-dnc", "company-dnc", "C4"),
        ("wrong-party", "wrong-party", "C16"),
        ("erased", "erased", "C17"),
        ("caller-id-removed", "caller-id", "C14"),
    ],
)
async def test_c20_detects_a_call_the_lists_forbade(
    world: World, plant: str, rule: str, cid: str
) -> None:
    await clean_history(world)
    world.clock.at(dt.timedelta(hours=6))
    if plant == "company-dnc":
        await world.store.consent.add_company_dnc(F, "letter")
    elif plant == "wrong-party":
        await world.store.consent.suppress_wrong_party(F, "call:8")
    elif plant == "erased":
        await world.store.consent.erase(F, "dpo")
    else:
        await world.store.consent.remove_caller_id(CALLER_ID, "admin")
    world.clock.at(dt.timedelta(hours=6, minutes=5))
    bad, _ = await world.attempt("school-news", F, BUG)
    if plant == "caller-id-removed":  # put back afterwards: the report judges dial time
        world.clock.at(dt.timedelta(hours=6, minutes=10))
        await world.store.consent.add_caller_id(CALLER_ID, "office", "admin")
    data = await _violations(world)
    found = _rule(data, rule)
    assert found["violations"] == 1 and found["call_ids"] == [bad]
    assert found["unverifiable"] == 0  # an erased number is a violation, not "unverifiable"
    assert req(data, cid)["status"] == "violation"
    assert bad in req(data, cid)["figures"]["call_ids"]


async def test_c15_detects_a_telemarketing_call_to_the_national_dnc(world: World) -> None:
    await clean_history(world)
    world.clock.at(dt.timedelta(hours=6))
    await world.store.consent.add_consent(consent(G, Purpose.TELEMARKETING, T0, True), "admin")
    await world.store.consent.import_national_dnc([G], world.clock().date(), "national.csv")
    world.clock.at(dt.timedelta(hours=6, minutes=5))
    bad, _ = await world.attempt("offers", G, BUG)
    # the copy is replaced afterwards: the facts kept with the attempt still tell
    await world.store.consent.import_national_dnc([A], world.clock().date(), "national2.csv")
    data = await _violations(world)
    found = _rule(data, "national-dnc")
    assert found["violations"] == 1 and found["call_ids"] == [bad]
    assert req(data, "C15")["status"] == "violation"
    assert req(data, "C15")["figures"]["telemarketing_calls_to_national_dnc"] == 1


async def test_c6_detects_emergency_calls_without_an_override(world: World) -> None:
    await clean_history(world)
    await _emergency(world, "fire")
    world.clock.at(dt.timedelta(hours=6, minutes=5))
    # A revoked by SMS earlier; this emergency campaign has no override
    revoked, _ = await world.attempt("fire", A, BUG)
    # D never revoked anything, but the call claims an override that does not exist
    claimed, _ = await world.attempt(
        "fire", D, Decision(True, Reason.EMERGENCY_OVERRIDE, "bug", False)
    )
    data = await _violations(world)
    assert _rule(data, "revoked-emergency")["call_ids"] == [revoked]
    assert _rule(data, "override-claimed")["call_ids"] == [claimed]
    c6 = req(data, "C6")
    assert c6["status"] == "violation"
    assert c6["figures"]["emergency_calls_to_revoked_without_override"] == 1
    assert c6["figures"]["calls_marked_overridden_without_override"] == 1
    # "closure" had its override recorded before B3: that call is fine
    assert _rule(data, "override-claimed")["checked"] == 2


async def test_c12_detects_a_call_outside_the_window_after_the_list_was_replaced(
    world: World,
) -> None:
    await clean_history(world)
    world.clock.now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)  # 03:00 in New York
    bad, _ = await world.attempt("school-news", B, BUG)
    await world.store.contacts.import_list(
        "parents", [NewContact("x", D, "en", {})], replace=True, operator="admin"
    )
    data = await audit_report(world.store, T0, None)
    window = data["calls_outside_window"]
    assert window["call_ids"] == [bad] and window["unverifiable"] == 0
    assert req(data, "C12")["status"] == "violation"


async def test_c20_a_call_that_cannot_be_checked_is_a_finding_not_a_pass(world: World) -> None:
    """A caller that passes no facts still gets the zones and the national DNC
    answer kept by the store; an attempt from before facts were kept (an older
    dialer) whose number is in no contact list any more cannot be re-checked.
    (A list a campaign pins keeps its contents, issue 11: the number was in a
    list nobody pinned, loaded again since.)"""
    await clean_history(world)
    world.clock.at(dt.timedelta(hours=6))
    camp = world.campaigns["school-news"]
    gone = "+12125550108"
    await world.store.consent.add_consent(
        consent(gone, Purpose.SCHOOL, T0 - dt.timedelta(days=2)), "admin"
    )
    await world.store.contacts.import_list(
        "old-list", [NewContact("y", gone, "en", {})], replace=False, operator="admin"
    )
    (old,) = await world.store.contacts.contacts(await world.store.contacts.list_id("old-list"))
    decision = decide(gone, await world.store.consent.facts_for(gone), await world.rules(camp), T0)
    for call_id in ("no-facts-passed", "old-dialer"):
        await world.store.campaigns.record_decision(
            call_id=call_id,
            campaign=camp,
            contact_id=old.id,
            number=gone,
            attempt_no=1,
            decision=decision,
            with_consent=True,
            language="en",
        )
    with sqlite3.connect(world.path) as conn:  # as written before migration 7
        conn.execute(
            "UPDATE attempts SET gate_facts = NULL, gate_mac = NULL WHERE id = 'old-dialer'"
        )
    await world.store.contacts.import_list(
        "old-list", [NewContact("x", D, "en", {})], replace=True, operator="admin"
    )
    data = await audit_report(world.store, T0, None)
    assert data["calls_outside_window"]["unverifiable_call_ids"] == ["old-dialer"]
    assert req(data, "C12")["status"] == "unverified"
    assert data["ok"] is False and "C12" in data["unverified"]
    console = Console(record=True, width=200)
    render_report(data, console)
    text = " ".join(console.export_text().split())
    assert "no violations found" not in text and "NOT VERIFIED" in text


async def test_c19_an_edited_gate_snapshot_is_reported(world: World) -> None:
    ids = await clean_history(world)
    await world.store.close()
    with sqlite3.connect(world.path) as conn:
        conn.execute(
            "UPDATE attempts SET gate_facts = replace(gate_facts, '\"erased\":false', "
            "'\"erased\":true') WHERE id = ?",
            (ids["B1"],),
        )
    world.store = await Store.open(
        world.path, world.path.with_name("dialer.key"), clock=world.clock
    )
    data = await audit_report(world.store, T0, None)
    assert data["gate_facts"]["call_ids"] == [ids["B1"]]
    assert req(data, "C19")["status"] == "violation"
