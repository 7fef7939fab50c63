"""``dialer serve`` as systemd runs it: a subprocess without a TTY, real HTTP.

The engine lock (one engine per store): a second ``serve`` and a foreground
``campaign run`` refuse while the service runs, naming its pid. SIGTERM stops
the service with exit 0.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from support.sample import daytime_prefix, sample_number
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
    viewer = ws.user("val", "viewer")
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        with service.client(viewer) as http:
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
            [listed] = http.get("/api/campaigns").json()
            assert (listed["campaign"], listed["purpose"], listed["state"]) == (
                "c",
                "school",
                "draft",
            )
        pid = service.process.pid if service.process else 0
        # contract 3: a second engine on the same store refuses, naming the holder
        second = ws.dialer("campaign", "run", "c")
        assert second.exit_code == 8, second.output
        assert f"pid {pid}" in second.output and "already running" in second.output
        assert service.stop() == 0
    # the lock died with the process: a foreground run works again
    assert ws.dialer("campaign", "run", "c", "--json").exit_code == 0


def _status(http: httpx.Client, name: str = "c") -> dict[str, Any]:
    response = http.get(f"/api/campaigns/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait(what: str, check: Callable[[], bool], timeout: float = 30) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def test_c19_pause_stops_new_calls_at_once_and_resume_finishes_the_campaign(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Controlled from the CLI while the real service runs (no TTY, JSON logs)."""
    ws, port = service_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    long_call = sample_number(prefix, 1, 6)  # answers and listens to the whole message
    busy = [sample_number(prefix, i, 9) for i in range(2, 6)]  # busy at once
    ws.school_campaign({"long": long_call, **{f"b{i}": n for i, n in enumerate(busy)}})
    viewer = ws.user("val", "viewer")
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        with service.client(viewer) as http:
            assert _status(http)["state"] == "draft"
            ws.ok("campaign", "start", "c")
            # the service acts within a second: the first (long) call is up
            took = _wait(
                "the first call",
                lambda: (_status(http).get("live") or {}).get("in_progress", 0) >= 1,
            )
            assert took < 5
            ws.ok("campaign", "pause", "c", "--reason", "checking the message")
            paused_at = time.monotonic()
            assert _status(http)["state"] == "paused"
            # the call in progress finishes; nothing new is dialled while paused
            _wait("the call in progress to end", lambda: _status(http)["done"] == 1, 45)
            time.sleep(1.5)
            status = _status(http)
            assert status["done"] == 1 and status["outcomes"] == {"completed": 1}
            assert status["calls_placed"] == 1, "a call was placed after the pause"
            assert status["changed_by"] and status["reason"] == "checking the message"
            assert time.monotonic() - paused_at < 50
            ws.ok("campaign", "resume", "c")
            _wait("completion", lambda: _status(http)["state"] == "completed", 20)
            final = _status(http)
            assert final["done"] == 5 and final["outcomes"] == {"completed": 1, "busy": 4}
            cli = json.loads(ws.ok("campaign", "status", "c", "--json"))
            assert cli["state"] == "completed" and cli["engine"]["running"] is True
        assert service.stop() == 0
    events = service.log_events()
    # off a terminal: JSON progress lines with the live view's figures
    progress = [e for e in events if e.get("event") == "campaign progress"]
    assert progress and all(e["campaign"] == "c" for e in progress)
    assert {"done", "total", "outcomes", "calls_per_second", "eta_seconds"} <= set(progress[-1])
    # the resumed run's own figures: the 4 contacts left after the pause, all done
    assert progress[-1]["done"] == progress[-1]["total"] == 4
    assert any(e.get("event") == "campaign completed" for e in events)
    # C18: no plaintext number in the service's log
    assert long_call not in service.log() and busy[0] not in service.log()
    history = [
        (t["by"], t["to"])
        for t in (
            json.loads(p)
            for (p,) in sqlite3.connect(ws.settings().store.path).execute(
                "SELECT payload FROM audit WHERE kind = 'campaign-state' ORDER BY seq"
            )
        )
    ]
    assert [to for _by, to in history] == ["running", "paused", "running", "completed"]
    assert history[-1][0] == "engine"


