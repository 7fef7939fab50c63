"""The staff console and the opt-out page over real HTTP (uvicorn on loopback,
httpx), on a real store: sessions, CSRF, one-time forms, roles, bad input.

Every refused request gets a clear message on the page, the HTTP status to
match, and changes nothing (checked in the SQLite file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from support.store import audit_kinds, counts, raw
from support.webapp import PASSWORD, WebServer, add_user, form_tokens, hidden
from typer.testing import CliRunner

from dialer.cli import app

RUNNER = CliRunner()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(
        app,
        [
            "--config",
            str(config),
            "init",
            "--callback",
            "+12125550111",
            "--hotline",
            "+12125550199",
        ],
    )
    assert result.exit_code == 0, result.output
    with config.open("a") as f:
        f.write("\n[web]\nmax_upload_mb = 1\noptout_per_number_per_day = 2\n")
    add_user(config, "ruiz", "admin")
    add_user(config, "lee", "staff")
    add_user(config, "val", "viewer")
    with WebServer(config) as web:
        yield web


def _db(server: WebServer) -> Path:
    return server.config.parent / "dialer.db"


def test_login_cookie_is_signed_httponly_samestrict_and_logins_are_audited(
    server: WebServer,
) -> None:
    client = server.client()
    page = client.get("/login")
    token = hidden(page.text, "anon_token")
    refused = client.post(
        "/login", data={"name": "ruiz", "password": "nope" * 4, "anon_token": token}
    )
    assert refused.status_code == 401
    assert "wrong user name or password" in refused.text
    reply = client.post("/login", data={"name": "ruiz", "password": PASSWORD, "anon_token": token})
    assert reply.status_code == 303
    cookie = next(
        v for k, v in reply.headers.multi_items() if k == "set-cookie" and "dialer_session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; Secure over TLS
    assert client.get("/").status_code == 200
    # a tampered cookie opens nothing
    value = client.cookies["dialer_session"]
    client.cookies.set("dialer_session", value[:-1] + ("0" if value[-1] != "0" else "1"))
    assert client.get("/").status_code == 303
    kinds = audit_kinds(_db(server))
    assert kinds["web-login"] == 1 and kinds["web-login-refused"] == 1
    with closing(raw(_db(server))) as conn:
        stored = conn.execute("SELECT token_sha256 FROM web_sessions").fetchone()[0]
    assert value.split(".")[0] not in stored  # only the token's hash is stored


def test_login_form_without_its_own_token_is_refused(server: WebServer) -> None:
    reply = server.client().post("/login", data={"name": "ruiz", "password": PASSWORD})
    assert reply.status_code == 403
    assert "expired or was not sent from this site" in reply.text


def test_forms_without_or_with_a_forged_csrf_token_are_refused_and_change_nothing(
    server: WebServer,
) -> None:
    client = server.login("lee")
    page = client.get("/consent")
    tokens = form_tokens(page.text)
    data = {"revoke_number": "+12125550123", "confirm": "on", "form_id": tokens["form_id"]}
    missing = client.post("/consent/revoke", data=data)
    forged = client.post("/consent/revoke", data={**data, "csrf_token": "forged" + "x" * 30})
    for reply in (missing, forged):
        assert reply.status_code == 403
        assert "security token is missing or wrong" in reply.text
        assert "Nothing was changed" in reply.text
    assert counts(_db(server))["revocations"] == 0
    ok = client.post("/consent/revoke", data={**data, **tokens})
    assert ok.status_code == 200, ok.text
    assert "Revocation 1 recorded for +1******0123" in ok.text
    with closing(raw(_db(server))) as conn:
        channel, by = conn.execute("SELECT channel, recorded_by FROM revocations").fetchone()
    assert (channel, by) == ("staff", "lee")


def test_a_double_submitted_form_acts_once_and_says_so(server: WebServer) -> None:
    client = server.login("ruiz")
    tokens = form_tokens(client.get("/admin/callerids").text)
    data = {"number": "+12125550100", "label": "office", **tokens}
    first = client.post("/admin/callerids", data=data)
    second = client.post("/admin/callerids", data=data)
    assert first.status_code == 303
    assert second.status_code == 409
    assert "already sent; it was not carried out a second time" in second.text
    assert 'href="/admin/callerids"' in second.text
    assert counts(_db(server))["caller_ids"] == 1
    with closing(raw(_db(server))) as conn:
        payload = conn.execute("SELECT payload FROM audit WHERE kind='caller-id-added'").fetchone()
    assert json.loads(payload[0])["by"] == "ruiz"  # the UI action is audited with the name


def test_an_expired_session_is_told_so_and_a_post_does_nothing(server: WebServer) -> None:
    client = server.login("lee")
    tokens = form_tokens(client.get("/consent").text)
    with closing(raw(_db(server))) as conn:
        conn.execute("UPDATE web_sessions SET last_seen_at = '2020-01-01T00:00:00.000000Z'")
    page = client.get("/consent")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/consent&expired=1"
    assert "session has expired" in client.get(page.headers["location"]).text
    data = {"revoke_number": "+12125550123", "confirm": "on", **tokens}
    post = client.post("/consent/revoke", data=data)
    assert post.status_code == 401
    assert "Your session has expired" in post.text and "nothing was done" in post.text
    assert counts(_db(server))["revocations"] == 0


def test_roles_viewer_sees_but_cannot_act_staff_cannot_manage_users(server: WebServer) -> None:
    viewer = server.login("val")
    assert viewer.get("/campaigns").status_code == 200
    refused = viewer.get("/campaigns/new")
    assert refused.status_code == 403
    assert "Your role (viewer) does not allow this" in refused.text
    tokens = form_tokens(viewer.get("/consent").text)
    post = viewer.post("/consent/revoke", data={"revoke_number": "+12125550123", **tokens})
    assert post.status_code == 403
    staff = server.login("lee")
    assert staff.get("/admin/users").status_code == 403
    assert counts(_db(server))["revocations"] == 0


@pytest.mark.parametrize(
    ("page", "action", "table"),
    [
        ("/recordings", "/recordings", "recordings"),
        ("/lists", "/lists", "contacts"),
        ("/consent", "/consent/import", "consents"),
    ],
)
def test_oversized_upload_is_refused_413_at_its_form_and_nothing_is_saved(
    server: WebServer, page: str, action: str, table: str
) -> None:
    client = server.login("ruiz")
    tokens = form_tokens(client.get(page).text)
    big = b"RIFF" + b"\0" * (3 * 2**20)
    reply = client.post(
        action,
        data={"name": "big", "list": "big", "language": "en", **tokens},
        files={"file": ("big.csv", big, "text/csv")},
    )
    assert reply.status_code == 413
    # the upload form again, the refusal next to its file field, the limit named
    assert f'action="{action}"' in reply.text and "Not done" not in reply.text
    error = re.search(r'id="file-error"[^>]*>([^<]*)<', reply.text)
    assert error and "larger than the 1 MB limit (web.max_upload_mb)" in error.group(1)
    with closing(raw(_db(server))) as conn:
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    # a fresh form id and token: the fixed upload can be sent from this page
    assert form_tokens(reply.text)["form_id"] != tokens["form_id"]


def test_corrupt_audio_is_refused_with_the_reason_next_to_the_file(server: WebServer) -> None:
    client = server.login("ruiz")
    tokens = form_tokens(client.get("/recordings").text)
    reply = client.post(
        "/recordings",
        data={"name": "broken", "language": "en", **tokens},
        files={"file": ("closure.mp3", b"this is not audio at all" * 50, "audio/mpeg")},
    )
    assert reply.status_code == 422
    assert 'id="file-error"' in reply.text and "closure.mp3" in reply.text
    assert "dialer-upload-" not in reply.text  # the temporary path is not shown
    with closing(raw(_db(server))) as conn:
        assert conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0


def test_csv_without_a_phone_column_and_a_list_with_a_bad_row(server: WebServer) -> None:
    client = server.login("lee")
    tokens = form_tokens(client.get("/lists").text)
    reply = client.post(
        "/lists",
        data={"list": "g5", **tokens},
        files={"file": ("sis.csv", b"student,grade\nAna,5\n", "text/csv")},
    )
    assert reply.status_code == 422
    assert "sis.csv: no phone column; expected one of: phone" in reply.text
    assert counts(_db(server))["contacts"] == 0
    tokens = form_tokens(reply.text)
    csv_text = "id,phone,language\ns-1,+12125550101,en\ns-2,12,es\ns-3,+12125550103,es\n"
    reply = client.post(
        "/lists",
        data={"list": "g5", **tokens},
        files={"file": ("sis.csv", csv_text.encode(), "text/csv")},
    )
    assert reply.status_code == 200
    assert "2 contacts loaded" in reply.text
    assert "<td>3</td><td>" in reply.text  # row 3 (header = row 1) refused, with its reason
    assert "1 row(s) refused" in reply.text
    assert "<strong>en</strong> 1" in reply.text and "<strong>es</strong> 1" in reply.text


def _optout(client, number: str, lang: str = "en") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    page = client.get(f"/optout?lang={lang}")
    token = hidden(page.text, "anon_token")
    confirm = client.post(
        "/optout", data={"number": number, "lang": lang, "step": "enter", "anon_token": token}
    )
    token = hidden(confirm.text, "anon_token")
    done = client.post(
        "/optout", data={"number": number, "lang": lang, "step": "confirm", "anon_token": token}
    )
    return done.status_code, done.text


def test_c5_optout_page_answers_alike_for_known_and_unknown_numbers(server: WebServer) -> None:
    staff = server.login("lee")
    tokens = form_tokens(staff.get("/lists").text)
    staff.post(
        "/lists",
        data={"list": "g5", **tokens},
        files={"file": ("sis.csv", b"id,phone\ns-1,+12125550101\n", "text/csv")},
    )
    parent = server.client()
    known = _optout(parent, "(212) 555-0101")
    unknown = _optout(parent, "(212) 555-0177")
    assert known[0] == unknown[0] == 200
    assert (
        known[1].replace("0101", "NNNN").split("anon_token")[0]
        == unknown[1].replace("0177", "NNNN").split("anon_token")[0]
    )
    assert "If +1******0101 is on our lists" in known[1]
    spanish = _optout(parent, "2125550188", lang="es")
    assert spanish[0] == 200 and 'lang="es"' in spanish[1] and "Su solicitud" in spanish[1]
    with closing(raw(_db(server))) as conn:
        rows = conn.execute("SELECT channel, recorded_by FROM revocations").fetchall()
    assert rows == [("web", "parent (web opt-out page)")] * 3
    assert audit_kinds(_db(server))["revocation"] == 3


def test_optout_is_rate_limited_per_number_and_refuses_forged_forms(server: WebServer) -> None:
    parent = server.client()
    assert _optout(parent, "2125550150")[0] == 200
    assert _optout(parent, "2125550150")[0] == 200
    status, text = _optout(parent, "2125550150")  # optout_per_number_per_day = 2
    assert status == 429 and "Too many requests" in text
    forged = parent.post("/optout", data={"number": "2125550151", "step": "confirm"})
    assert forged.status_code == 403
    bad = _optout(parent, "12")
    assert bad[0] == 422 or "does not look like a phone number" in bad[1]
    assert counts(_db(server))["revocations"] == 2


def test_c5_optout_page_served_alone_on_its_own_address(server: WebServer) -> None:
    """``web.optout_port``: the public address serves /optout and nothing of the console."""
    import asyncio

    import httpx

    from dialer.service.http import HttpServer
    from dialer.web.context import WebContext
    from dialer.web.ui.optout import optout_app

    ctx: WebContext = server._server.app.state.ctx  # type: ignore[union-attr,attr-defined]
    alone = HttpServer(optout_app(ctx), "127.0.0.1", 0)
    loop = server._loop
    asyncio.run_coroutine_threadsafe(alone.start(), loop).result(10)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{alone.bound_port}") as public:
            assert public.get("/").headers["location"] == "/optout"
            assert public.get("/optout").status_code == 200
            assert public.get("/login").status_code == 404
            assert public.get("/api/campaigns").status_code == 404
            status, text = _optout(public, "2125550160")
            assert status == 200 and "Your request is recorded" in text
    finally:
        asyncio.run_coroutine_threadsafe(alone.stop(), loop).result(10)
    assert counts(_db(server))["revocations"] == 1


def test_cookies_are_secure_when_served_over_tls(server: WebServer) -> None:
    """Behind the TLS reverse proxy the README asks for (it sets X-Forwarded-Proto
    from loopback, which uvicorn trusts), every cookie is marked Secure: the login
    form's own cookie and the session cookie."""
    client = server.client()
    tls = {"X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=tls)
    anon = [v for k, v in page.headers.multi_items() if k == "set-cookie"]
    assert anon and all("Secure" in v and "HttpOnly" in v for v in anon), anon
    # httpx keeps a Secure cookie off plain http: hand it over as a browser on https would
    for name, value in page.cookies.items():
        client.cookies.set(name, value)
    token = hidden(page.text, "anon_token")
    reply = client.post(
        "/login",
        data={"name": "ruiz", "password": PASSWORD, "anon_token": token},
        headers={**tls, "Cookie": "; ".join(f"{k}={v}" for k, v in page.cookies.items())},
    )
    assert reply.status_code == 303, reply.text
    cookie = next(
        v for k, v in reply.headers.multi_items() if k == "set-cookie" and "dialer_session" in v
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_campaign_form_names_each_rule_at_its_field(server: WebServer) -> None:
    """The same checks as 'campaign create' (C1, C14), each shown next to the field
    at fault (aria-invalid, an error paragraph with the field's id), 422, nothing
    created; the words fit a form as well as the command line."""
    client = server.login("lee")
    page = client.get("/campaigns/new")
    base = {"name": "lockdown", "message": "", "window": "", "attempts": "1"}
    emergency = client.post(
        "/campaigns",
        data={
            **base,
            "purpose": "emergency",
            "caller_id": "+12125550177",
            **form_tokens(page.text),
        },
    )
    assert emergency.status_code == 422, emergency.text
    html = emergency.text
    assert 'id="category-error"' in html and "C1: an emergency campaign needs a category" in html
    assert 'id="list-error"' in html and "choose the contact list" in html
    assert 'aria-invalid="true"' in html
    page = client.get("/campaigns/new")
    telemarketing = client.post(
        "/campaigns",
        data={
            **base,
            "purpose": "telemarketing",
            "caller_id": "+12125550177",
            **form_tokens(page.text),
        },
    )
    assert telemarketing.status_code == 422
    assert 'id="caller_id-error"' in telemarketing.text and "C14" in telemarketing.text
    with closing(raw(_db(server))) as conn:
        assert conn.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] == 0


def test_limits_per_address_over_http_for_logins_and_opt_outs(tmp_path: Path) -> None:
    """Per address, through the real app: past web.login_attempts_per_address even
    the right password is refused (429, nothing said about the password); past
    web.optout_per_address_per_hour a new number is refused (429, not recorded)."""
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(app, ["--config", str(config), "init", "--callback", "+12125550111"])
    assert result.exit_code == 0, result.output
    with config.open("a") as f:
        f.write("\n[web]\nlogin_attempts_per_address = 3\noptout_per_address_per_hour = 3\n")
    add_user(config, "ruiz", "admin")
    with WebServer(config) as web:
        guesser = web.client()
        for guess in ("wrong-password-1", "wrong-password-2", "wrong-password-3"):
            token = hidden(guesser.get("/login").text, "anon_token")
            reply = guesser.post(
                "/login", data={"name": "nobody", "password": guess, "anon_token": token}
            )
            assert reply.status_code == 401
        token = hidden(guesser.get("/login").text, "anon_token")
        right = guesser.post(
            "/login", data={"name": "ruiz", "password": PASSWORD, "anon_token": token}
        )
        assert right.status_code == 429 and "dialer_session" not in right.headers.get(
            "set-cookie", ""
        )
        parent = web.client()
        for n in range(3):  # three different numbers, one address
            assert _optout(parent, f"21255501{60 + n}")[0] == 200
        status, text = _optout(parent, "2125550170")
        assert status == 429 and "Too many requests" in text
        with closing(raw(tmp_path / "dialer.db")) as conn:
            assert conn.execute("SELECT COUNT(*) FROM revocations").fetchone()[0] == 3


def test_c6_override_form_needs_a_reason_and_the_box_and_an_admin(tmp_path: Path) -> None:
    """The emergency override form (C6): no reason or no confirmation -> refused at that
    field, nothing recorded; staff -> 403; an admin with both -> recorded, audited with
    the admin's name and the reason."""
    import asyncio

    from support.store import campaign

    from dialer.consent.model import Purpose
    from dialer.settings import load_settings
    from dialer.store.store import Store

    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(app, ["--config", str(config), "init", "--callback", "+12125550111"])
    assert result.exit_code == 0, result.output
    add_user(config, "ruiz", "admin")
    add_user(config, "lee", "staff")

    async def emergency() -> None:
        cfg = load_settings(config)
        store = await Store.open(cfg.store.path, cfg.store.key_file)
        try:
            await campaign(store, "lockdown", Purpose.EMERGENCY)
        finally:
            await store.close()

    asyncio.run(emergency())
    db = tmp_path / "dialer.db"
    with WebServer(config) as web:
        staff = web.login("lee")
        page = staff.get("/campaigns/lockdown")
        assert "Record the override" not in page.text  # staff never see the form
        # a valid token of staff's own (the consent page's form): refused for the role
        tokens = form_tokens(staff.get("/consent").text)
        refused = staff.post(
            "/campaigns/lockdown/override",
            data={"reason": "gas leak", "confirm": "on", **tokens},
        )
        assert refused.status_code == 403
        admin = web.login("ruiz")
        for data, field in (
            ({"reason": "  ", "confirm": "on"}, "reason"),
            ({"reason": "gas leak"}, "confirm"),
        ):
            page = admin.get("/campaigns/lockdown")
            reply = admin.post(
                "/campaigns/lockdown/override", data={**data, **form_tokens(page.text)}
            )
            assert reply.status_code == 422, reply.text
            assert f'id="{field}-error"' in reply.text
        page = admin.get("/campaigns/lockdown")
        done = admin.post(
            "/campaigns/lockdown/override",
            data={"reason": "gas leak", "confirm": "on", **form_tokens(page.text)},
        )
        assert done.status_code == 303
        assert "C6 override recorded" in admin.get("/campaigns/lockdown").text
    with closing(raw(db)) as conn:
        rows = conn.execute("SELECT kind, payload FROM audit").fetchall()
    overrides = [json.loads(p) for k, p in rows if "override" in k]
    assert len(overrides) == 1, rows
    assert "ruiz" in json.dumps(overrides[0]) and "gas leak" in json.dumps(overrides[0])
