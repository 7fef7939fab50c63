"""Recording versions: a campaign plays the versions validated at its creation;
adding a name again makes a new version and keeps an old one until no campaign
uses it; removal is refused while a campaign uses the recording."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number, write_contacts
from support.sandbox import Sandbox
from support.workspace import Workspace, make_workspace

from dialer.campaign.messages import MessagePlanner

pytestmark = pytest.mark.integration

BODY_EN = "recordings/samples/en/example-body.wav"
BODY_ES = "recordings/samples/es/example-body.wav"


def _segments(ws: Workspace, campaign: str) -> list[str]:
    store = ws.store()

    async def plan() -> list[str]:
        try:
            chosen = await store.campaigns.get(campaign)
            (contact,) = await store.contacts.contacts(chosen.list_id)
            return list((await MessagePlanner(ws.settings(), store).plan(chosen, contact)).segments)
        finally:
            await store.close()

    return asyncio.run(plan())


def _versions(ws: Workspace, name: str) -> list[int]:
    shown = json.loads(ws.ok("recordings", "show", name, "--json"))
    return sorted(v["version"] for v in shown["versions"])


def test_campaigns_keep_their_validated_versions(tmp_path: Path, sandbox: Sandbox) -> None:
    ws = make_workspace(tmp_path, sandbox)
    number = sample_number(daytime_prefix(), 1, 6)
    ws.ok(
        "contacts",
        "import",
        str(write_contacts(tmp_path / "c.csv", [{"phone": number}])),
        "--list",
        "l",
    )
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    ws.ok("recordings", "add", BODY_EN, "--name", "notice")
    ws.ok(
        "campaign",
        "create",
        "old",
        "--purpose",
        "school",
        "--list",
        "l",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )

    ws.ok("recordings", "add", BODY_ES, "--name", "notice")  # v2 (other audio, same name)
    assert _versions(ws, "notice") == [1, 2]  # v1 kept: campaign "old" plays it
    assert any(s.endswith("notice-en-v1") for s in _segments(ws, "old"))

    ws.ok(
        "campaign",
        "create",
        "new",
        "--purpose",
        "school",
        "--list",
        "l",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )
    assert any(s.endswith("notice-en-v2") for s in _segments(ws, "new"))

    ws.ok("recordings", "add", BODY_EN, "--name", "notice")  # v3
    assert _versions(ws, "notice") == [1, 2, 3]  # both older ones are in use

    # a recording no campaign uses keeps only its newest version, files included
    ws.ok("recordings", "add", BODY_EN, "--name", "spare")
    ws.ok("recordings", "add", BODY_ES, "--name", "spare")
    assert _versions(ws, "spare") == [2]
    sounds = ws.settings().audio.sounds_dir / "recordings"
    assert not (sounds / "spare-en-v1.wav").exists()
    assert (sounds / "spare-en-v2.wav").exists()

    refused = ws.dialer("recordings", "remove", "notice")
    assert refused.exit_code == 2
    assert "old, new" in refused.output
    ws.ok("recordings", "remove", "spare")
