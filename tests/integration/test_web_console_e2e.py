"""The console drives real calls: ``dialer serve`` (subprocess, no TTY) with the
sandbox Asterisk and the SIPp phones, staff in a real Chromium.

Create a campaign in the form and start it from its page, watch the live
progress (server-sent events) reach 100%, find the phone that pressed 9 as
opted-out in the report (C10); a parent opts out on /optout (C5, channel web)
and the next campaign does not dial that number: its SIPp phone receives no
new INVITE (C6).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.browser import artifacts_dir
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.service import ServiceProcess
from support.webapp import PASSWORD, add_user
from support.workspace import CALLER_ID, free_port, make_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_c5_c6_c10_campaign_from_the_console_with_real_phones(
    tmp_path: Path, sandbox: Sandbox, phones: Phones, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    ws = make_workspace(tmp_path, sandbox, extra=f"\n[http]\nport = {port}\n")
    prefix = daytime_prefix()
    presses_9 = sample_number(prefix, 3, 1)  # SIPp phone 1: answers, presses 9
    parent = sample_number(prefix, 4, 2)  # SIPp phone 2: answers, listens
    # consents, list "l", recording "m", caller ID; campaign "first" is made in the page
    ws.school_campaign({"s-1": presses_9, "s-2": parent}, campaign="second")
    before = phones.invites(2, parent)  # the phones serve the whole session: count from here
    # a school campaign starts once a second operator approves
    ws.ok("campaign", "approve", "second", "--operator", "Principal Lee")
    add_user(ws.config, "ruiz", "admin")
    # Chromium only now: Playwright's sync API runs a loop in this thread, and the
    # CLI calls above run their own (asyncio.run cannot nest)
    chromium: Any = request.getfixturevalue("chromium")
    shots = artifacts_dir()
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        url = service.url
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/login")
        page.fill("#name", "ruiz")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")

        # created in the form, with the same checks as the command line
        page.goto(f"{url}/campaigns/new")
        page.fill("#name", "first")
        page.select_option("#purpose", "school")
        page.select_option("#list", "l")
        page.select_option("#identification", "")  # the organisation's name, spoken
        page.select_option("#message", "m")
        page.fill("#caller_id", CALLER_ID)
        page.click("form.form button[type=submit]")
        assert page.url == f"{url}/campaigns/first", page.locator("main").inner_text()
        # the second operator approves (a process of its own: this thread runs Playwright)
        approve = subprocess.run(
            [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "approve",
             "first", "--operator", "Principal Lee"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        page.goto(f"{url}/campaigns/first")
        page.click("text=Schedule or start")
        page.click("text=Confirm: start now")  # after the preflight (issue 14)
        count = page.locator('[data-campaign="first"] [data-field="count"]')
        # live progress over SSE: the page is not reloaded
        count.filter(has_text="2/2 (100%)").wait_for(timeout=60_000)
        # the state block and the chart follow the feed: nothing says "running" any more
        page.locator("[data-state]", has_text="completed").wait_for(timeout=10_000)
        page.locator("section:has(> h2:text-is('Outcomes')) svg").wait_for(timeout=10_000)
        page.screenshot(path=str(shots / "e2e-first-100.png"), full_page=True)
        flash = page.locator(".flash")
        assert flash.count() == 0, flash.all_inner_texts()
        page.goto(f"{url}/campaigns/first/report")
        row = page.locator("tr", has_text="s-1")
        assert row.locator(".badge").inner_text() == "opted-out"
        page.screenshot(path=str(shots / "e2e-first-report.png"), full_page=True)
        assert phones.invites(2, parent) == before + 1

        # the parent of s-2 opts out on the public page
        public = chromium.new_context()
        optout = public.new_page()
        optout.goto(f"{url}/optout?lang=en")
        optout.fill("#number", parent)
        optout.click("button[type=submit]")
        optout.click("button[type=submit]")
        assert optout.locator("h2").inner_text() == "Your request is recorded"
        public.close()

        page.goto(f"{url}/campaigns/second")
        page.click("text=Schedule or start")
        page.click("text=Confirm: start now")  # after the preflight (issue 14)
        page.locator('[data-campaign="second"] [data-field="count"]').filter(
            has_text="2/2 (100%)"
        ).wait_for(timeout=60_000)
        page.goto(f"{url}/campaigns/second/report")
        page.screenshot(path=str(shots / "e2e-second-report.png"), full_page=True)
        assert page.locator("tr", has_text="s-2").locator(".badge").inner_text() == "blocked"
        context.close()
        assert service.stop() == 0
    assert phones.invites(2, parent) == before + 1  # no INVITE for the second campaign (C6)
