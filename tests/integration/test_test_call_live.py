"""Test call to yourself (issue 14 item 2) through the real sandbox Asterisk and SIPp.

The staff phone is SIPp phone 1 (answers, presses 9 about 1.5 s later); the
campaign's contacts are SIPp phones too, so their traces prove that nobody but
the staff phone got an INVITE. A 9 on a test call revokes nothing, is not an
attempt of the campaign, and is audited as a test call.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import Workspace, make_workspace

pytestmark = pytest.mark.integration


def _rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(ws.settings().store.path)) as conn:
        return list(conn.execute(sql).fetchall())


def test_test_call_rings_only_the_staff_phone_and_9_revokes_nothing(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    contact = sample_number(prefix, 1, 1)  # SIPp phone 1 too: it must never ring
    other = sample_number(prefix, 2, 2)  # SIPp phone 2
    staff = sample_number(prefix, 3, 1)  # the staff phone: SIPp phone 1, presses 9
    ws.school_campaign({"s-1": contact, "s-2": other})
    ws.ok("staff-phone", "add", staff, "--label", "Ms. Diaz mobile")
    before = {n: phones.invites(d, n) for n, d in ((contact, 1), (other, 2), (staff, 1))}

    result = ws.dialer("campaign", "test-call", "c", "--to", staff, "--as-contact", "s-1", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "opted-out" and data["digits"].startswith("9")
    assert data["contact"] == "s-1" and data["counted_as_campaign_call"] is False
    assert phones.invites(1, staff) == before[staff] + 1  # the staff phone rang, once
    assert phones.invites(1, contact) == before[contact]  # no contact did
    assert phones.invites(2, other) == before[other]
    # 9 on a test call: nothing revoked, nothing suppressed, no attempt of the campaign
    assert _rows(ws, "SELECT COUNT(*) FROM revocations") == [(0,)]
    assert _rows(ws, "SELECT COUNT(*) FROM suppressions") == [(0,)]
    assert _rows(ws, "SELECT COUNT(*) FROM attempts") == [(0,)]
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    assert report["calls_placed"] == 0
    assert {c["outcome"] for c in report["per_contact"]} == {"pending"}
    audits = [
        json.loads(str(p))
        for (p,) in _rows(ws, "SELECT payload FROM audit WHERE kind = 'test-call'")
    ]
    assert [a["outcome"] for a in audits] == ["started", "opted-out"]
    assert all(a["campaign"] == "c" and a["contact"] == "s-1" for a in audits)
    assert staff.lstrip("+") not in json.dumps(audits)  # C18: the keyed hash only
    # the campaign itself still calls the contact afterwards: the test call changed nothing
    run = json.loads(ws.ok("campaign", "run", "c", "--json"))
    assert {c["contact"]: c["outcome"] for c in run["per_contact"]}["s-1"] == "opted-out"
    assert phones.invites(1, contact) == before[contact] + 1


def test_voicemail_test_call_plays_the_answering_machine_version(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    ws.school_campaign({"s-1": sample_number(prefix, 1, 2)})
    # ...86: the sandbox's answering machine (a greeting, then silence)
    staff = sample_number(prefix, 8, 6)
    assert staff.endswith("86")
    ws.ok("staff-phone", "add", staff, "--label", "office voicemail")

    result = ws.dialer("campaign", "test-call", "c", "--to", staff, "--voicemail", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["voicemail"] is True and data["outcome"] == "completed"
    assert "answering machine: voicemail version left" in data["note"]
    assert _rows(ws, "SELECT COUNT(*) FROM attempts") == [(0,)]


def test_test_call_to_a_number_that_is_not_a_staff_phone_dials_nobody(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    contact = sample_number(prefix, 4, 1)
    stranger = sample_number(prefix, 5, 1)
    ws.school_campaign({"s-1": contact})
    # the phones serve the whole session: an earlier test may have called these numbers
    before = phones.invites(1, stranger)
    contact_before = phones.invites(1, contact)

    refused = ws.dialer("campaign", "test-call", "c", "--to", stranger)
    assert refused.exit_code == 2
    assert "is not a staff phone: only staff phones can be called" in refused.output
    unknown = ws.dialer("campaign", "test-call", "nope", "--to", stranger)
    assert unknown.exit_code == 4 and "no campaign named 'nope'" in unknown.output
    ws.ok("staff-phone", "add", stranger, "--label", "desk")
    no_such = ws.dialer("campaign", "test-call", "c", "--to", stranger, "--as-contact", "s-9")
    assert no_such.exit_code == 4 and "no contact 's-9'" in no_such.output

    assert phones.invites(1, stranger) == before
    assert phones.invites(1, contact) == contact_before
    assert _rows(ws, "SELECT COUNT(*) FROM audit WHERE kind = 'test-call'") == [(0,)]


def test_unanswered_test_call_is_one_clear_message(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=3)
    prefix = daytime_prefix()
    ws.school_campaign({"s-1": sample_number(prefix, 6, 2)})
    staff = sample_number(prefix, 7, 4)  # SIPp phone 4: rings, never answers
    ws.ok("staff-phone", "add", staff, "--label", "desk")

    result = ws.dialer("campaign", "test-call", "c", "--to", staff)

    assert result.exit_code == 10
    assert "was not answered (no-answer" in result.output
    assert _rows(ws, "SELECT COUNT(*) FROM attempts") == [(0,)]


def test_test_call_from_the_consoles_preflight_page_rings_only_the_staff_phone(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    """The same test call from the web console (issue 10's pages): the preflight
    page's "Ring my phone" form, the signed-in account audited as the caller."""
    import html

    import httpx
    from support.webapp import WebServer, add_user, form_tokens

    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    contact = sample_number(prefix, 4, 1)  # SIPp phone 1 too: it must never ring
    staff = sample_number(prefix, 5, 1)  # the staff phone: SIPp phone 1, presses 9
    ws.school_campaign({"s-1": contact})
    ws.ok("staff-phone", "add", staff, "--label", "Ms. Diaz mobile")
    add_user(ws.config, "lee", "staff")
    before = {n: phones.invites(1, n) for n in (contact, staff)}

    with WebServer(ws.config) as web:
        lee = web.login("lee")
        lee.timeout = httpx.Timeout(120)  # the page answers when the call has ended
        page = lee.get("/campaigns/c/preflight").text
        reply = lee.post(
            "/campaigns/c/test-call",
            data={"to": staff, "as_contact": "s-1", "at": "", **form_tokens(page)},
        )
        assert reply.status_code == 303, reply.text
        shown = html.unescape(lee.get(reply.headers["location"]).text)

    assert (
        "Test call as contact s-1 (en, message): 9 was pressed: a real call would have "
        "opted out; nothing recorded." in shown
    )
    assert phones.invites(1, staff) == before[staff] + 1
    assert phones.invites(1, contact) == before[contact]
    assert _rows(ws, "SELECT COUNT(*) FROM revocations") == [(0,)]
    assert _rows(ws, "SELECT COUNT(*) FROM attempts") == [(0,)]
    audits = [
        json.loads(str(p))
        for (p,) in _rows(ws, "SELECT payload FROM audit WHERE kind = 'test-call'")
    ]
    assert [(a["outcome"], a["by"]) for a in audits] == [("started", "lee"), ("opted-out", "lee")]
