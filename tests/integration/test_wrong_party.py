"""C16 wrong party, end to end: keypad 8 on a real SIPp phone, and a number that
comes back unallocated twice, are both suppressed and flagged for staff review."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents, write_contacts
from support.sandbox import Sandbox
from support.workspace import Workspace, make_workspace

from dialer.consent.model import Reason

pytestmark = pytest.mark.integration


def _run(ws: Workspace, campaign: str) -> dict[str, dict[str, object]]:
    ws.create_campaign(campaign)
    report = json.loads(ws.ok("campaign", "run", campaign, "--json"))
    return {c["contact"]: c for c in report["per_contact"]}


def test_c16_wrong_number_keypress_and_repeated_unallocated_suppress(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    wrong = sample_number(prefix, 2, 8)  # SIPp phone that presses 8
    gone = sample_number(prefix, 2, 7)  # unallocated (Q.850 cause 1)
    ws.ok("consent", "import", str(write_consents(tmp_path / "consent.csv", [wrong, gone])))
    ws.ok(
        "contacts",
        "import",
        str(
            write_contacts(
                tmp_path / "c.csv", [{"id": "wrong", "phone": wrong}, {"id": "gone", "phone": gone}]
            )
        ),
        "--list",
        "l",
    )
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "m")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")

    first = _run(ws, "first")
    assert first["wrong"]["outcome"] == "wrong-number"
    assert first["gone"]["outcome"] == "failed"
    assert first["gone"]["hangup_cause"] == 1

    second = _run(ws, "second")
    assert second["wrong"]["outcome"] == "blocked"
    assert second["wrong"]["gate"] == Reason.WRONG_PARTY.value
    assert second["gone"]["outcome"] == "failed"  # second unallocated result: now suppressed

    third = _run(ws, "third")
    assert third["gone"]["gate"] == Reason.WRONG_PARTY.value
    assert phones.invites("press8", wrong) >= 1

    store = ws.store()

    async def flagged() -> dict[str, bool]:
        try:
            campaign = await store.campaigns.get("third")
            return {
                c.external_id: c.needs_review
                for c in await store.contacts.contacts(campaign.list_id)
            }
        finally:
            await store.close()

    assert asyncio.run(flagged()) == {"wrong": True, "gone": True}

    # staff see both in the review list, check one with the family and lift its block
    listed = json.loads(ws.ok("contacts", "review", "--json"))
    assert sorted(row["contact"] for row in listed) == ["gone", "wrong"]
    assert all("******" in row["number"] for row in listed)
    ws.ok("contacts", "review", "--clear", wrong)
    assert [row["contact"] for row in json.loads(ws.ok("contacts", "review", "--json"))] == ["gone"]
    fourth = _run(ws, "fourth")
    assert fourth["wrong"]["gate"] == Reason.ALLOWED.value
    assert fourth["gone"]["gate"] == Reason.WRONG_PARTY.value
