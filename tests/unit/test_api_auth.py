"""The JSON API's authentication over real HTTP (uvicorn on loopback, httpx),
with the console mounted as ``dialer serve`` mounts it: API tokens made by
``dialer users token``, console sessions with the CSRF header, roles.

Every refused request changes nothing (checked in the SQLite file); every
change is audited with the user's name (C19).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from support.store import CALLER_ID, campaign, raw
from support.webapp import WebServer, add_user, dialer, hidden
from typer.testing import CliRunner

from dialer.cli import app
from dialer.settings import load_settings
from dialer.store.store import Store

RUNNER = CliRunner()
BASE = "/api/campaigns/snow-day"


async def _campaign(config: Path) -> None:
    cfg = load_settings(config)
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        await campaign(store, "snow-day")
        await store.consent.add_caller_id(CALLER_ID, "office", "test")
    finally:
        await store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(app, ["--config", str(config), "init", "--callback", "+12125550100"])
    assert result.exit_code == 0, result.output
    add_user(config, "lee", "staff")
    add_user(config, "val", "viewer")
    asyncio.run(_campaign(config))
    with WebServer(config) as web:
        yield web


def token(server: WebServer, name: str) -> str:
    """``dialer users token NAME``: the token alone on stdout."""
    result = RUNNER.invoke(app, ["--config", str(server.config), "users", "token", name])
    assert result.exit_code == 0, result.output
    value = result.stdout.strip().splitlines()[-1]
    assert value.startswith("dlr_") and len(value) == 47
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def _db(server: WebServer) -> Path:
    return server.config.parent / "dialer.db"


def _state(server: WebServer) -> str:
    with closing(raw(_db(server))) as conn:
        return str(conn.execute("SELECT state FROM campaigns").fetchone()[0])


def _audit(server: WebServer, kind: str) -> list[dict[str, object]]:
    with closing(raw(_db(server))) as conn:
        rows = conn.execute("SELECT payload FROM audit WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(p) for (p,) in rows]


def test_no_credentials_is_401_everywhere_but_health_and_metrics_stay_open(
    server: WebServer,
) -> None:
    client = server.client()
    for method, path in [
        ("GET", "/api/campaigns"),
        ("GET", BASE),
        ("POST", f"{BASE}/start"),
        ("POST", f"{BASE}/pause"),
        ("POST", f"{BASE}/resume"),
        ("POST", f"{BASE}/cancel"),
    ]:
        reply = client.request(method, path)
        assert reply.status_code == 401, (method, path, reply.text)
        assert reply.headers["www-authenticate"] == 'Bearer realm="dialer"'
        assert "dialer users token NAME" in reply.json()["error"]
    for header in ("Basic bGVlOng=", "Bearer", "Bearer dlr_" + "x" * 43, "Bearer nonsense"):
        refused = client.get("/api/campaigns", headers={"Authorization": header})
        assert refused.status_code == 401, header
    assert client.get("/metrics").status_code == 200
    assert client.get("/healthz").status_code == 503  # no engine here: open, but not ready
    assert _state(server) == "draft"


def test_viewer_reads_but_control_is_403_and_changes_nothing(server: WebServer) -> None:
    client = server.client()
    headers = bearer(token(server, "val"))
    assert client.get("/api/campaigns", headers=headers).status_code == 200
    assert client.get(BASE, headers=headers).json()["state"] == "draft"
    for command in ("approve", "start", "pause", "resume", "cancel"):
        assert client.post(f"{BASE}/{command}", headers=headers).status_code == 403, command
    assert client.get(f"{BASE}/preflight", headers=headers).status_code == 200
    refused = client.post(f"{BASE}/start", headers=headers)
    assert refused.status_code == 403
    assert "'val' (viewer) may not do this" in refused.json()["error"]
    assert _state(server) == "draft" and _audit(server, "campaign-state") == []


def test_staff_token_controls_and_every_change_is_audited_with_the_user_s_name(
    server: WebServer,
) -> None:
    value = token(server, "lee")
    client = server.client()
    # issue 14: a second operator approves first; the token's user is that operator
    approved = client.post(f"{BASE}/approve", headers=bearer(value), json={"by": "test"})
    assert approved.status_code == 200 and approved.json()["approved_by"] == "lee"
    started = client.post(f"{BASE}/start", headers=bearer(value), json={"by": "someone else"})
    assert started.status_code == 200 and started.json()["state"] == "running"
    paused = client.post(f"{BASE}/pause", headers=bearer(value), json={"reason": "check"})
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert [(e["by"], e["to"]) for e in _audit(server, "campaign-state")] == [
        ("lee", "running"),
        ("lee", "paused"),
    ]
    [created] = _audit(server, "api-token-created")
    assert created["user"] == "lee"
    # only the token's SHA-256 is kept: the file never holds the token itself
    assert value.encode() not in _db(server).read_bytes()
    # revoked: refused at once
    dialer(server.config, "users", "token", "lee", "--revoke")
    assert client.get(BASE, headers=bearer(value)).status_code == 401
    [revoked] = _audit(server, "api-tokens-revoked")
    assert revoked["user"] == "lee" and revoked["tokens"] == 1


def test_a_disabled_user_s_token_stops_working(server: WebServer) -> None:
    headers = bearer(token(server, "lee"))
    client = server.client()
    assert client.get(BASE, headers=headers).status_code == 200
    dialer(server.config, "users", "disable", "lee")
    assert client.get(BASE, headers=headers).status_code == 401
    unknown = RUNNER.invoke(app, ["--config", str(server.config), "users", "token", "nobody"])
    assert unknown.exit_code == 4 and "no user named 'nobody'" in unknown.output
    disabled = RUNNER.invoke(app, ["--config", str(server.config), "users", "token", "lee"])
    assert disabled.exit_code == 2 and "'lee' is disabled" in disabled.output


def test_console_session_reads_and_controls_with_the_csrf_header(server: WebServer) -> None:
    viewer = server.login("val")
    assert viewer.get(BASE).status_code == 200
    csrf = hidden(viewer.get("/").text, "csrf_token")
    refused = viewer.post(f"{BASE}/start", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403 and "may not do this" in refused.json()["error"]

    staff = server.login("lee")
    csrf = hidden(staff.get("/").text, "csrf_token")
    # a cross-site form post carries the cookie but cannot know the token
    forged = staff.post(f"{BASE}/start", json={})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["error"]
    wrong = staff.post(f"{BASE}/start", headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    assert _state(server) == "draft"
    approved = staff.post(f"{BASE}/approve", headers={"X-CSRF-Token": csrf})
    assert approved.status_code == 200, approved.text
    started = staff.post(f"{BASE}/start", headers={"X-CSRF-Token": csrf})
    assert started.status_code == 200 and started.json()["state"] == "running"
    assert [e["by"] for e in _audit(server, "campaign-state")] == ["lee"]
    # logged out: the old cookie opens nothing
    old = staff.cookies["dialer_session"]
    staff.post("/logout", data={"csrf_token": csrf, "form_id": "x"})
    staff.cookies.set("dialer_session", old)
    ended = staff.get(BASE)
    assert ended.status_code == 401 and "log in again" in ended.json()["error"]


def test_an_api_token_cannot_open_the_console(server: WebServer) -> None:
    """A token is for the JSON API: the console's pages still need a login."""
    headers = bearer(token(server, "lee"))
    with httpx.Client(base_url=server.url, headers=headers) as client:
        assert client.get("/campaigns").status_code == 303  # to /login


