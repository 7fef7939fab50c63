"""The app factory without an engine: routes compose, errors become clear JSON.

Real HTTP on loopback: the app is served by the same embedded uvicorn server
``dialer serve`` uses (dialer.service.http), and httpx talks to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from support.store import CALLER_ID, campaign, open_store

from dialer.accounts.roles import Role
from dialer.accounts.tokens import create_token
from dialer.accounts.users import add_user
from dialer.errors import HttpServerError
from dialer.service.http import HttpServer, bind
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.web.app import create_app
from dialer.web.context import WebContext


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path)
    yield s
    await s.close()


PASSWORD = "correct horse battery"


async def bearer(store: Store, name: str, role: Role) -> dict[str, str]:
    await add_user(store, name, role, PASSWORD, by="test")
    token, _record = await create_token(store, name, label="test", by="test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def http(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A staff member's API token on every request."""
    headers = await bearer(store, "ruiz", Role.STAFF)
    server = HttpServer(create_app(WebContext(Settings(), store)), "127.0.0.1", 0)
    await server.start()
    url = f"http://127.0.0.1:{server.bound_port}"
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        yield client
    await server.stop()


async def test_healthz_is_503_without_an_engine_and_names_it(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["components"]["store"]["ok"] is True
    assert body["components"]["engine"]["ok"] is False


async def test_unknown_campaign_is_404_with_one_clear_message(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/campaigns/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "no campaign named 'nope'"}


async def test_campaign_list_and_metrics(http: httpx.AsyncClient, store: Store) -> None:
    await campaign(store, "snow-day")
    [row] = (await http.get("/api/campaigns")).json()
    assert row["campaign"] == "snow-day" and row["purpose"] == "school"
    assert row["state"] == "draft" and row["live"] is None
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE dialer_store_write_seconds histogram" in metrics.text


def test_http_port_in_use_is_one_clear_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(HttpServerError, match=rf"HTTP port 127.0.0.1:{port} is already in use"):
            bind("127.0.0.1", port)
    finally:
        taken.close()


async def test_c19_control_through_the_api_is_audited_and_bad_input_is_refused(
    http: httpx.AsyncClient, store: Store
) -> None:
    await campaign(store, "snow-day")
    await store.consent.add_caller_id(CALLER_ID, "office", "test")
    base = "/api/campaigns/snow-day"
    paused = await http.post(f"{base}/pause", json={"reason": "x"})
    assert paused.status_code == 409
    assert "is draft: cannot pause it" in paused.json()["error"]
    past = await http.post(f"{base}/start", json={"at": "2020-01-01 07:00"})
    assert past.status_code == 400 and "in the past" in past.json()["error"]
    malformed = await http.post(f"{base}/start", content=b"{not json")
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]
    assert (await http.post("/api/campaigns/nope/start")).status_code == 404
    # issue 14: a school campaign waits for a second operator (the campaign's creator
    # is "test"), who cannot be its creator; the approver is the token's user
    unapproved = await http.post(f"{base}/start")
    assert unapproved.status_code == 400
    assert "needs a second operator's approval" in unapproved.json()["error"]
    creator = await bearer(store, "test", Role.STAFF)
    own = await http.post(f"{base}/approve", headers=creator, json={"by": "someone else"})
    assert own.status_code == 400 and "a different operator" in own.json()["error"]
    preflight = (await http.get(f"{base}/preflight")).json()
    assert preflight["campaign"] == "snow-day" and preflight["approval"]["required"] is True
    approved = await http.post(f"{base}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"] == "ruiz"
    # "by" in the body cannot name someone else: the token's user is who acts
    started = await http.post(f"{base}/start", json={"by": "Ms. Ruiz"})
    assert started.status_code == 200 and started.json()["state"] == "running"
    no_reason = await http.post(f"{base}/cancel", json={})
    assert no_reason.status_code == 400 and "why" in no_reason.json()["error"]
    cancelled = await http.post(f"{base}/cancel", json={"reason": "reopened"})
    assert cancelled.json()["state"] == "cancelled"
    status = (await http.get(base)).json()
    assert status["state"] == "cancelled" and status["changed_by"] == "ruiz"
    assert status["reason"] == "reopened" and status["engine"] == {"running": False, "pid": None}
    kinds = [t.to_state.value for t in await store.lifecycle.history("snow-day")]
    assert kinds == ["running", "cancelled"]
    await store.verify_audit()
