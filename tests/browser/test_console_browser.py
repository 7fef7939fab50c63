"""The staff console and the parent opt-out page in a real Chromium (Playwright,
Debian's ``chromium``), against the real app on loopback and a real store.

One scenario, one browser, page after page as district staff would go:
log in; upload an MP3 and play the converted audio; upload a list with one bad
row and see it reported; create a campaign whose identification recording
breaks C9, see the refusal next to that field, fix it; a parent opts out on
/optout (C5, channel web); a viewer cannot create or start a campaign; a form
posted without its CSRF token is refused. Every page is saved as a screenshot
(test-artifacts/screenshots/) and the layout is also checked at phone width.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support import audio_files as af
from support.browser import artifacts_dir, contrast_failures
from support.store import raw
from support.webapp import PASSWORD, WebServer, add_user, dialer

PHONE = {"width": 390, "height": 844}
STATE = "#state-card"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    root = tmp_path_factory.mktemp("console")
    config = root / "dialer.toml"
    dialer(
        config, "init", "--org", "Springfield Public Schools",
        "--callback", "+12125550111", "--hotline", "+12125550199",
    )  # fmt: skip
    add_user(config, "ruiz", "admin")
    add_user(config, "val", "viewer")
    add_user(config, "sam", "staff")
    with WebServer(config) as web:
        yield web


class Shots:
    def __init__(self) -> None:
        self.folder = artifacts_dir()
        self.n = 0

    def __call__(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        # every page looked at is also readable: WCAG AA contrast for all its text
        assert not contrast_failures(page), (name, contrast_failures(page))
        return path


def _speech_then_hum(folder: Path, text: str) -> Path:
    """Speech, then 3 s of a steady 300 Hz tone 25 dB under the speech (deterministic,
    unlike white noise, whose level at the trim floor varies from run to run)."""
    speech = af.speech_wav(folder / "org.wav", text)
    hum = folder / "hum.wav"
    af.run(
        "sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(hum),
        "synth", "3", "sine", "300", "gain", f"{af._rms_db(speech) - 22:.2f}",
    )  # fmt: skip
    out = folder / "org-hum.wav"
    af.run("sox", str(speech), str(hum), str(out))
    return out


def _login(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_console_end_to_end_in_chromium(console: WebServer, chromium: Any, tmp_path: Path) -> None:
    url, shots = console.url, Shots()
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # -- log in --------------------------------------------------------------------
    page.goto(url)
    assert page.url.startswith(f"{url}/login")
    shots(page, "login")
    page.fill("#name", "ruiz")
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "wrong user name or password"
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Dashboard"
    shots(page, "dashboard-empty")

    # -- caller ID (admin) -------------------------------------------------------------
    page.goto(f"{url}/admin/callerids")
    page.fill("#number", "(212) 555-0100")
    page.fill("#label", "District office")
    page.click("form.inline button[type=submit]")
    assert "Caller ID +12125550100 allowed" in page.locator(".flash").inner_text()

    # -- upload an MP3 and play it -------------------------------------------------------
    speech = af.speech_wav(tmp_path / "body.wav", "Schools are closed tomorrow because of snow.")
    mp3 = af.reencode(speech, tmp_path / "closure.mp3", "-ar", "44100", "-ac", "2", "-b:a", "128k")
    page.goto(f"{url}/recordings")
    page.set_input_files("#file", str(mp3))
    page.fill("#name", "closure")
    page.click("form.upload button[type=submit]")
    assert page.url == f"{url}/recordings/closure"
    flash = page.locator(".flash").inner_text()
    assert flash.startswith("Accepted: 'closure' (en) version 1")
    duration = page.evaluate(
        """async () => {
            const a = document.querySelector('audio');
            a.preload = 'auto'; a.muted = true; a.load();
            await new Promise((ok, fail) => {
                a.oncanplay = ok; a.onerror = () => fail(a.error && a.error.message);
            });
            await a.play(); await new Promise(r => setTimeout(r, 300));
            return [a.duration, a.currentTime];
        }"""
    )
    assert 2.0 < duration[0] < 6.0 and duration[1] > 0  # the converted file plays
    shots(page, "recording-closure")

    # a corrupt file: refused with the reason next to the file field, nothing stored
    page.goto(f"{url}/recordings")
    bad = af.random_bytes(tmp_path / "broken.mp3")
    page.set_input_files("#file", str(bad))
    page.fill("#name", "broken")
    page.click("form.upload button[type=submit]")
    refusal = page.locator("#file-error").inner_text()
    assert "broken.mp3" in refusal and "not audio in a format we know" in refusal
    assert "Invalid argument" not in refusal  # ffmpeg's errno words mean nothing to staff
    shots(page, "recording-refused")

    # an identification followed by 3 s of a faint hum: the importer keeps it (above
    # its trim floor), the C9 check hears no words in it (below speech level)
    hummy = _speech_then_hum(tmp_path, "This is Springfield Public Schools.")
    page.set_input_files("#file", str(hummy))
    page.fill("#name", "org-name")
    page.click("form.upload button[type=submit]")
    assert page.url == f"{url}/recordings/org-name"

    # -- a contact list with one bad row ----------------------------------------------------
    sis = tmp_path / "sis-export.csv"
    sis.write_text(
        "student_id,student_name,phone,language\n"
        "s-101,Ana,(212) 555-0111,en\n"
        "s-102,Ben,555-12,en\n"
        "s-103,Carla,(212) 555-0113,es\n"
    )
    page.goto(f"{url}/lists")
    page.set_input_files("#file", str(sis))
    page.fill("#list", "grade5")
    page.click("form.upload button[type=submit]")
    assert "2 contacts loaded" in page.locator("#result-h").inner_text()
    refused = page.locator("table.refused tbody tr")
    assert refused.count() == 1
    assert refused.locator("td").first.inner_text() == "3"
    shots(page, "list-with-refused-row")

    # -- a campaign: C9 refused next to the identification field, then fixed -------------
    page.goto(f"{url}/campaigns/new")
    # the emergency fields and the national DNC note show only for their purpose
    assert not page.is_visible("#category") and not page.is_visible(".dnc-note")
    page.select_option("#purpose", "emergency")
    assert page.is_visible("#category") and not page.is_visible(".dnc-note")
    page.select_option("#purpose", "telemarketing")
    assert page.is_visible(".dnc-note") and not page.is_visible("#category")
    page.fill("#name", "snow-day")
    page.select_option("#purpose", "school")
    page.select_option("#list", "grade5")
    page.select_option("#identification", "org-name")
    page.select_option("#message", "closure")
    page.fill("#caller_id", "+12125550100")
    page.click("form.form button[type=submit]")
    shots(page, "campaign-c9-refused")
    error = page.locator("#identification-error")
    assert error.inner_text().startswith("C9: in message 'snow-day'")
    # named as staff know it, not by the server's sound file
    assert "recording 'org-name' (en, version 1) ends with" in error.inner_text()
    assert ".wav" not in error.inner_text()
    assert page.locator("#identification").get_attribute("aria-invalid") == "true"
    assert page.locator("#name").input_value() == "snow-day"  # the form kept what was typed
    page.select_option("#identification", "")  # speak the organisation's name instead
    page.click("form.form button[type=submit]")
    shots(page, "campaign")
    assert page.url == f"{url}/campaigns/snow-day"
    assert "created" in page.locator(".flash").inner_text()

    # what a given contact would hear: the whole message, played in the page
    page.goto(f"{url}/recordings/closure")
    page.select_option("#campaign", "snow-day")
    page.fill("#contact", "s-103")  # Carla, Spanish
    page.click("form[data-preview] button[type=submit]")
    player = page.locator("audio[data-preview-player]")
    player.wait_for(state="visible")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio[data-preview-player]');"
        " return a && a.readyState >= 1 && a.duration > 0; }",
        timeout=60_000,
    )
    heard = player.evaluate("a => a.duration")
    assert heard > 2.7  # more than the closure recording: identification and opt-out too
    shots(page, "recording-preview")
    page.goto(f"{url}/campaigns/snow-day")

    # lifecycle from the page: start, pause, resume; cancel needs a reason. A school
    # campaign first needs a second operator's approval (issue 14; ruiz created it)
    dialer(console.config, "campaign", "approve", "snow-day", "--operator", "Principal Lee")
    page.click("text=Schedule or start")
    # the preflight first (issue 14): figures, warnings, approval; then the confirmation
    assert page.url == f"{url}/campaigns/snow-day/preflight?at="
    assert "approved by Principal Lee" in page.locator("[data-field=approval]").inner_text()
    shots(page, "campaign-preflight")
    page.click("text=Confirm: start now")
    shots(page, "campaign-started")
    assert page.locator(".flash").inner_text() == "Campaign 'snow-day' is now running."
    page.click("button:has-text('Pause')")
    assert page.locator("[data-state]").inner_text() == "paused"
    page.click("button:has-text('Resume')")
    assert page.locator("[data-state]").inner_text() == "running"
    page.click("button:has-text('Cancel campaign')")
    assert "say why the campaign is cancelled" in page.locator("#cancel_reason-error").inner_text()
    shots(page, "campaign-cancel-needs-reason")
    page.fill("#cancel-reason", "snow stopped")
    page.click("button:has-text('Cancel campaign')")
    assert page.locator("[data-state]").inner_text() == "cancelled"

    # a double-submitted form acts once: resend the same create form
    page.goto(f"{url}/campaigns/new")
    page.fill("#name", "twice")
    page.select_option("#list", "grade5")
    page.select_option("#message", "closure")
    sent = page.evaluate("[...new FormData(document.querySelector('form.form'))]")
    page.click("form.form button[type=submit]")
    assert page.url == f"{url}/campaigns/twice"
    page.wait_for_load_state("domcontentloaded")  # the URL commits before the body exists
    # the same form, sent again (a second click, or the back button and send)
    page.evaluate(
        """(entries) => {
            const form = document.createElement('form');
            form.method = 'post'; form.action = '/campaigns';
            for (const [name, value] of entries) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form); form.submit();
        }""",
        sent,
    )
    page.wait_for_load_state()
    assert "already sent" in page.locator(".error").inner_text()
    shots(page, "double-submit-refused")

    # -- a form without its CSRF token ---------------------------------------------------
    page.goto(f"{url}/consent")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.fill("#revoke_number", "(212) 555-0111")
    page.check("input[name=confirm]")
    page.click("form[action='/consent/revoke'] button[type=submit]")
    assert "security token is missing or wrong" in page.locator(".error").inner_text()
    shots(page, "csrf-refused")

    # -- reports, compliance, consent look-up ---------------------------------------------
    page.goto(f"{url}/campaigns/snow-day/report")
    assert page.locator("table tbody tr").count() == 2
    assert "+1******0111" in page.content() and "2125550111" not in page.content()
    shots(page, "report")
    # the filters (GET, no JavaScript needed): by language, then by contact id
    page.select_option("#language", "es")
    page.click("button:has-text('Filter')")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1 and rows.first.locator("td").first.inner_text() == "s-103"
    page.select_option("#language", "")
    page.fill("#contact", "s-101")
    page.click("button:has-text('Filter')")
    assert rows.count() == 1 and rows.first.locator("td").first.inner_text() == "s-101"
    assert "1 of 2 contacts" in page.content()
    csv_reply = page.request.get(f"{url}/campaigns/snow-day/report.csv")
    assert csv_reply.status == 200
    csv_text = csv_reply.text()
    assert csv_text.startswith("contact,number,outcome")
    assert "'+1******0111" in csv_text and "2125550111" not in csv_text  # masked, no formula
    page.goto(f"{url}/compliance")
    assert page.locator(".verdict").inner_text().startswith("No violations found")
    assert "hotline opt-outs without a verified caller ID" in page.content()  # issue 8 item 7
    figures = page.locator("table.requirements").inner_text()
    assert "None" not in figures and "{'" not in figures and "_" not in figures  # words
    shots(page, "compliance")

    # -- a parent opts out on /optout (separate browser context: no staff cookies) -----
    parent = chromium.new_context(viewport=PHONE, locale="es-ES")
    optout = parent.new_page()
    optout.goto(f"{url}/optout")
    assert optout.locator("html").get_attribute("lang") == "es"
    shots(optout, "optout-es-phone")
    optout.click("text=English")
    optout.keyboard.press("Tab")  # keyboard only: label + input reachable
    optout.fill("#number", "(212) 555-0111")
    optout.keyboard.press("Enter")
    assert "Stop automated calls to +1******0111?" in optout.locator(".big").inner_text()
    shots(optout, "optout-confirm-phone")
    optout.click("button[type=submit]")
    assert optout.locator("h2").inner_text() == "Your request is recorded"
    shots(optout, "optout-done-phone")
    parent.close()
    with closing(raw(console.config.parent / "dialer.db")) as conn:
        assert conn.execute("SELECT channel FROM revocations").fetchall() == [("web",)]
    page.goto(f"{url}/consent")
    page.fill("#number", "212-555-0111")
    page.click("form[action='/consent/lookup'] button[type=submit]")
    assert "revoked" in page.locator("#history-h").inner_text()
    # times in the organisation's zone (America/New_York), to the minute
    received = page.locator("#history-h ~ .table-wrap td").nth(1).inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", received), received
    shots(page, "consent-history")

    # -- the admin's other pages: every one renders, and is looked at ----------------------
    admin_pages = (
        ("/campaigns", "campaigns"),
        ("/admin/callerids", "callerids"),
        ("/admin/users", "users"),
    )
    for path, name in admin_pages:
        response = page.goto(f"{url}{path}")
        assert response is not None and response.status == 200, path
        shots(page, f"admin-{name}")
    assert "snow-day" in page.goto(f"{url}/campaigns").text()  # type: ignore[union-attr]

    # -- the dashboard at phone width --------------------------------------------------
    page.set_viewport_size(PHONE)
    page.goto(url)
    shots(page, "dashboard-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the dashboard scrolls sideways on a phone"
    # every other page too: wide tables scroll inside their box, the page does not
    wide = []
    for path in (
        "/campaigns", "/campaigns/new", "/campaigns/snow-day", "/campaigns/snow-day/report",
        "/recordings", "/recordings/closure", "/lists", "/consent", "/compliance",
        "/admin/callerids", "/admin/users",
    ):  # fmt: skip
        page.goto(f"{url}{path}")
        if page.evaluate("document.documentElement.scrollWidth - window.innerWidth") > 0:
            wide.append(path)
        if path in ("/campaigns/new", "/campaigns/snow-day/report", "/consent"):
            shots(page, "phone" + path.replace("/", "-"))
    assert not wide, f"these pages scroll sideways on a phone: {wide}"
    context.close()

    # -- a viewer sees but cannot create or start a campaign -----------------------------
    viewer = chromium.new_context()
    vpage = viewer.new_page()
    _login(vpage, url, "val")
    vpage.goto(f"{url}/campaigns/snow-day")
    assert vpage.locator("text=Record the override").count() == 0
    assert vpage.locator("button:has-text('Start')").count() == 0
    response = vpage.goto(f"{url}/campaigns/new")
    assert response is not None and response.status == 403
    assert "Your role (viewer) does not allow this" in vpage.locator(".error").inner_text()
    shots(vpage, "viewer-refused")
    vpage.goto(f"{url}/campaigns/snow-day")
    shots(vpage, "viewer-campaign")
    viewer.close()

    # -- staff run campaigns but do not manage users, caller IDs or recordings ----------
    staff = chromium.new_context()
    spage = staff.new_page()
    _login(spage, url, "sam")
    response = spage.goto(f"{url}/campaigns/new")
    assert response is not None and response.status == 200  # staff create campaigns
    assert spage.locator("nav >> text=Users").count() == 0
    spage.goto(f"{url}/campaigns/snow-day")  # cancelled above: it says so, and what next
    assert "stays cancelled" in spage.locator(STATE).inner_text()
    assert "No service is running" not in spage.locator(STATE).inner_text()
    shots(spage, "staff-campaign-cancelled")
    response = spage.goto(f"{url}/admin/users")
    assert response is not None and response.status == 403
    assert "Your role (staff) does not allow this" in spage.locator(".error").inner_text()
    spage.goto(f"{url}/recordings")
    assert spage.locator("form.upload").count() == 0  # admins manage recordings
    shots(spage, "staff-recordings")
    staff.close()
    assert not errors, errors
    # every action taken in the page is in the audit log with the user's name (issue 10)
    with closing(raw(console.config.parent / "dialer.db")) as conn:
        entries = [
            (kind, json.loads(payload))
            for kind, payload in conn.execute("SELECT kind, payload FROM audit ORDER BY rowid")
        ]
    by_page = [(k, p.get("by") or p.get("user")) for k, p in entries if k != "user-added"]
    kinds = {k for k, _ in by_page}
    assert {"recording-added", "contacts-import", "campaign-created", "campaign-state",
            "web-action", "caller-id-added", "revocation"} <= kinds  # fmt: skip
    outside = {"Principal Lee", "parent (web opt-out page)"}  # the CLI approval, /optout
    assert all(who in {"ruiz", "sam", "val"} | outside for _, who in by_page), by_page
