"""The server pool against two real sandbox Asterisk servers (issue #9 item 5).

Instance 1 and instance 2 (``scripts/asterisk-sandbox --instance 2``) are two
real PBXs. The pool logs in to both, spreads channels by free capacity, takes
a server out of rotation the moment it stops (telling ``on_lost``), and lets it
rejoin once it is back, with its reconnection counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.sandbox import Sandbox, ensure_sandbox, stop_sandbox

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
