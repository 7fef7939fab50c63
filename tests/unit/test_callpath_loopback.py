"""The runner and the FastAGI route, driven end to end by a loopback fake Asterisk.

Root-free (no sandbox): ``support.fake_asterisk`` stands where Asterisk would
be and says so. These tests produce the orders of events that made issue 7's
races: a 9 or an 8 only AMI saw (pressed while no AGI command listened), then a
hang-up; a 9 while the store refuses or holds its write lock. The same runner
also runs against the real sandbox Asterisk and SIPp phones in
tests/integration (test_callpath_live.py and others).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_asterisk import FakeAsterisk, Key, Phone
from support.sample import daytime_prefix, sample_number, write_contacts
from support.workspace import CALLER_ID, Workspace, make_workspace


@pytest.fixture
def phones() -> dict[str, Phone]:
    """number (digits, no +) -> how that phone behaves; tests fill it in."""
    return {}


@pytest.fixture
def fake(tmp_path: Path, phones: dict[str, Phone]) -> Iterator[FakeAsterisk]:
    with FakeAsterisk(tmp_path, lambda number: phones.get(number, Phone()), 0.05) as peer:
        yield peer


def _workspace(tmp_path: Path, fake: FakeAsterisk, **kw: object) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    return make_workspace(root, fake, ring_timeout=5, **kw)  # type: ignore[arg-type]


def _run(ws: Workspace, campaign: str = "c") -> dict[str, object]:
    report: dict[str, object] = json.loads(ws.ok("campaign", "run", campaign, "--json"))
    return report


def _outcomes(report: dict[str, object]) -> dict[str, str]:
    return {c["contact"]: c["outcome"] for c in report["per_contact"]}  # type: ignore[attr-defined, index]


def _keypad_revocations(ws: Workspace) -> list[tuple[str, str]]:
    with sqlite3.connect(ws.settings().store.path) as db:
        return db.execute("SELECT channel, source_ref FROM revocations").fetchall()


def _number(serial: int, phone: int) -> str:
    return sample_number(daytime_prefix(), serial, phone)


@pytest.mark.parametrize("via_dialplan", [False, True], ids=["direct", "dialplan-hop"])
def test_every_kind_of_call_through_the_fake(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone], via_dialplan: bool
) -> None:
    listener, busy, presser = _number(1, 2), _number(2, 3), _number(3, 1)
    noanswer = _number(4, 4)
    phones[busy.lstrip("+")] = Phone(answer=False, failure=("BUSY", 17))
    phones[noanswer.lstrip("+")] = Phone(answer=False, failure=("NOANSWER", 19))
    phones[presser.lstrip("+")] = Phone(keys=(Key(0.1, "9"),))
    ws = _workspace(tmp_path, fake, dial_via_dialplan=via_dialplan)
    contacts = {"listener": listener, "busy": busy, "noanswer": noanswer, "presser": presser}
    ws.school_campaign(contacts)
    report = _run(ws)
    assert _outcomes(report) == {
        "listener": "completed",
        "busy": "busy",
        "noanswer": "no-answer",
        "presser": "opted-out",
    }
    rows = {c["contact"]: c for c in report["per_contact"]}  # type: ignore[attr-defined]
    assert (rows["busy"]["hangup_cause"], rows["noanswer"]["hangup_cause"]) == (17, 19)
    # the Originate named the callee's channel itself, or the dialplan hop
    hop = "Local/dial@dialer-outbound"
    expected = (
        {hop}
        if via_dialplan
        else {f"Local/{n.lstrip('+')}@sandbox-phones" for n in contacts.values()}
    )
    assert {c.originated for c in fake.calls} == expected
    heard = next(c for c in fake.calls if c.number == listener.lstrip("+"))
    assert heard.hung_up_by == "engine"  # after the message and the listening time
    assert any("confirmation" in a for a in _agi_plays(fake, presser))
    assert _keypad_revocations(ws) == [("keypad", _call_id(report, "presser"))]


def test_c10_race_9_seen_only_by_ami_then_hangup_is_an_opt_out(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    """Issue 7 race 1: the 9 reached AMI only, the callee hung up 0.3 s later."""
    presser, other = _number(4, 1), _number(5, 2)
    # the segment playing when the key came is still playing at the hang-up
    phones[presser.lstrip("+")] = Phone(
        keys=(Key(0.12, "9", agi_hears=False),), hang_up_at=0.42, play_seconds=2.0
    )
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"presser": presser, "other": other})
    report = _run(ws)
    assert _outcomes(report)["presser"] == "opted-out"
    assert _keypad_revocations(ws) == [("keypad", _call_id(report, "presser"))]
    # C6: a later campaign never dials the number
    ws.create_campaign("again")
    again = _run(ws, "again")
    per = {c["contact"]: c for c in again["per_contact"]}  # type: ignore[attr-defined]
    assert per["presser"]["gate"] == "revoked"
    assert fake.originated(presser) == 1


def test_c16_race_8_seen_only_by_ami_suppresses_the_number(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    """Issue 7 race 2: an 8 only AMI saw still flags the number for staff review."""
    wrong = _number(6, 8)
    phones[wrong.lstrip("+")] = Phone(
        keys=(Key(0.12, "8", agi_hears=False),), hang_up_at=0.42, play_seconds=2.0
    )
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"wrong": wrong})
    assert _outcomes(_run(ws))["wrong"] == "wrong-number"
    review = json.loads(ws.ok("contacts", "review", "--json"))
    assert len(review) == 1
    ws.create_campaign("again")
    per = {c["contact"]: c for c in _run(ws, "again")["per_contact"]}  # type: ignore[attr-defined]
    assert per["wrong"]["gate"] == "wrong-party"


def test_c10_race_9_while_the_store_refuses_writes_is_retried_until_committed(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    """Issue 7 race 3: the revocation write fails (a real SQLite error) for 1.5 s."""
    presser = _number(7, 1)
    phones[presser.lstrip("+")] = Phone(keys=(Key(0.1, "9"),), hang_up_at=0.4)
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"presser": presser})
    db = ws.settings().store.path
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_revocations BEFORE INSERT ON revocations "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
        )

    def lift_later() -> None:
        time.sleep(1.5)
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER refuse_revocations")

    lifter = threading.Thread(target=lift_later)
    lifter.start()
    try:
        report = _run(ws)
    finally:
        lifter.join()
    assert _outcomes(report)["presser"] == "opted-out"
    assert _keypad_revocations(ws) == [("keypad", _call_id(report, "presser"))]


def test_c10_9_while_another_process_holds_the_write_lock_is_committed(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    presser = _number(8, 1)
    phones[presser.lstrip("+")] = Phone(keys=(Key(0.1, "9"),), hang_up_at=0.4)
    ws = _workspace(tmp_path, fake)
    ws.school_campaign({"presser": presser})
    db = ws.settings().store.path
    holding = threading.Event()

    def hold_lock() -> None:
        # a large import elsewhere: wait for the call to be up, then lock for 2 s
        deadline = time.monotonic() + 30
        while not fake.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holding.set()
        time.sleep(2.0)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        report = _run(ws)
    finally:
        holder.join()
    assert holding.is_set()
    assert _outcomes(report)["presser"] == "opted-out"
    assert _keypad_revocations(ws) == [("keypad", _call_id(report, "presser"))]


def _agi_plays(fake: FakeAsterisk, number: str) -> list[str]:
    record = next(c for c in fake.calls if c.number == number.lstrip("+"))
    return [a for a in record.agi_commands if a.startswith("STREAM FILE")]


def _call_id(report: dict[str, object], contact: str) -> str:
    per = {c["contact"]: c for c in report["per_contact"]}  # type: ignore[attr-defined]
    return str(per[contact]["call_id"])


def _telemarketing(ws: Workspace, contacts: dict[str, str]) -> None:
    """Written consent, a fresh national DNC copy, and a telemarketing campaign."""
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


def test_c13_same_number_listed_six_times_is_one_call_and_the_cap_still_counts(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    """Issue 12: a number listed six times is called once per campaign (a household),
    at any calls per second; issue 7 item 5: the cap (C13: telemarketing, 3 per 24 h)
    still counts every call to it, campaign after campaign."""
    number = _number(9, 2)
    phones[number.lstrip("+")] = Phone(hang_up_at=0.1)
    ws = _workspace(tmp_path, fake, calls_per_second=1000, max_concurrent=20)
    _telemarketing(ws, {f"row{i}": number for i in range(6)})
    report = _run(ws)
    assert fake.originated(number) == 1
    per = report["per_contact"]
    assert [c["covered_by"] for c in per] == [""] + ["row0"] * 5  # type: ignore[index]
    assert report["calls_placed"] == 1
    gates = []
    for name in ("c2", "c3", "c4"):
        ws.ok("campaign", "create", name, "--purpose", "telemarketing", "--list", "l",
              "--message", "m", "--caller-id", CALLER_ID)  # fmt: skip
        gates.append(_run(ws, name)["per_contact"][0]["gate"])  # type: ignore[index]
    assert gates == ["allowed", "allowed", "frequency-cap"]
    assert fake.originated(number) == 3


def test_c14_caller_id_removed_mid_run_stops_the_next_call(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    """Issue 7 item 5: the allowlist is read for every attempt, not once per run."""
    numbers = {f"n{i}": _number(i, 2) for i in range(3)}
    for number in numbers.values():
        phones[number.lstrip("+")] = Phone(hang_up_at=1.0)
    ws = _workspace(tmp_path, fake, max_concurrent=1)
    ws.school_campaign(numbers)
    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not fake.calls:
            assert time.monotonic() < deadline and engine.poll() is None, "never dialled"
            time.sleep(0.02)
        ws.ok("callerid", "remove", CALLER_ID)
        assert engine.wait(timeout=30) == 0
    finally:
        if engine.poll() is None:
            engine.kill()
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    gates = [c["gate"] for c in report["per_contact"]]
    assert gates.count("allowed") == 1
    assert gates.count("caller-id-not-allowed") == 2
    assert fake.originated() == 1


def test_asterisk_going_away_mid_call_records_interrupted_by_pbx_and_stops(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    numbers = {f"n{i}": _number(i, 2) for i in range(3)}
    for number in numbers.values():
        phones[number.lstrip("+")] = Phone(play_seconds=5.0)  # a long message
    ws = _workspace(tmp_path, fake, max_concurrent=1)
    # a foreground run waits engine.pbx_wait_seconds for Asterisk to come back
    # (tests/integration/test_service_resilience.py); here it gives up after 1 s
    text = ws.config.read_text().replace("[engine]\n", "[engine]\npbx_wait_seconds = 1\n", 1)
    ws.config.write_text(text)
    ws.school_campaign(numbers)
    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(c.answered for c in fake.calls):
            assert time.monotonic() < deadline and engine.poll() is None, "never answered"
            time.sleep(0.02)
        time.sleep(0.5)
        fake.stop_pbx()
        _out, err = engine.communicate(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 7, err
    assert "lost the AMI connection" in err
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    outcomes = sorted(c["outcome"] for c in report["per_contact"])
    assert outcomes == ["interrupted-by-pbx", "pending", "pending"], outcomes
