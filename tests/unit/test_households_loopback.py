"""Households through the runner, root-free (issue 12 item 2).

``support.fake_asterisk`` stands where Asterisk would be (it says so) and
counts the calls it is asked to place; the same behaviour runs against the
sandbox Asterisk and SIPp phones in tests/integration/test_households_live.py.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_asterisk import FakeAsterisk, Phone
from support.sample import daytime_prefix, sample_number, write_consents
from support.workspace import CALLER_ID, Workspace, make_workspace

from dialer.audio import templates, tts
from dialer.commands.campaign import _household

HEADER = [
    "Student Number",
    "Student Name",
    "Contact Name",
    "Relationship",
    "Home Phone",
    "Cell Phone",
    "Work Phone",
    "Language",
    "No Contact",
    "school",
    "date",
]


@pytest.fixture
def phones() -> dict[str, Phone]:
    return {}


@pytest.fixture
def fake(tmp_path: Path, phones: dict[str, Phone]) -> Iterator[FakeAsterisk]:
    with FakeAsterisk(tmp_path, lambda number: phones.get(number, Phone()), 0.05) as peer:
        yield peer


def _number(serial: int, phone: int) -> str:
    return sample_number(daytime_prefix(), serial, phone)


def _lopez(tmp_path: Path, home: str, mobile: str, work: str, restricted: str) -> Path:
    """Ana, Ben and Cy share their mother's home and mobile; Cy's father shares the
    home and has a work phone; Ben's other father may not be contacted (restricted)."""
    rows = [
        ["S-1", "Ana Lopez", "Maria Lopez", "Mother", home, mobile, "", "Spanish", ""],
        ["S-2", "Ben Lopez", "Maria Lopez", "Mother", home, mobile, "", "Spanish", ""],
        ["S-3", "Cy Lopez", "Maria Lopez", "Mother", home, mobile, "", "Spanish", ""],
        ["S-3", "Cy Lopez", "Jorge Lopez", "Father", home, "", work, "Spanish", ""],
        ["S-2", "Ben Lopez", "Paul Ruiz", "Father", restricted, "", "", "Spanish", "Yes"],
    ]
    path = tmp_path / "sis.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows([*r, "Lincoln", "2026-03-02"] for r in rows)
    return path


def _setup(tmp_path: Path, fake: FakeAsterisk, phones_option: str, *numbers: str) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    ws = make_workspace(root, fake, ring_timeout=5)  # type: ignore[arg-type]
    ws.ok("consent", "import", str(write_consents(root / "consent.csv", list(numbers))))
    out = json.loads(
        ws.ok("contacts", "import", str(_lopez(root, *numbers)), "--list", "l", "--json")
    )
    assert out["restricted"] == 1
    ws.ok("callerid", "add", CALLER_ID, "--label", "office")
    ws.ok(
        "campaign", "create", "absent", "--purpose", "emergency", "--category", "attendance",
        "--authorized-by", "Principal Lee", "--list", "l", "--message",
        "template:attendance-absence", "--caller-id", CALLER_ID, "--phones", phones_option,
        "--retry-delay", "0", "--max-attempts", "2",
    )  # fmt: skip
    return ws


def _tts_key(ws: Workspace, text: str, language: str) -> str:
    store = ws.store()

    async def key() -> bytes:
        try:
            return store.sealer.name_key("tts")
        finally:
            await store.close()

    voice = tts.voice_for(language)
    assert voice is not None
    return tts.cache_key(
        tts.clean_text(text), language, voice, tts.DEFAULT_SPEED_WPM, asyncio.run(key())
    )


def test_siblings_sharing_a_phone_get_one_call_naming_every_child(
    tmp_path: Path, fake: FakeAsterisk
) -> None:
    home, mobile, work, restricted = _number(0, 2), _number(1, 2), _number(2, 2), _number(3, 2)
    ws = _setup(tmp_path, fake, "primary", home, mobile, work, restricted)

    report = json.loads(ws.ok("campaign", "run", "absent", "--json"))

    assert fake.by_number() == {home.lstrip("+"): 1}
    rows = report["per_contact"]
    assert [(r["contact"], r["outcome"], r["covered_by"]) for r in rows] == [
        ("S-1", "completed", ""),
        ("S-1", "not-primary", ""),
        ("S-2", "completed", "S-1"),
        ("S-2", "not-primary", ""),
        ("S-3", "completed", "S-1"),
        ("S-3", "not-primary", ""),
        ("S-3", "completed", "S-1"),
        ("S-3", "not-primary", ""),
    ]
    assert rows[0]["household"] == ["S-1", "S-2", "S-3", "S-3"]
    assert report["calls_placed"] == 1
    # the call spoke every child, once each, in the household's language
    spanish = templates.READY_TEMPLATES["attendance-absence"].texts["es"]
    said = spanish.format(
        student_name="Ana, Ben y Cy Lopez",
        school="Lincoln",
        date=templates.speakable("2026-03-02", "es"),
    )
    key = _tts_key(ws, said, "es")
    call = fake.calls[0]
    assert any(key in a for a in call.agi_commands if a.startswith("STREAM FILE"))
    # the table a person reads names the household
    assert _household(rows[0]) == "call for S-1, S-2, S-3, S-3"
    assert _household(rows[2]) == "covered by S-1's call"
    assert _household(rows[1]) == ""
    assert "household" in ws.ok("campaign", "report", "absent")
    # status: nobody is left pending
    status = json.loads(ws.ok("campaign", "status", "absent", "--json"))
    assert "pending" not in json.dumps(status)
    # a second run calls nobody again
    ws.ok("campaign", "run", "absent")
    assert fake.originated() == 1