def test_scheduled_start_and_a_restart_resumes_the_running_campaign(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws, port = service_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    long_call = sample_number(prefix, 1, 6)
    busy = [sample_number(prefix, i, 9) for i in range(2, 5)]
    ws.school_campaign({"long": long_call, **{f"b{i}": n for i, n in enumerate(busy)}})
    zone = ZoneInfo(ws.settings().organisation.timezone)
    at = (dt.datetime.now(zone) + dt.timedelta(seconds=4)).strftime("%Y-%m-%d %H:%M:%S")
    out = ws.ok("campaign", "start", "c", "--at", at)
    assert "scheduled for" in out and "no 'dialer serve' is running" in out
    log1 = tmp_path / "serve1.log"
    viewer = ws.user("val", "viewer")
    with ServiceProcess(ws.config, port, log1) as service:
        service.start()
        with service.client(viewer) as http:
            assert _status(http)["state"] == "scheduled"
            _wait("the scheduled start", lambda: _status(http)["state"] == "running", 15)
            _wait(
                "the first call",
                lambda: (_status(http).get("live") or {}).get("in_progress", 0) >= 1,
            )
        # SIGTERM mid-call: no new calls, the call in progress finishes, exit 0
        assert service.stop() == 0
    with ServiceProcess(ws.config, port, tmp_path / "serve2.log") as service:
        service.start()
        with service.client(viewer) as http:
            # still "running" in the store: the new service continues it
            _wait("completion after restart", lambda: _status(http)["state"] == "completed", 30)
            final = _status(http)
        assert service.stop() == 0
    assert final["outcomes"] == {"completed": 1, "busy": 3}
    assert final["calls_placed"] == 4  # nobody called twice


def test_bad_input_gets_one_clear_message(tmp_path: Path, sandbox: Sandbox) -> None:
    ws, port = service_workspace(tmp_path, sandbox)
    ws.school_campaign({"a": sample_number(daytime_prefix(), 1, 9)})
    unknown = ws.dialer("campaign", "start", "nope")
    assert unknown.exit_code == 4 and "no campaign named 'nope'" in unknown.output
    past = ws.dialer("campaign", "start", "c", "--at", "2020-01-01 07:00")
    assert past.exit_code == 2 and "is in the past" in past.output
    wrong_state = ws.dialer("campaign", "resume", "c")
    assert wrong_state.exit_code == 9 and "is draft: cannot resume" in wrong_state.output
    assert json.loads(ws.ok("campaign", "status", "c", "--json"))["state"] == "draft"
    # AMI unreachable at start: one clear message, exit 7, nothing left listening
    dead = free_port()
    text = re.sub(r"(?m)^ami_port = \d+$", f"ami_port = {dead}", ws.config.read_text(), count=1)
    ws.config.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 7, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"127.0.0.1:{dead}" in last
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


class PtyService:
    """``dialer serve`` on a pseudo-terminal (as staff run it by hand): all its
    output, the live view included, read from the pty's master side."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.output = bytearray()
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        master, slave = pty.openpty()
        # a 120x40 terminal: the view's blocks fit
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dialer", "--config", str(self.config), "serve"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self._master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the process closed its side
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def text(self) -> str:
        """What the terminal received, without colour and cursor escape sequences."""
        raw = self.output.decode("utf-8", errors="replace")
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r", "", raw)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        if self._reader is not None:
            self._reader.join(5)
        os.close(self._master)
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def test_serve_on_a_terminal_shows_the_live_view_instead_of_json_lines(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    ws, port = service_workspace(tmp_path, sandbox, max_concurrent=1)
    prefix = daytime_prefix()
    busy = [sample_number(prefix, i, 9) for i in range(2, 5)]
    long_call = sample_number(prefix, 1, 6)
    # dialled in list order: three busy at once, then one that listens to the message
    ws.school_campaign({**{f"b{i}": n for i, n in enumerate(busy)}, "long": long_call})
    viewer = ws.user("val", "viewer")
    service = PtyService(ws.config)
    try:
        service.start()
        _wait("the service on the terminal", lambda: f"HTTP 127.0.0.1:{port}" in service.text())
        assert "no campaign running" in service.text()
        ws.ok("campaign", "start", "c")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            http.headers["Authorization"] = f"Bearer {viewer}"
            # the block while the long call is up: 3 of 4 done, all busy, 1 in progress
            _wait("the view mid-campaign", lambda: "3 / 4" in service.text(), 30)
            _wait("completion", lambda: _status(http)["state"] == "completed", 45)
        assert service.stop() == 0
    finally:
        service.kill()
    text = service.text()
    mid = text[text.index("3 / 4") - 400 :]
    mid = mid[: mid.index("└")]
    assert "campaign c" in mid and "calls/s" in mid and "ETA" in mid
    assert re.search(r"in progress\s*│\s*1\s*│", mid), mid
    assert re.search(r"busy\s*│\s*3\s*│", mid), mid
    assert "1 campaign running" in text and "Asterisk up" in text
    # on a terminal: human log lines, no JSON, no periodic progress log lines (the
    # one progress line is the finished run's summary)
    assert '{"' not in text and text.count("campaign progress") == 1
    assert "service stopped" in text
    assert long_call not in text and busy[0] not in text  # C18 on the terminal too
