"""Issue 14 through the real sandbox Asterisk and SIPp phones: second-person approval
holds a campaign back until another operator approves it, and a contact missing a
template field is blocked from the campaign (reason ``template-field-missing``)
instead of being called with a gap. SIPp's traces prove who was (not) dialled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents, write_contacts
from support.sandbox import Sandbox
from support.workspace import CALLER_ID, make_workspace

pytestmark = pytest.mark.integration


def test_unapproved_campaign_does_not_start_and_dials_nobody(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox, approval="non-emergency")
    number = sample_number(daytime_prefix(), 3, 1)  # SIPp phone 1: answers, presses 9
    ws.school_campaign({"s-1": number}, create=("--operator", "Ms. Diaz"))
    before = phones.invites(1, number)

    refused = ws.dialer("campaign", "run", "c")
    assert refused.exit_code == 2
    assert "needs a second operator's approval" in refused.output
    assert "dialer campaign approve c" in refused.output
    assert phones.invites(1, number) == before  # nobody was dialled

    own = ws.dialer("campaign", "approve", "c", "--operator", "ms. diaz")
    assert own.exit_code == 2 and "a different operator must approve it" in own.output
    assert ws.dialer("campaign", "run", "c").exit_code == 2  # still waiting

    ws.ok("campaign", "approve", "c", "--operator", "Principal Lee")
    report = json.loads(ws.ok("campaign", "run", "c", "--json"))
    assert report["per_contact"][0]["outcome"] == "opted-out"
    assert phones.invites(1, number) == before + 1


def test_contact_missing_a_template_field_is_blocked_not_called(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    complete = sample_number(prefix, 4, 5)  # dialplan phone 5: answers, presses 9
    nameless = sample_number(prefix, 5, 1)  # SIPp phone 1: must never ring
    rows = [
        {"id": "s-1", "phone": complete, "student_name": "Ana", "school": "Lincoln",
         "date": "2026-03-02"},
        {"id": "s-2", "phone": nameless, "student_name": " ", "school": "Lincoln",
         "date": "2026-03-02"},
    ]  # fmt: skip
    ws.ok("consent", "import", str(write_consents(tmp_path / "consent.csv", [complete, nameless])))
    ws.ok("contacts", "import", str(write_contacts(tmp_path / "c.csv", rows)), "--list", "l")
    ws.ok("callerid", "add", CALLER_ID, "--label", "office")
    ws.ok(
        "campaign", "create", "absent", "--purpose", "emergency", "--category", "attendance",
        "--authorized-by", "Principal Lee", "--list", "l",
        "--message", "template:attendance-absence", "--caller-id", CALLER_ID,
    )  # fmt: skip
    before = phones.invites(1, nameless)

    report = json.loads(ws.ok("campaign", "run", "absent", "--json"))

    by_contact = {c["contact"]: c for c in report["per_contact"]}
    assert by_contact["s-1"]["outcome"] == "opted-out"
    assert by_contact["s-2"]["outcome"] == "blocked"
    assert by_contact["s-2"]["gate"] == "template-field-missing"
    assert "student_name" in by_contact["s-2"]["detail"]
    assert report["blocked_by_reason"] == {"template-field-missing": 1}
    assert phones.invites(1, nameless) == before