def test_all_phones_call_each_number_once(tmp_path: Path, fake: FakeAsterisk) -> None:
    home, mobile, work, restricted = _number(0, 2), _number(1, 2), _number(2, 2), _number(3, 2)
    ws = _setup(tmp_path, fake, "all", home, mobile, work, restricted)
    ws.ok("campaign", "run", "absent")
    assert fake.by_number() == {n.lstrip("+"): 1 for n in (home, mobile, work)}


def test_until_reached_home_busy_then_mobile_answers(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    home, mobile, work, restricted = _number(0, 3), _number(1, 2), _number(2, 2), _number(3, 2)
    phones[home.lstrip("+")] = Phone(answer=False, failure=("BUSY", 17))
    ws = _setup(tmp_path, fake, "until-reached", home, mobile, work, restricted)

    report = json.loads(ws.ok("campaign", "run", "absent", "--json"))

    # the home phone (both parents' first) was busy: the mother's mobile and the
    # father's work phone were called; both answered, so the home is not retried
    # (--max-attempts 2, --retry-delay 0 would have called it again at once)
    assert fake.by_number() == {home.lstrip("+"): 1, mobile.lstrip("+"): 1, work.lstrip("+"): 1}
    assert fake.calls[0].number == home.lstrip("+")
    outcomes = [(r["contact"], r["outcome"]) for r in report["per_contact"]]
    assert outcomes == [
        ("S-1", "busy"),
        ("S-1", "completed"),
        ("S-2", "busy"),
        ("S-2", "completed"),
        ("S-3", "busy"),
        ("S-3", "completed"),
        ("S-3", "busy"),
        ("S-3", "completed"),
    ]


def test_until_reached_mobile_skipped_when_home_answers(tmp_path: Path, fake: FakeAsterisk) -> None:
    home, mobile, work, restricted = _number(0, 2), _number(1, 2), _number(2, 2), _number(3, 2)
    ws = _setup(tmp_path, fake, "until-reached", home, mobile, work, restricted)
    report = json.loads(ws.ok("campaign", "run", "absent", "--json"))
    assert fake.by_number() == {home.lstrip("+"): 1}
    skipped = {r["outcome"] for r in report["per_contact"] if r["outcome"] != "completed"}
    assert skipped == {"reached-elsewhere"}


def test_until_reached_retries_go_round_the_sequence(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    home, mobile, work, restricted = _number(0, 3), _number(1, 4), _number(2, 4), _number(3, 2)
    phones[home.lstrip("+")] = Phone(answer=False, failure=("BUSY", 17))
    phones[mobile.lstrip("+")] = phones[work.lstrip("+")] = Phone(answer=False)
    ws = _setup(tmp_path, fake, "until-reached", home, mobile, work, restricted)
    ws.ok("campaign", "run", "absent")
    order = [c.number for c in fake.calls]
    # nobody reached: each phone twice (--max-attempts 2); the home's retry only
    # after the mother's mobile was tried (her sequence goes round again; the
    # father's work phone may still be rendering its own text then)
    assert sorted(fake.by_number().values()) == [2, 2, 2]
    assert order[0] == home.lstrip("+")
    assert order.index(home.lstrip("+"), 1) > order.index(mobile.lstrip("+"))


def test_a_changed_number_needs_its_own_consent_and_the_old_opt_out_stays(
    tmp_path: Path, fake: FakeAsterisk
) -> None:
    """Issue 12 item 4: the nightly sync replaces a guardian's number; the new one is
    a new number for the gate (no consent: not called), the old one keeps its opt-out."""
    home, mobile, work, restricted = _number(0, 2), _number(1, 2), _number(2, 2), _number(3, 2)
    ws = _setup(tmp_path, fake, "primary", home, mobile, work, restricted)
    ws.ok("consent", "revoke", home, "--channel", "email", "--ref", "ticket-7")
    new_home = _number(4, 2)
    export = _lopez(tmp_path, new_home, mobile, work, restricted)
    out = json.loads(ws.ok("contacts", "import", str(export), "--list", "l", "--replace", "--json"))
    assert out["changes"]["changed"] == 4  # the home phone of 4 student-guardian pairs
    ws.ok(
        "campaign", "create", "again", "--purpose", "school", "--list", "l",
        "--message", "template:attendance-absence", "--caller-id", CALLER_ID,
    )  # fmt: skip
    report = json.loads(ws.ok("campaign", "run", "again", "--json"))
    assert fake.originated() == 0
    lead = next(r for r in report["per_contact"] if r["household"])
    assert (lead["outcome"], lead["gate"]) == ("blocked", "no-consent")
    store = ws.store()

    async def check() -> None:
        try:
            assert (await store.consent.facts_for(home)).revoked_at is not None
            assert (await store.consent.facts_for(new_home)).revoked_at is None
        finally:
            await store.close()

    asyncio.run(check())
