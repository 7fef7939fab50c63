"""``dialer serve`` as systemd runs it: a subprocess without a TTY, real HTTP.

The engine lock (one engine per store): a second ``serve`` and a foreground
``campaign run`` refuse while the service runs, naming its pid. SIGTERM stops
the service with exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.sandbox import Sandbox
from support.service import ServiceProcess
from support.workspace import Workspace, free_port, make_workspace

pytestmark = pytest.mark.integration


def service_workspace(tmp_path: Path, sandbox: Sandbox, **kwargs: object) -> tuple[Workspace, int]:
    port = free_port()
    ws = make_workspace(tmp_path, sandbox, extra=f"\n[http]\nport = {port}\n", **kwargs)  # type: ignore[arg-type]
    return ws, port


def test_serve_answers_health_and_metrics_and_holds_the_engine_lock(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws, port = service_workspace(tmp_path, sandbox)
    ws.school_campaign({"a": "+12125550106"})
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        with service.client() as http:
            health = http.get("/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "ok"
            assert body["components"]["store"]["ok"] is True
            assert body["components"]["fastagi"]["ok"] is True
            [ami] = body["components"]["ami"]
            assert ami["ok"] is True and ami["ami"] == f"{sandbox.ami_host}:{sandbox.ami_port}"
            metrics = http.get("/metrics")
            assert metrics.status_code == 200
            assert "dialer_store_write_seconds_bucket" in metrics.text
            assert 'dialer_ami_up{server="default"} 1.0' in metrics.text
            assert http.get("/api/campaigns").json() == [{"campaign": "c", "purpose": "school"}]
        pid = service.process.pid if service.process else 0
        # contract 3: a second engine on the same store refuses, naming the holder
        second = ws.dialer("campaign", "run", "c")
        assert second.exit_code == 8, second.output
        assert f"pid {pid}" in second.output and "already running" in second.output
        assert service.stop() == 0
    # the lock died with the process: a foreground run works again
    assert ws.dialer("campaign", "run", "c", "--json").exit_code == 0
