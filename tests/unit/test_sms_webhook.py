"""C5: SMS replies by webhook (POST /sms/inbound), over real HTTP on loopback.

The app runs in the same embedded uvicorn server ``dialer serve`` uses, on a
real store; httpx posts the form an SMS provider sends. A request whose
signature does not verify gets 403 and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.store import NUMBERS, open_store, raw

from dialer.service.http import HttpServer
from dialer.settings import settings_from_dict, write_secret_file
from dialer.store.store import Store
from dialer.web.app import create_app
from dialer.web.context import WebContext
from dialer.web.webhooks import twilio_signature

TOKEN = "twilio-auth-token-0123456789abcdef"
PARENT = NUMBERS[5]


async def _serve(tmp_path: Path, store: Store, sms: dict[str, Any]) -> tuple[HttpServer, str]:
    write_secret_file(tmp_path / "secrets" / "sms.secret", TOKEN)
    cfg = settings_from_dict(
        {"sms": {"auth_token_file": "secrets/sms.secret", **sms}}, base_dir=tmp_path
    )
    server = HttpServer(create_app(WebContext(cfg, store)), "127.0.0.1", 0)
    await server.start()
    return server, f"http://127.0.0.1:{server.bound_port}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path)
    yield s
    await s.close()


def _revocations(tmp_path: Path) -> list[tuple[str, str]]:
    with raw(tmp_path / "dialer.db") as conn:
        return [
            (str(r[0]), str(r[1]))
            for r in conn.execute("SELECT channel, source_ref FROM revocations")
        ]


def _audit_count(tmp_path: Path) -> int:
    with raw(tmp_path / "dialer.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


async def test_c5_twilio_signed_stop_revokes_and_a_forged_one_records_nothing(
    tmp_path: Path, store: Store
) -> None:
    server, base = await _serve(tmp_path, store, {"webhook_auth": "twilio"})
    url = f"{base}/sms/inbound"
    form = {"From": PARENT, "Body": "Stop", "MessageSid": "SM123", "To": "+12125550100"}
    try:
        async with httpx.AsyncClient() as http:
            before = _audit_count(tmp_path)
            forged = await http.post(url, data=form, headers={"X-Twilio-Signature": "AAAA"})
            assert forged.status_code == 403
            assert forged.json() == {"error": "signature does not verify"}
            # a real signature over a different body does not verify either
            sig = twilio_signature(TOKEN, url, sorted(form.items()))
            tampered = await http.post(
                url, data={**form, "From": NUMBERS[6]}, headers={"X-Twilio-Signature": sig}
            )
            assert tampered.status_code == 403
            assert _revocations(tmp_path) == [] and _audit_count(tmp_path) == before

            ok = await http.post(url, data=form, headers={"X-Twilio-Signature": sig})
            assert ok.status_code == 200, ok.text
            assert ok.headers["content-type"].startswith("text/xml")
            assert "<Response>" in ok.text
            assert _revocations(tmp_path) == [("sms", "SM123")]
            facts = await store.consent.facts_for(PARENT)
            assert facts.revoked_at is not None, "the gate sees the revocation"
            # the provider redelivers: not revoked twice
            again = await http.post(url, data=form, headers={"X-Twilio-Signature": sig})
            assert again.status_code == 200 and len(_revocations(tmp_path)) == 1

            missing = {"From": PARENT, "Body": "STOP"}
            sig2 = twilio_signature(TOKEN, url, sorted(missing.items()))
            bad = await http.post(url, data=missing, headers={"X-Twilio-Signature": sig2})
            assert bad.status_code == 400 and "lacks MessageSid" in bad.json()["error"]
            malformed = await http.post(
                url,
                content=b"From=%2B1&&&Body",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert malformed.status_code == 400
            assert "not a URL-encoded form" in malformed.json()["error"]
    finally:
        await server.stop()


async def test_c5_shared_secret_header_and_public_url(tmp_path: Path, store: Store) -> None:
    server, base = await _serve(tmp_path, store, {"webhook_auth": "shared-secret"})
    form = {"From": PARENT, "Body": "please stop calling me at work", "MessageSid": "SM9"}
    try:
        async with httpx.AsyncClient() as http:
            wrong = await http.post(
                f"{base}/sms/inbound", data=form, headers={"X-Dialer-Webhook-Secret": "nope"}
            )
            assert wrong.status_code == 403
            ok = await http.post(
                f"{base}/sms/inbound", data=form, headers={"X-Dialer-Webhook-Secret": TOKEN}
            )
            assert ok.status_code == 200
            body = ok.json()
            # not a bare keyword: kept for staff review, no revocation (C5)
            assert body["stop"] is False and body["needs_review"] is True
            assert PARENT not in ok.text  # masked (C18)
            assert _revocations(tmp_path) == []
    finally:
        await server.stop()


async def test_webhook_off_until_configured(tmp_path: Path, store: Store) -> None:
    server, base = await _serve(tmp_path, store, {})
    try:
        async with httpx.AsyncClient() as http:
            off = await http.post(f"{base}/sms/inbound", data={"From": PARENT})
            assert off.status_code == 503 and "webhook_auth" in off.json()["error"]
    finally:
        await server.stop()


def test_twilio_signature_matches_twilios_documented_example() -> None:
    # the worked example of Twilio's request validation (also in twilio-python's tests)
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature("12345", url, list(params.items())) == expected
