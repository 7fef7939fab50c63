"""The running ``dialer serve`` over real HTTP (httpx): the JSON API's
credentials and roles, and the CSV report download (issue 9 items 6 and 7).

The service is a subprocess without a TTY, as systemd runs it, placing real
calls through the sandbox Asterisk.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.service import ServiceProcess
from support.webapp import PASSWORD, form_tokens, hidden
from support.workspace import free_port, make_workspace

pytestmark = pytest.mark.integration

FORMULA_ID = "=SUM(1+1)*cmd|' /C calc'!A0"


def _audit(db: Path, kind: str) -> list[dict[str, object]]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT payload FROM audit WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(p) for (p,) in rows]


def _login(service: ServiceProcess, name: str) -> httpx.Client:
    client = httpx.Client(base_url=service.url, timeout=10)
    token = hidden(client.get("/login").text, "anon_token")
    reply = client.post("/login", data={"name": name, "password": PASSWORD, "anon_token": token})
    assert reply.status_code == 303, reply.text
    return client


def test_c19_api_needs_credentials_staff_token_controls_audited_and_csv_downloads(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    port = free_port()
    ws = make_workspace(tmp_path, sandbox, extra=f"\n[http]\nport = {port}\n")
    prefix = daytime_prefix()
    busy = [sample_number(prefix, i, 9) for i in range(1, 4)]  # dialplan phone: busy at once
    ws.school_campaign({FORMULA_ID: busy[0], "s-2": busy[1], "s-3": busy[2]})
    viewer, staff = ws.user("val", "viewer"), ws.user("lee", "staff")
    ws.user("ruiz", "admin")
    db = ws.settings().store.path
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        with service.client() as anonymous:
            # monitoring stays open on the service's address; the API does not
            assert anonymous.get("/healthz").status_code == 200
            assert anonymous.get("/metrics").status_code == 200
            refused = anonymous.post("/api/campaigns/c/start")
            assert refused.status_code == 401 and refused.headers["www-authenticate"]
            assert anonymous.get("/api/campaigns").status_code == 401
        with service.client(viewer) as http:
            assert http.get("/api/campaigns/c").json()["state"] == "draft"
            forbidden = http.post("/api/campaigns/c/start")
            assert forbidden.status_code == 403 and "(viewer)" in forbidden.json()["error"]
            assert http.get("/api/campaigns/c").json()["state"] == "draft"
        with service.client(staff) as http:
            started = http.post("/api/campaigns/c/start")
            assert started.status_code == 200, started.text
            deadline = time.monotonic() + 30
            while http.get("/api/campaigns/c").json()["state"] != "completed":
                assert time.monotonic() < deadline, "campaign did not complete"
                time.sleep(0.2)
            assert http.get("/api/campaigns/c").json()["outcomes"] == {"busy": 3}
        # the CSV download from the console, as a spreadsheet user gets it
        reader = _login(service, "val")
        masked = reader.get("/campaigns/c/report.csv")
        assert masked.status_code == 200, masked.text
        rows = list(csv.reader(io.StringIO(masked.text)))
        assert rows[0][:3] == ["contact", "number", "outcome"]
        by_id = {row[0]: row for row in rows[1:]}
        assert set(by_id) == {"'" + FORMULA_ID, "s-2", "s-3"}  # formula escaped
        assert all(n not in masked.text for n in busy)
        assert by_id["s-2"][1] == "'" + busy[1][:2] + "*" * (len(busy[1]) - 6) + busy[1][-4:]
        assert {row[2] for row in rows[1:]} == {"busy"}
        admin = _login(service, "ruiz")
        page = admin.get("/campaigns/c/report")
        full = admin.post("/campaigns/c/report/full.csv", data=form_tokens(page.text))
        assert full.status_code == 200
        assert all(f"'{n}" in full.text for n in busy)  # plaintext, still never a formula
        reader.close()
        admin.close()
        assert service.stop() == 0
    states = _audit(db, "campaign-state")
    assert [(e["by"], e["to"]) for e in states] == [("lee", "running"), ("engine", "completed")]
    assert _audit(db, "report-reveal") == [{"campaign": "c", "by": "ruiz", "rows": 3}]
    downloads = [e for e in _audit(db, "web-action") if e["action"] == "report-download"]
    assert [(e["user"], e["rows"]) for e in downloads] == [("val", 3)]
    # the CLI's --reveal is audited with the operator's name too
    ws.ok("campaign", "report", "c", "--csv", "--reveal")
    assert len(_audit(db, "report-reveal")) == 2
    # C18: no plaintext number in the service's log
    assert all(n not in service.log() for n in busy)
