"""The walking skeleton end to end: real Asterisk, real SIPp phones, real SQLite file.

A school campaign over a list with one phone of each kind: the one that
presses 9 ends ``opted-out`` with a keypad revocation committed under its call
id and is never dialled again (SIPp counts its INVITEs); a number without
consent is never dialled; busy and no-answer phones end with those outcomes;
an invalid CSV row is reported with its row number.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents, write_contacts
from support.sandbox import Sandbox
from support.workspace import Workspace, make_workspace

from dialer.consent.model import Reason, RevocationChannel

pytestmark = pytest.mark.integration


@pytest.fixture
def school(tmp_path: Path, sandbox: Sandbox) -> tuple[Workspace, dict[str, str]]:
    """A workspace with consents, contacts, a recording and a campaign."""
    ws = make_workspace(tmp_path, sandbox, ring_timeout=5)
    prefix = daytime_prefix()
    # serials 0-2 (and 3-5 for the second silent number): a tens digit of 6-9 would
    # reach the sandbox's special SIPp phones (...63, ...72, ...81, ...91)
    serial = int(tmp_path.name[-1]) % 3 if tmp_path.name[-1].isdigit() else 0
    numbers = {
        "press9": sample_number(prefix, serial, 1),
        "silent": sample_number(prefix, serial, 2),
        "busy": sample_number(prefix, serial, 3),
        "noanswer": sample_number(prefix, serial, 4),
        # reaches the silent SIPp phone too, but has no consent: must never ring
        "noconsent": sample_number(prefix, serial + 3, 2),
    }
    consented = [n for k, n in numbers.items() if k != "noconsent"]
    ws.ok("consent", "import", str(write_consents(tmp_path / "consent.csv", consented)))
    rows = [
        {"student_id": key, "phone": number, "language": "en", "student_name": key}
        for key, number in numbers.items()
    ]
    rows.append(
        {"student_id": "bad", "phone": "555-CALL-NOW", "language": "en", "student_name": "x"}
    )
    contacts = write_contacts(tmp_path / "contacts.csv", rows)
    out = ws.ok("contacts", "import", str(contacts), "--list", "families", "--json")
    report = json.loads(out)
    assert report["imported"] == 5
    assert report["rejected"][0]["row"] == 7  # header is row 1: the 6th data row
    assert "phone number" in report["rejected"][0]["reason"]
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "notice")
    ws.ok("callerid", "add", "+12125550100", "--label", "district office")
    ws.ok(
        "campaign",
        "create",
        "conference",
        "--purpose",
        "school",
        "--list",
        "families",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )
    return ws, numbers


def _outcomes(report: dict[str, object]) -> dict[str, str]:
    return {c["contact"]: c["outcome"] for c in report["per_contact"]}  # type: ignore[index, union-attr]


def test_c10_keypad_opt_out_end_to_end(
    school: tuple[Workspace, dict[str, str]], phones: Phones
) -> None:
    ws, numbers = school
    before = {k: phones.invites(k if k != "noconsent" else "silent", n) for k, n in numbers.items()}

    report = json.loads(ws.ok("campaign", "run", "conference", "--json"))

    outcomes = _outcomes(report)
    assert outcomes == {
        "press9": "opted-out",
        "silent": "completed",
        "busy": "busy",
        "noanswer": "no-answer",
        "noconsent": "blocked",
    }
    by_contact = {c["contact"]: c for c in report["per_contact"]}
    assert by_contact["noconsent"]["gate"] == Reason.NO_CONSENT.value
    # originated directly (the default): the Q.850 cause, no Dial() status
    assert by_contact["busy"]["hangup_cause"] == 17
    assert by_contact["noanswer"]["hangup_cause"] == 19
    assert by_contact["busy"]["dial_status"] is None
    # each phone got exactly one INVITE; the number without consent none
    assert phones.invites("press9", numbers["press9"]) == before["press9"] + 1
    assert phones.invites("busy", numbers["busy"]) == before["busy"] + 1
    assert phones.invites("silent", numbers["noconsent"]) == before["noconsent"]

    # the revocation is in the store, from the keypad, tied to the call's id
    store = ws.store()

    async def check() -> None:
        try:
            facts = await store.consent.facts_for(numbers["press9"])
            assert facts.revoked_at is not None
            row = await store.db.fetchone(
                "SELECT channel, source_ref FROM revocations WHERE number_hash = ?",
                (store.sealer.index(numbers["press9"]),),
            )
            assert row is not None
            assert row[0] == RevocationChannel.KEYPAD.value
            assert row[1] == by_contact["press9"]["call_id"]
            # C10: committed before the call was released
            attempt = await store.campaigns.attempt(row[1])
            assert attempt.digits.startswith("9")
            await store.verify_audit()
        finally:
            await store.close()

    asyncio.run(check())

    # a second run does not dial the opted-out phone, nor anyone already done
    ws.ok("campaign", "run", "conference")
    assert phones.invites("press9", numbers["press9"]) == before["press9"] + 1
    assert phones.invites("silent", numbers["noconsent"]) == before["noconsent"]

    # C6/C7: another campaign on the same list: the revoked number is gated out
    ws.ok(
        "campaign",
        "create",
        "reminder",
        "--purpose",
        "school",
        "--list",
        "families",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )
    second = json.loads(ws.ok("campaign", "run", "reminder", "--json"))
    press9 = next(c for c in second["per_contact"] if c["contact"] == "press9")
    assert press9["outcome"] == "blocked"
    assert press9["gate"] == Reason.REVOKED.value
    assert phones.invites("press9", numbers["press9"]) == before["press9"] + 1


def test_invalid_rows_are_reported_with_row_numbers(tmp_path: Path, sandbox: Sandbox) -> None:
    ws = make_workspace(tmp_path, sandbox)
    csv_path = write_contacts(
        tmp_path / "c.csv",
        [
            {"phone": "+12125550101", "name": "a"},
            {"phone": "12", "name": "b"},
            {"phone": "", "name": "c"},
            {"phone": "+1 999 555 0101", "name": "d"},
        ],
    )
    out = ws.dialer("contacts", "import", str(csv_path), "--list", "l")
    assert out.exit_code == 0
    assert "row 3" in out.output.replace("│ 3", "row 3")
    strict = ws.dialer("contacts", "import", str(csv_path), "--list", "l2", "--strict")
    assert strict.exit_code == 2
    assert "row 3" in strict.output and "row 4" in strict.output and "row 5" in strict.output
    assert "nothing loaded" in strict.output


def test_busy_and_unanswered_calls_are_retried_up_to_max_attempts(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=2)
    prefix = daytime_prefix()
    busy, congested, gone = (sample_number(prefix, 4, d) for d in (9, 0, 7))
    ws.school_campaign(
        {"busy": busy, "congested": congested, "gone": gone},
        campaign="retry",
        create=("--max-attempts", "3", "--retry-delay", "1"),
    )
    report = json.loads(ws.ok("campaign", "run", "retry", "--json"))
    by_contact = {c["contact"]: c for c in report["per_contact"]}
    assert by_contact["busy"]["attempts"] == 3
    assert by_contact["busy"]["outcome"] == "busy"
    assert by_contact["congested"]["attempts"] == 3
    assert by_contact["congested"]["hangup_cause"] == 34
    # an unallocated number is not retried (C16: retrying cannot help)
    assert by_contact["gone"]["attempts"] == 1
    assert report["calls_placed"] == 7
