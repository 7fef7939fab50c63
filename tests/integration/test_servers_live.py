"""The server pool against two real sandbox Asterisk servers (issue #9 item 5),
alone and under ``dialer serve`` running a campaign.

Instance 1 and instance 2 (``scripts/asterisk-sandbox --instance 2``) are two
real PBXs. The pool logs in to both, spreads channels by free capacity, takes
a server out of rotation the moment it stops (telling ``on_lost``), and lets it
rejoin once it is back, with its reconnection counted.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.phones import SEPARATOR, Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox, ensure_sandbox, stop_sandbox
from support.service import ServiceProcess
from support.workspace import free_port, make_workspace

from dialer.settings import Settings, load_settings
from dialer.telephony.servers import ServerLink, ServerPool

pytestmark = pytest.mark.integration


def two_servers(tmp_path: Path, one: Sandbox, two: Sandbox, channels: int = 2) -> Settings:
    config = tmp_path / "dialer.toml"
    config.write_text(
        f"""
[asterisk]
ami_user = "{one.ami_user}"

[[asterisk.servers]]
name = "north"
ami_port = {one.ami_port}
ami_secret_file = "{one.ami_secret_file}"
max_channels = {channels}

[[asterisk.servers]]
name = "south"
ami_port = {two.ami_port}
ami_secret_file = "{two.ami_secret_file}"
max_channels = {channels}
"""
    )
    return load_settings(config)


async def wait_until(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return bool(condition())


async def test_a_stopped_server_leaves_the_rotation_and_rejoins_when_back(
    tmp_path: Path, sandbox: Sandbox, sandbox2: Sandbox
) -> None:
    lost: list[tuple[str, str]] = []

    def on_lost(link: ServerLink, reason: str) -> None:
        lost.append((link.name, reason))

    pool = ServerPool(two_servers(tmp_path, sandbox, sandbox2), on_lost=on_lost, pauses=[0.5])
    await pool.start()
    try:
        north, south = pool.links
        assert north.up and south.up
        # spread by free capacity: north, south, north, south
        taken = [await pool.acquire() for _ in range(4)]
        assert [link.name for link in taken] == ["north", "south", "north", "south"]
        waiting = asyncio.create_task(pool.acquire())  # both full: waits
        await asyncio.sleep(0.2)
        assert not waiting.done()
        pool.release(taken[1])  # a channel on south frees up
        assert (await asyncio.wait_for(waiting, 2)) is south
        for link in [*taken[:1], *taken[2:], south]:
            pool.release(link)

        stop_sandbox(2)
        assert await wait_until(lambda: not south.up, 10)
        assert [name for name, _ in lost] == ["south"]  # told once, only about south
        assert south.state()["ok"] is False and "error" in south.state()
        # every call now goes to north, however free south was
        assert (await asyncio.wait_for(pool.acquire(), 2)) is north
        assert (await asyncio.wait_for(pool.acquire(), 2)) is north
        third = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.5)
        assert not third.done()  # north is full, south is out of the rotation

        ensure_sandbox(2)
        # south rejoins: the waiting call gets it
        assert (await asyncio.wait_for(third, 20)) is south
        assert await wait_until(lambda: south.reconnects >= 1, 5)  # counted as connect() returns
        assert south.reconnects == 1 and south.state()["ok"] is True
        assert north.reconnects == 0
    finally:
        ensure_sandbox(2)
        await pool.close()


async def test_start_with_one_server_down_carries_on_with_the_other(
    tmp_path: Path, sandbox: Sandbox, sandbox2: Sandbox
) -> None:
    stop_sandbox(2)
    try:
        pool = ServerPool(two_servers(tmp_path, sandbox, sandbox2), pauses=[0.5])
        await pool.start()  # south unreachable: logged, retried, not fatal
        try:
            north, south = pool.links
            assert north.up and not south.up
            assert "cannot reach Asterisk AMI" in str(south.state()["error"])
            assert (await pool.acquire()) is north
            ensure_sandbox(2)
            # up turns true inside connect(); the pool counts the reconnect when it returns
            assert await wait_until(lambda: south.reconnects >= 1, 20)
            assert south.up and south.reconnects == 1 and south.state().get("error") is None
        finally:
            await pool.close()
    finally:
        ensure_sandbox(2)


def _invites_from(phones: Phones, which: str, sip_port: int) -> int:
    """INVITE dialogs phone ``which`` received from the Asterisk on ``sip_port``
    (its Via header names the sending PBX)."""
    text = phones.phone(which).trace.read_text(errors="replace")
    call_ids = set()
    for block in text.split(SEPARATOR):
        lines = block.strip().splitlines()
        start = next((ln for ln in lines[2:] if ln.strip()), "") if len(lines) > 3 else ""
        if not start.startswith("INVITE "):
            continue
        vias = [ln for ln in lines if ln.lower().startswith("via:")]
        if any(f":{sip_port}" in via for via in vias):
            call_ids.add(next((ln for ln in lines if ln.lower().startswith("call-id:")), ""))
    return len(call_ids)


@pytest.mark.slow
def test_a_campaign_across_two_servers_survives_one_stopping(
    tmp_path: Path, sandbox: Sandbox, sandbox2: Sandbox, phones: Phones
) -> None:
    """Issue 9 item 5 under ``dialer serve``: calls spread over both PBXs; instance 2
    stops mid-campaign; instance 1 finishes the list. A contact is called again only
    when its call was cut by the stop (``interrupted-by-pbx``, redialled once)."""
    port = free_port()
    servers = f"""
