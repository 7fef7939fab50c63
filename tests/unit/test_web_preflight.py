"""The console shows the preflight before every start and takes the second
operator's approval (issue 14 items 1 and 4, on the pages of issue 10).

Real HTTP (uvicorn on loopback, httpx), a real store, real recordings and TTS.
The campaign page's start button leads to the preflight at the chosen time;
only its confirm button starts. Nothing is dialled or written to show it.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from support.sample import write_consents, write_contacts
from support.store import audit_kinds, raw
from support.webapp import WebServer, add_user, dialer, form_tokens

REPO = Path(__file__).resolve().parents[2]
CALLER_ID = "+12125550100"
NY, LA = "+12125550101", "+12135550101"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    dialer(
        config, "init", "--org", "Springfield Public Schools",
        "--callback", "+12125550111", "--hotline", "+12125550199",
    )  # fmt: skip
    for name, role in (("ruiz", "admin"), ("lee", "staff"), ("val", "viewer")):
        add_user(config, name, role)
    dialer(config, "consent", "import", str(write_consents(tmp_path / "consent.csv", [NY, LA])))
    rows = [{"id": "s-1", "phone": NY}, {"id": "s-2", "phone": LA}]
    dialer(config, "contacts", "import", str(write_contacts(tmp_path / "c.csv", rows)),
           "--list", "grade5")  # fmt: skip
    body = REPO / "recordings" / "samples" / "en" / "example-body.wav"
    dialer(config, "recordings", "add", str(body), "--name", "m")
    dialer(config, "callerid", "add", CALLER_ID, "--label", "office")
    dialer(
        config, "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID, "--operator", "lee",
    )  # fmt: skip
    with WebServer(config) as web:
        yield web


def tomorrow_at(hour: int, minute: int = 0) -> str:
    day = dt.datetime.now(ZoneInfo("America/New_York")).date() + dt.timedelta(days=1)
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def _db(server: WebServer) -> Path:
    return server.config.parent / "dialer.db"


def _state(server: WebServer) -> str:
    with closing(raw(_db(server))) as conn:
        return str(conn.execute("SELECT state FROM campaigns WHERE name = 'conf'").fetchone()[0])


def test_start_shows_the_preflight_at_the_chosen_time_then_approve_then_confirm(
    server: WebServer,
) -> None:
    ruiz = server.login("ruiz")
    campaign = ruiz.get("/campaigns/conf").text
    # the start form asks for the preflight (GET), it does not start anything
    assert 'method="get" action="/campaigns/conf/preflight"' in campaign
    before = audit_kinds(_db(server))
    at = tomorrow_at(5, 30)  # A.M. typed for P.M.

    page = ruiz.get("/campaigns/conf/preflight", params={"at": at})

    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "Before you start “conf”" in text
    assert f"start <strong>{at} EST" in text or f"start <strong>{at} EDT" in text
    assert 'data-code="unusual-hour"' in text and "is it A.M. and P.M. as meant?" in text
    assert 'data-code="approval-missing"' in text
    assert '<tr data-reason="outside-window"><td>outside-window</td><td class="num">2</td>' in text
    assert "Outside their calling window: 1 in America/Los_Angeles" in text
    assert '<dd data-field="households">2</dd>' in text  # issue 12: one call per number
    assert 'data-language="en"' in text and "C9 ok" in text
    assert "required, not yet given" in text and "created by lee" in text
    assert "Approve as ruiz" in text
    assert "Confirm:" not in text  # nothing to confirm before the approval
    assert NY not in text and LA not in text  # C18
    assert audit_kinds(_db(server)) == before  # showing it changed nothing
    with closing(raw(_db(server))) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0

    # the creator cannot approve their own campaign: said on the preflight page
    lee = server.login("lee")
    own = lee.post(
        "/campaigns/conf/approve",
        data={"at": at, **form_tokens(lee.get(f"/campaigns/conf/preflight?at={quote(at)}").text)},
    )
    assert own.status_code == 422
    assert "a different operator must approve it" in html.unescape(own.text)
    assert "campaign-approved" not in audit_kinds(_db(server))

    approved = ruiz.post("/campaigns/conf/approve", data={"at": at, **form_tokens(page.text)})
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/campaigns/conf/preflight?at={quote(at)}"
    again = html.unescape(ruiz.get(approved.headers["location"]).text)
    assert "Campaign 'conf' approved by ruiz." in again
    assert "approved by <strong>ruiz</strong> (created by lee)" in again
    assert f"Confirm: schedule for {at}" in again
    with closing(raw(_db(server))) as conn:
        payload = conn.execute(
            "SELECT payload FROM audit WHERE kind = 'campaign-approved'"
        ).fetchone()[0]
    assert json.loads(payload)["by"] == "ruiz"
    assert _state(server) == "draft"

    started = ruiz.post("/campaigns/conf/start", data={"at": at, **form_tokens(again)})
    assert started.status_code == 303, started.text
    assert _state(server) == "scheduled"


def test_a_viewer_sees_the_preflight_but_no_button(server: WebServer) -> None:
    text = server.login("val").get("/campaigns/conf/preflight").text
    assert "Before you start" in text
    assert "Approve as" not in text and "Confirm:" not in text


def test_bad_start_time_and_unknown_campaign_are_one_clear_message(server: WebServer) -> None:
    ruiz = server.login("ruiz")
    bad = ruiz.get("/campaigns/conf/preflight", params={"at": "tomorrow-ish"})
    assert bad.status_code == 422
    text = html.unescape(bad.text)
    assert 'id="at-error"' in text and "write the start time like '2026-12-03 07:00'" in text
    assert "Campaign “conf”" in text  # back on the campaign page, the time kept
    assert 'value="tomorrow-ish"' in text
    unknown = ruiz.get("/campaigns/nope/preflight")
    assert unknown.status_code == 404 and "no campaign named 'nope'" in html.unescape(unknown.text)
    assert _state(server) == "draft"


def test_a_test_call_to_a_number_that_is_not_a_staff_phone_is_refused_on_the_page(
    server: WebServer,
) -> None:
    # no Asterisk here: the refusal must come before anything is contacted
    lee = server.login("lee")
    page = lee.get("/campaigns/conf/preflight").text
    assert 'action="/campaigns/conf/test-call"' in page and "Ring my phone" in page
    stranger = "+12125550142"

    refused = lee.post(
        "/campaigns/conf/test-call", data={"to": stranger, "at": "", **form_tokens(page)}
    )

    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "+1******0142 is not a staff phone: only staff phones can be called" in text
    assert 'id="test_call-error"' in text and "Before you start" in text
    assert "test-call" not in audit_kinds(_db(server))
    empty = lee.post(
        "/campaigns/conf/test-call",
        data={"to": "", **form_tokens(lee.get("/campaigns/conf/preflight").text)},
    )
    assert empty.status_code == 422 and "type the staff phone to ring" in empty.text
    viewer = server.login("val").get("/campaigns/conf/preflight").text
    assert "Ring my phone" not in viewer


def test_template_texts_are_listed_with_counts_and_a_preview_of_each(
    server: WebServer, tmp_path: Path
) -> None:
    numbers = ["+12125550102", "+12125550103", "+12125550104"]
    dialer(server.config, "consent", "import", str(write_consents(tmp_path / "c2.csv", numbers)))
    fields = {"student_name": "Ana", "school": "Lincoln", "date": "2026-03-02"}
    rows = [
        {"id": "a-1", "phone": numbers[0], **fields},
        {"id": "a-2", "phone": numbers[1], **fields},
        {"id": "a-3", "phone": numbers[2], **{**fields, "student_name": ""}},  # no name
    ]
    dialer(server.config, "contacts", "import", str(write_contacts(tmp_path / "a.csv", rows)),
           "--list", "absent")  # fmt: skip
    dialer(
        server.config, "campaign", "create", "absent", "--purpose", "emergency",
        "--category", "attendance", "--authorized-by", "Principal Lee", "--list", "absent",
        "--message", "template:attendance-absence", "--caller-id", CALLER_ID,
    )  # fmt: skip
    ruiz = server.login("ruiz")

    text = html.unescape(ruiz.get("/campaigns/absent/preflight").text)

    assert "What will be spoken (template “attendance-absence”)" in text
    assert "1 distinct text(s); 1 contact(s) miss a field and are blocked (student_name: 1)" in text
    assert '<tr><td class="num">2</td><td>en</td><td>Ana was absent from Lincoln on ' in text
    assert '<tr data-reason="template-field-missing">' in text
    link = "/preview.wav?campaign=absent&contact=a-1"
    assert f'href="{link}"' in text
    audio = ruiz.get(link)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert len(audio.content) > 8000 * 2 * 5  # seconds of speech, not an empty file
