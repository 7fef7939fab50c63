"""``dialer serve`` through a stop, an Asterisk restart and a hung Asterisk (issue 9
items 3-4, issue 8 item 8), against the real sandbox Asterisk and SIPp phones.

* SIGTERM with calls mid-message: no new call, the calls in progress finish
  within ``engine.drain_seconds``; past it they are hung up as
  ``interrupted-by-shutdown`` and the next start dials each of them exactly once
  more (INVITEs counted at SIPp); a 9 pressed is never lost; exit 0 with one
  summary line.
* Asterisk stopped and started mid-campaign: dialling pauses, the calls it cut
  are ``interrupted-by-pbx``, the service reconnects (logged, ``/healthz`` 503
  meanwhile, the reconnect counted in ``/metrics``) and finishes the campaign.
* An Asterisk that hangs without closing the socket (SIGSTOP) while no campaign
  runs: the heartbeat notices, the service reconnects once it answers again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox, ensure_sandbox, stop_sandbox
from support.service import ServiceProcess
from support.workspace import Workspace, free_port, make_workspace

pytestmark = pytest.mark.integration


def _workspace(
    tmp_path: Path, sandbox: Sandbox, extra: str = "", **kw: Any
) -> tuple[Workspace, int]:
    port = free_port()
    ws = make_workspace(tmp_path, sandbox, extra=f"\n[http]\nport = {port}\n{extra}", **kw)
    return ws, port


def _wait(what: str, check: Callable[[], bool], timeout: float = 30) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def _db(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(ws.settings().store.path) as conn:
        return list(conn.execute(sql))


def _mid_message(ws: Workspace) -> int:
    """Calls answered whose outcome is not recorded yet (the message is playing)."""
    [(n,)] = _db(
        ws, "SELECT COUNT(*) FROM attempts WHERE answered_at IS NOT NULL AND outcome IS NULL"
    )
    return int(n)


def _outcomes(ws: Workspace) -> dict[str, int]:
    rows = _db(ws, "SELECT outcome, COUNT(*) FROM attempts WHERE allowed = 1 GROUP BY outcome")
    return {str(o): int(n) for o, n in rows}


def _placed(ws: Workspace) -> int:
    [(n,)] = _db(
        ws,
        "SELECT COUNT(*) FROM attempts WHERE allowed = 1 AND outcome IS NOT 'not-placed'",
    )
    return int(n)


def _report(ws: Workspace) -> dict[str, str]:
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    return {c["contact"]: c["outcome"] for c in report["per_contact"]}


def _state(http: httpx.Client) -> str:
    return str(http.get("/api/campaigns/c").json()["state"])


def _summary(service: ServiceProcess) -> dict[str, Any]:
    events = service.log_events()
    [line] = [e for e in events if str(e.get("event", "")).startswith("service stopped")]
    return line


@pytest.mark.slow
def test_sigterm_short_drain_hangs_up_and_the_next_start_redials_each_cut_call_once(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws, port = _workspace(tmp_path, sandbox, max_concurrent=8, calls_per_second=20)
    # engine.drain_seconds = 1: the 3.7 s message cannot finish in the drain
    text = ws.config.read_text().replace("[engine]\n", "[engine]\ndrain_seconds = 1\n", 1)
    ws.config.write_text(text)
    prefix = daytime_prefix()
    listeners = {f"l{i}": sample_number(prefix, i, 2) for i in range(6)}  # SIPp: answer, listen
    pressers = {f"p{i}": sample_number(prefix, i, 1) for i in range(2)}  # SIPp: 9 after 1.5 s
    ws.school_campaign({**listeners, **pressers})
    numbers = {**listeners, **pressers}
    before = {
        k: phones.invites("silent" if k[0] == "l" else "press9", n) for k, n in numbers.items()
    }

    def invites(key: str) -> int:
        return phones.invites("silent" if key[0] == "l" else "press9", numbers[key]) - before[key]

    viewer = ws.user("val", "viewer")
    with ServiceProcess(ws.config, port, tmp_path / "serve1.log") as service:
        service.start()
        ws.ok("campaign", "start", "c")
        _wait("calls mid-message", lambda: _mid_message(ws) >= 4, 30)
        time.sleep(0.5)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = service.process.wait(40)
        took = time.monotonic() - signalled
        assert code == 0, service.log()[-3000:]
        summary = _summary(service)
    print(f"short drain: exit after {took:.1f} s, summary: {summary['event']}")
    assert took < 1 + 15, took  # the drain, then the hung-up calls record at once
    assert summary["hung_up"] >= 1 and "interrupted-by-shutdown" in summary["event"]
    cut = _outcomes(ws).get("interrupted-by-shutdown", 0)
    assert cut >= 1, _outcomes(ws)
    assert _mid_message(ws) == 0  # nothing left in flight in the store

    # the next start continues the campaign (still "running"): the cut calls once more
    with ServiceProcess(ws.config, port, tmp_path / "serve2.log") as service:
        service.start()
        with service.client(viewer) as http:
            _wait("completion after restart", lambda: _state(http) == "completed", 60)
        assert service.stop() == 0
    time.sleep(1)  # SIPp writes its trace as messages arrive
    outcomes = _report(ws)
    assert {outcomes[k] for k in listeners} == {"completed"}, outcomes
    assert {outcomes[k] for k in pressers} == {"opted-out"}, outcomes  # no opt-out lost
    calls = {k: invites(k) for k in numbers}
    # every contact called, none more than twice, and exactly one extra call per cut call
    assert all(1 <= n <= 2 for n in calls.values()), calls
    assert sum(n - 1 for n in calls.values()) == cut, (calls, _outcomes(ws))
    assert sum(calls.values()) == _placed(ws)
    # a 9 committed before the stop is never dialled again
    for key in pressers:
        committed_first = calls[key] == 1
        assert committed_first or outcomes[key] == "opted-out"


def test_sigterm_lets_calls_in_progress_finish_within_the_drain(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    ws, port = _workspace(tmp_path, sandbox, max_concurrent=3, calls_per_second=20)
    prefix = daytime_prefix()
    listeners = {f"l{i}": sample_number(prefix, i, 2) for i in range(6)}
    ws.school_campaign(listeners)
    before = {k: phones.invites("silent", n) for k, n in listeners.items()}
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        ws.ok("campaign", "start", "c")
        _wait("calls mid-message", lambda: _mid_message(ws) >= 2, 30)
        placed_at_stop = _placed(ws)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = service.process.wait(60)
        took = time.monotonic() - signalled
        assert code == 0, service.log()[-3000:]
        summary = _summary(service)
    print(f"drain 60 s: exit after {took:.1f} s, summary: {summary['event']}")
    # a silent listener hears the whole message and the closing wait (about 25 s)
    assert took < 60
    assert summary["hung_up"] == 0 and summary["finished"] == summary["calls_in_progress"] >= 2
    outcomes = _outcomes(ws)
    assert "interrupted-by-shutdown" not in outcomes and outcomes.get("completed", 0) >= 2
    assert _placed(ws) == placed_at_stop  # no call placed after the signal
    time.sleep(1)
    dialled = sum(phones.invites("silent", n) - before[k] for k, n in listeners.items())
    assert dialled == placed_at_stop


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(f"{url}/healthz", timeout=3)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def _reconnects(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=3).text
    found = re.search(r'^dialer_ami_reconnects_total\{server="default"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else -1.0


@pytest.mark.slow
def test_asterisk_restart_mid_campaign_the_service_reconnects_and_finishes(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    # a silent listener's call lasts about 25 s (message and closing wait)
    ws, port = _workspace(tmp_path, sandbox, max_concurrent=3, calls_per_second=20)
    prefix = daytime_prefix()
    listeners = {f"l{i}": sample_number(prefix, i, 2) for i in range(5)}
    ws.school_campaign(listeners)
    before = {k: phones.invites("silent", n) for k, n in listeners.items()}
    viewer = ws.user("val", "viewer")
    try:
        with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
            service.start()
            ws.ok("campaign", "start", "c")
            _wait("a call mid-message", lambda: _mid_message(ws) >= 1, 30)
            time.sleep(0.5)
            stop_sandbox()
            stopped = time.monotonic()
            _wait("healthz to say Asterisk is down", lambda: _health(service.url)[0] == 503, 15)
            _code, body = _health(service.url)
            assert body["components"]["ami"][0]["ok"] is False
            placed_while_down = _placed(ws)
            time.sleep(2)
            assert _placed(ws) == placed_while_down  # nothing dialled while Asterisk is away
            ensure_sandbox()
            started = time.monotonic()
            back = _wait("the service to reconnect", lambda: _health(service.url)[0] == 200, 60)
            assert _reconnects(service.url) == 1.0
            with service.client(viewer) as http:
                _wait("completion", lambda: _state(http) == "completed", 150)
            assert service.stop() == 0
        print(
            f"Asterisk down {started - stopped:.1f} s; service back {back:.1f} s after "
            "Asterisk started"
        )
    finally:
        ensure_sandbox()
    events = [str(e.get("event")) for e in service.log_events()]
    assert "asterisk.server_lost" in events and "asterisk.server_back" in events
    assert any(e.startswith("no Asterisk server is connected") for e in events)
    time.sleep(1)
    outcomes = _report(ws)
    assert set(outcomes.values()) == {"completed"}, outcomes  # every contact accounted for
    calls = {k: phones.invites("silent", n) - before[k] for k, n in listeners.items()}
    cut = _outcomes(ws).get("interrupted-by-pbx", 0)
    assert cut >= 1, _outcomes(ws)
    assert all(1 <= n <= 2 for n in calls.values()), calls
    assert sum(n - 1 for n in calls.values()) == cut, calls


def test_a_hung_asterisk_is_noticed_while_idle_and_the_service_reconnects(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Issue 8 item 8: SIGSTOP keeps the socket open; only the heartbeat notices."""
    ws, port = _workspace(tmp_path, sandbox)
    quick = "heartbeat_seconds = 1\naction_timeout = 2\nconnect_timeout = 2\n"
    ws.config.write_text(ws.config.read_text().replace("[asterisk]\n", f"[asterisk]\n{quick}", 1))
    pid = sandbox.pid()
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        try:
            os.kill(pid, signal.SIGSTOP)
            stopped = time.monotonic()
            noticed = _wait("the heartbeat to notice", lambda: _health(service.url)[0] == 503, 15)
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        back = _wait("the reconnect", lambda: _health(service.url)[0] == 200, 40)
        assert _reconnects(service.url) == 1.0
        assert service.stop() == 0
    print(f"hung Asterisk noticed after {noticed:.1f} s; back {back:.1f} s after SIGCONT")
    assert resumed - stopped < 15
    events = [str(e.get("event")) for e in service.log_events()]
    assert "ami.heartbeat_failed" in events and "asterisk.server_lost" in events
    assert "asterisk.server_back" in events


@pytest.mark.slow
def test_a_foreground_run_waits_for_asterisk_to_come_back_and_finishes(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """``campaign run`` decides like the service: Asterisk gone mid-campaign, it
    waits (up to engine.pbx_wait_seconds, default 300 s) and carries on."""
    ws = make_workspace(tmp_path, sandbox, max_concurrent=1)
    numbers = [sample_number(daytime_prefix(), i, 6) for i in range(3)]  # dialplan: listen
    ws.school_campaign({f"n{i}": n for i, n in enumerate(numbers)})
    engine = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait("a call mid-message", lambda: _mid_message(ws) >= 1, 30)
        time.sleep(0.5)
        stop_sandbox()
        time.sleep(2)
        assert engine.poll() is None, "the run gave up instead of waiting"
        ensure_sandbox()
        _out, err = engine.communicate(timeout=90)
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)
            engine.wait()
        ensure_sandbox()
    assert engine.returncode == 0, err[-3000:]
    assert "dialling paused until one is back" in err and "dialling again" in err
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    assert {c["outcome"] for c in report["per_contact"]} == {"completed"}, report["per_contact"]
    cut = _outcomes(ws).get("interrupted-by-pbx", 0)
    assert cut >= 1 and report["calls_placed"] == 3 + cut