[http]
port = {port}

[[asterisk.servers]]
name = "north"
ami_port = {sandbox.ami_port}
ami_secret_file = "{sandbox.ami_secret_file}"
max_channels = 2

[[asterisk.servers]]
name = "south"
ami_port = {sandbox2.ami_port}
ami_secret_file = "{sandbox2.ami_secret_file}"
max_channels = 2
"""
    ws = make_workspace(tmp_path, sandbox, max_concurrent=4, calls_per_second=20, extra=servers)
    prefix = daytime_prefix()
    # a listener's call lasts about 25 s (message and closing wait); busy ones end at once
    listeners = {f"l{i}": sample_number(prefix, i, 2) for i in range(5)}  # SIPp: answer, listen
    busy = {f"b{i}": sample_number(prefix, i, 3) for i in range(5)}  # SIPp: 486 Busy Here
    ws.school_campaign({**listeners, **busy})
    kind = {**dict.fromkeys(listeners, "silent"), **dict.fromkeys(busy, "busy")}
    numbers = {**listeners, **busy}
    before = {k: phones.invites(kind[k], n) for k, n in numbers.items()}
    from_south = {w: _invites_from(phones, w, sandbox2.sip_port) for w in ("silent", "busy")}
    viewer = ws.user("val", "viewer")
    try:
        with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
            service.start()
            with service.client(viewer) as http:
                health = http.get("/healthz").json()["components"]["ami"]
                assert [(s["server"], s["ok"]) for s in health] == [
                    ("north", True),
                    ("south", True),
                ]
                ws.ok("campaign", "start", "c")
                south_calls = lambda: sum(  # noqa: E731
                    _invites_from(phones, w, sandbox2.sip_port) - from_south[w]
                    for w in ("silent", "busy")
                )
                deadline = time.monotonic() + 30
                while south_calls() < 2:
                    assert time.monotonic() < deadline, "the south server took no call"
                    time.sleep(0.1)
                stop_sandbox(2)
                south_at_stop = south_calls()
                deadline = time.monotonic() + 150
                while http.get("/api/campaigns/c").json()["state"] != "completed":
                    assert time.monotonic() < deadline, "the campaign did not finish"
                    time.sleep(0.2)
                [_north, south] = http.get("/healthz").json()["components"]["ami"]
                assert south["ok"] is False
            assert service.stop() == 0
    finally:
        ensure_sandbox(2)
    time.sleep(1)
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    outcomes = {c["contact"]: c["outcome"] for c in report["per_contact"]}
    assert {outcomes[k] for k in listeners} == {"completed"}, outcomes
    assert {outcomes[k] for k in busy} == {"busy"}, outcomes
    calls = {k: phones.invites(kind[k], n) - before[k] for k, n in numbers.items()}
    with sqlite3.connect(ws.settings().store.path) as conn:
        [(cut,)] = conn.execute(
            "SELECT COUNT(*) FROM attempts WHERE outcome = 'interrupted-by-pbx'"
        )
    assert all(1 <= n <= 2 for n in calls.values()), calls
    assert sum(n - 1 for n in calls.values()) == cut, (calls, cut)
    assert south_calls() == south_at_stop  # nothing more went to the stopped server
    events = [str(e.get("event")) for e in service.log_events()]
    assert "asterisk.server_lost" in events