def _age_token(server: WebServer, days: float) -> None:
    """Move every token's creation back by ``days`` (the store writes ts() text)."""
    with closing(raw(_db(server))) as conn:
        for token_id, created in conn.execute("SELECT id, created_at FROM api_tokens").fetchall():
            moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
            older = (moment - dt.timedelta(days=days)).astimezone(dt.UTC).replace(tzinfo=None)
            conn.execute(
                "UPDATE api_tokens SET created_at = ? WHERE id = ?",
                (older.isoformat("T", "microseconds") + "Z", token_id),
            )
        conn.commit()


def test_a_token_expires_api_token_days_after_its_creation(server: WebServer) -> None:
    """web.api_token_days (365): a token copied into a forgotten script stops working."""
    headers = bearer(token(server, "lee"))
    client = server.client()
    _age_token(server, 364)
    assert client.get(BASE, headers=headers).status_code == 200
    _age_token(server, 2)  # 366 days old now
    refused = client.get(BASE, headers=headers)
    assert refused.status_code == 401 and "expired" in refused.json()["error"]


def test_users_tokens_lists_state_and_expiry_never_the_token(server: WebServer) -> None:
    first = token(server, "lee")
    dialer(server.config, "users", "token", "lee", "--revoke")
    second = token(server, "val")
    _age_token(server, 400)
    third = token(server, "val")
    listed = RUNNER.invoke(app, ["--config", str(server.config), "users", "tokens", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["user"], r["state"]) for r in rows] == [
        ("lee", "revoked"),
        ("val", "expired"),
        ("val", "active"),
    ]
    created = dt.datetime.fromisoformat(rows[2]["created_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(rows[2]["expires_at"].replace("Z", "+00:00"))
    assert expires - created == dt.timedelta(days=365)
    for secret in (first, second, third):
        assert secret not in listed.output and secret[4:20] not in listed.output
    only = RUNNER.invoke(app, ["--config", str(server.config), "users", "tokens", "lee"])
    assert only.exit_code == 0 and "val" not in only.stdout
    unknown = RUNNER.invoke(app, ["--config", str(server.config), "users", "tokens", "nobody"])
    assert unknown.exit_code == 4 and "no user named 'nobody'" in unknown.output
