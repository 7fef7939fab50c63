"""Emergency campaigns end to end (C1, C6): category and authorizer are required
and audited; no consent is needed; a revoked number stays blocked until an
operator records an explicit, audited override for that campaign."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number, write_contacts
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration


def test_c1_c6_emergency_needs_details_and_an_audited_override_for_revoked(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws = make_workspace(tmp_path, sandbox)
    prefix = daytime_prefix()
    no_consent, revoked = sample_number(prefix, 5, 6), sample_number(prefix, 6, 6)
    rows = [{"id": "no-consent", "phone": no_consent}, {"id": "revoked", "phone": revoked}]
    ws.ok("contacts", "import", str(write_contacts(tmp_path / "c.csv", rows)), "--list", "all")
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "closure")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    ws.ok("consent", "revoke", revoked, "--channel", "email", "--ref", "ticket-9")

    base = [
        "campaign",
        "create",
        "snow",
        "--purpose",
        "emergency",
        "--list",
        "all",
        "--message",
        "closure",
        "--caller-id",
        "+12125550100",
    ]
    missing = ws.dialer(*base)
    assert missing.exit_code == 2
    assert "C1" in missing.output and "category" in missing.output
    no_author = ws.dialer(*base, "--category", "closure")
    assert no_author.exit_code == 2 and "C1" in no_author.output
    ws.ok(*base, "--category", "closure", "--authorized-by", "Supt. Ruiz")

    first = json.loads(ws.ok("campaign", "run", "snow", "--json"))
    by_contact = {c["contact"]: c for c in first["per_contact"]}
    assert by_contact["no-consent"]["outcome"] == "completed"  # no consent needed
    assert by_contact["revoked"]["gate"] == "revoked"  # C6: still blocked

    refused = ws.dialer("campaign", "override", "snow", "--operator", " ", "--reason", "x")
    assert refused.exit_code == 2
    ws.ok(
        "campaign",
        "override",
        "snow",
        "--operator",
        "Supt. Ruiz",
        "--reason",
        "building evacuation: every family must hear it",
    )
    second = json.loads(ws.ok("campaign", "run", "snow", "--json"))
    revoked_row = next(c for c in second["per_contact"] if c["contact"] == "revoked")
    assert revoked_row["gate"] == "emergency-override"
    assert revoked_row["outcome"] == "completed"

    store = ws.store()

    async def audited() -> dict[str, list[dict[str, object]]]:
        from dialer.store.audit import entries

        try:
            await store.verify_audit()
            found: dict[str, list[dict[str, object]]] = {}
            for _seq, _at, kind, payload in await entries(store.db):
                found.setdefault(kind, []).append(payload)
            return found
        finally:
            await store.close()

    kinds = asyncio.run(audited())
    created = kinds["campaign-created"][0]
    assert (created["category"], created["authorized_by"]) == ("closure", "Supt. Ruiz")
    assert kinds["override"][0]["operator"] == "Supt. Ruiz"
    assert len(kinds["gate-blocked"]) == 1
    assert len(kinds["gate-override"]) == 1
