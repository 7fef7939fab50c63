"""The console never contradicts itself while a campaign runs out: the campaign
page's state block, its buttons and its outcome chart, and the dashboard's
campaign list and opt-out chart, follow the live progress feed (server-sent
events) without a reload, and agree with it after one.

Real Chromium (Playwright, Debian's ``chromium``), the real app on loopback and
a real store. No engine runs in this process (no Asterisk here): what the
engine writes when a campaign's last call ends (the attempts' outcomes, the
keypad opt-out, the ``complete`` transition) is written through the same store
functions, on the server's own loop, while the pages are open.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import REPO, artifacts_dir
from support.sample import write_consents, write_contacts
from support.webapp import PASSWORD, WebServer, add_user, dialer

from dialer.campaign.control import complete_campaign
from dialer.consent.model import Decision, Reason, RevocationChannel
from dialer.model.outcome import Outcome
from dialer.store.store import Store

CALLER_ID = "+12125550100"
OUTCOMES = "section:has(> h2:text-is('Outcomes'))"
STATE = "section:has(> h2 [data-state])"
OPTOUTS = "section[aria-labelledby=optouts-h]"
NUMBERS = ("+12125550111", "+12125550112")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    dialer(
        config, "init", "--org", "Springfield Public Schools",
        "--callback", "+12125550120", "--hotline", "+12125550199",
    )  # fmt: skip
    add_user(config, "ruiz", "admin")
    dialer(config, "consent", "import", str(write_consents(tmp_path / "consent.csv", [*NUMBERS])))
    rows = [{"id": f"s-{i}", "phone": n} for i, n in enumerate(NUMBERS, 1)]
    contacts = write_contacts(tmp_path / "c.csv", rows)
    dialer(config, "contacts", "import", str(contacts), "--list", "l")
    body = REPO / "recordings" / "samples" / "en" / "example-body.wav"
    dialer(config, "recordings", "add", str(body), "--name", "m")
    dialer(config, "callerid", "add", CALLER_ID, "--label", "office")
    _create(config, "snow")
    dialer(config, "campaign", "approve", "snow", "--operator", "Principal Lee")
    with WebServer(config) as web:
        yield web


def _create(config: Path, name: str) -> None:
    dialer(
        config, "campaign", "create", name, "--purpose", "school", "--list", "l",
        "--message", "m", "--caller-id", CALLER_ID,
    )  # fmt: skip


async def _last_calls_end(store: Store) -> None:
    """What the engine writes as the campaign's two calls end: one completed, one
    where the parent pressed 9 (keypad revocation), then the campaign completes."""
    campaign = await store.campaigns.get("snow")
    people = await store.contacts.contacts(campaign.list_id)
    outcomes = (Outcome.COMPLETED, Outcome.OPTED_OUT)
    for n, (person, outcome) in enumerate(zip(people, outcomes, strict=True)):
        call_id = f"live-{n}"
        await store.campaigns.record_decision(
            call_id=call_id,
            campaign=campaign,
            contact_id=person.id,
            number=person.number,
            attempt_no=1,
            decision=Decision(True, Reason.ALLOWED),
            with_consent=True,
            language="en",
        )
        if outcome is Outcome.OPTED_OUT:
            await store.consent.revoke(person.number, RevocationChannel.KEYPAD, source_ref=call_id)
        await store.campaigns.finish(call_id, outcome, digits="9" if n else "")
    assert await complete_campaign(store, "snow", by="engine")


def _chart_bars(page: Any, section: str) -> list[str]:
    return sorted(page.locator(f"{section} svg rect title").all_text_contents())


def test_campaign_page_and_dashboard_follow_the_campaign_to_its_end(
    console: WebServer, chromium: Any
) -> None:
    url, shots = console.url, artifacts_dir()
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    campaign, dashboard = context.new_page(), context.new_page()
    for page in (campaign, dashboard):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    campaign.goto(f"{url}/login")
    campaign.fill("#name", "ruiz")
    campaign.fill("#password", PASSWORD)
    campaign.click("button[type=submit]")

    campaign.goto(f"{url}/campaigns/snow")
    campaign.click("text=Schedule or start")
    campaign.click("text=Confirm: start now")  # after the preflight (issue 14)
    assert campaign.locator(".flash").inner_text() == "Campaign 'snow' is now running."
    dashboard.goto(url)
    # running, nothing called yet: every part of the page says so
    assert campaign.locator("[data-state]").inner_text() == "running"
    assert campaign.locator("button:has-text('Pause')").count() == 1
    assert "No data yet." in campaign.locator(OUTCOMES).inner_text()
    assert "No data yet." in dashboard.locator(OPTOUTS).inner_text()
    for page in (campaign, dashboard):  # a reload would drop this mark
        page.evaluate("window.notReloaded = true")

    console.in_store(_last_calls_end)
    # another operator creates a campaign meanwhile: the dashboard lists it
    _create(console.config, "book-fair")

    campaign.locator("[data-state]", has_text="completed").wait_for(timeout=20_000)
    campaign.locator(f"{OUTCOMES} svg").wait_for(timeout=10_000)
    campaign.screenshot(path=str(shots / "live-campaign-completed.png"), full_page=True)
    assert campaign.evaluate("window.notReloaded === true")
    assert campaign.locator(".flash").count() == 0  # "now running" told of the past
    card = campaign.locator('[data-campaign="snow"]')
    assert card.locator('[data-field="count"]').inner_text() == "2/2 (100%)"
    assert card.locator('[data-field="state"]').inner_text() == "completed"
    # the buttons are those of a completed campaign: start again, no pause, no cancel
    assert campaign.locator("button:has-text('Pause')").count() == 0
    assert campaign.locator("button:has-text('Cancel campaign')").count() == 0
    assert campaign.locator("button:has-text('Start again')").count() == 1
    assert "nobody who heard the message is called again" in campaign.locator(STATE).inner_text()
    assert "Last change by engine" in campaign.locator(STATE).inner_text()
    assert _chart_bars(campaign, OUTCOMES) == ["completed: 1", "opted-out: 1"]

    dashboard.locator('[data-campaign="book-fair"]').wait_for(timeout=20_000)
    dashboard.locator(f"{OPTOUTS} svg").wait_for(timeout=10_000)
    dashboard.screenshot(path=str(shots / "live-dashboard-completed.png"), full_page=True)
    assert dashboard.evaluate("window.notReloaded === true")
    snow = dashboard.locator('[data-campaign="snow"]')
    assert snow.locator('[data-field="state"]').inner_text() == "completed"
    assert snow.locator('[data-field="outcomes"]').inner_text() == "completed 1 · opted-out 1"
    assert _chart_bars(dashboard, OPTOUTS) == ["keypad: 1"]
    fair = dashboard.locator('[data-campaign="book-fair"] [data-field="state"]')
    assert fair.inner_text() == "draft"

    # and a reload shows the same
    campaign.reload()
    assert campaign.locator("[data-state]").inner_text() == "completed"
    assert _chart_bars(campaign, OUTCOMES) == ["completed: 1", "opted-out: 1"]
    context.close()
    assert not errors, errors
