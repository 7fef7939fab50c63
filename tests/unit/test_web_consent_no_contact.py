"""C3 in the console: a consent row that names no contact is refused unless staff
tick "accept rows that name no contact" (the CLI's --no-contact). Real HTTP on
loopback, a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.store import counts
from support.webapp import WebServer, add_user, form_tokens
from typer.testing import CliRunner

from dialer.cli import app

HEADER = "phone,scope,source,method,obtained_at,disclosure,evidence_ref,contact\n"
ROW = "+12125550142,school,keypad,keypad opt-in,2026-08-15T09:30:00Z,Press 1 to stay,call:1,\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    result = CliRunner().invoke(app, ["--config", str(config), "init"])
    assert result.exit_code == 0, result.output
    add_user(config, "lee", "staff")
    with WebServer(config) as web:
        yield web


def test_c3_console_import_of_a_consent_naming_nobody_needs_the_box(server: WebServer) -> None:
    client = server.login("lee")
    db = server.config.parent / "dialer.db"
    tokens = form_tokens(client.get("/consent").text)
    reply = client.post(
        "/consent/import",
        data=tokens,
        files={"file": ("keypad.csv", (HEADER + ROW).encode(), "text/csv")},
    )
    assert reply.status_code == 422
    assert "missing contact" in reply.text and "--no-contact" in reply.text
    assert counts(db)["consents"] == 0
    tokens = form_tokens(reply.text)
    reply = client.post(
        "/consent/import",
        data={**tokens, "no_contact": "on"},
        files={"file": ("keypad.csv", (HEADER + ROW).encode(), "text/csv")},
    )
    assert reply.status_code == 200 and "Imported 1 consent records" in reply.text
    assert counts(db)["consents"] == 1
