"""Several Asterisk servers: the pure choice of a server, and the pool's start rules.

``pick`` is tested exhaustively on small pools and by property. The pool's
start is tested against real TCP ports with nothing listening (what a server
that is down looks like); tests/integration/test_servers_live.py runs it
against two real sandbox Asterisk servers.
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.errors import AmiConnectError, AmiNotSentError
from dialer.service.supervisor import DrainSummary
from dialer.settings import AsteriskServer, Settings, load_settings, write_secret_file
from dialer.telephony.servers import ServerLink, ServerPool, pick


@dataclass
class Link:
    up: bool
    free: int


def test_pick_takes_the_most_free_channels_and_the_first_on_a_tie() -> None:
    assert pick([Link(True, 3), Link(True, 5), Link(True, 5)]) == 1
    assert pick([Link(True, 2), Link(True, 2)]) == 0
    assert pick([Link(False, 9), Link(True, 1)]) == 1  # a down server takes nothing
    assert pick([Link(True, 0), Link(False, 4)]) is None  # full or down: wait
    assert pick([]) is None


@pytest.mark.parametrize(
    "pool", list(itertools.product([(True, 0), (True, 1), (True, 2), (False, 2)], repeat=3))
)
def test_pick_exhaustively_on_three_servers(pool: tuple[tuple[bool, int], ...]) -> None:
    links = [Link(up, free) for up, free in pool]
    chosen = pick(links)
    candidates = [i for i, link in enumerate(links) if link.up and link.free > 0]
    if not candidates:
        assert chosen is None
    else:
        best = max(links[i].free for i in candidates)
        assert chosen == min(i for i in candidates if links[i].free == best)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=8))
def test_spreading_calls_one_by_one_fills_servers_evenly(pool: list[tuple[bool, int]]) -> None:
    """Placing calls one at a time never overfills a server and keeps free
    capacity balanced (it differs by at most one between up servers)."""
    links = [Link(up, free) for up, free in pool]
    while (index := pick(links)) is not None:
        links[index].free -= 1
    assert all(link.free == 0 for link in links if link.up)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(tmp_path: Path, ports: list[int]) -> Settings:
    write_secret_file(tmp_path / "ami.secret", "s3cret")
    servers = "".join(
        f'[[asterisk.servers]]\nname = "pbx{i}"\nami_port = {port}\nmax_channels = 4\n'
        for i, port in enumerate(ports, start=1)
    )
    config = tmp_path / "dialer.toml"
    config.write_text(
        f'[asterisk]\nami_secret_file = "ami.secret"\nconnect_timeout = 1.0\n{servers}'
    )
    return load_settings(config)


async def test_start_fails_naming_the_server_when_none_can_be_reached(tmp_path: Path) -> None:
    ports = [_closed_port(), _closed_port()]
    pool = ServerPool(_settings(tmp_path, ports))
    with pytest.raises(
        AmiConnectError, match=rf"Asterisk server 'pbx1': cannot reach .*:{ports[0]}"
    ):
        await pool.start()
    assert not pool.connected
    assert [s["ok"] for s in pool.states()] == [False, False]


async def test_one_server_keeps_todays_message(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "ami.secret", "s3cret")
    port = _closed_port()
    config = tmp_path / "dialer.toml"
    config.write_text(f'[asterisk]\nami_secret_file = "ami.secret"\nami_port = {port}\n')
    pool = ServerPool(load_settings(config))
    assert [link.name for link in pool.links] == ["default"]
    with pytest.raises(AmiConnectError, match=rf"^cannot reach Asterisk AMI at 127.0.0.1:{port}"):
        await pool.start()


async def test_claim_gives_up_at_once_when_no_server_is_connected(tmp_path: Path) -> None:
    """A call is recorded not-placed (and dialled once a server is back) rather than
    held, gate decision and all, while every server is down."""
    pool = ServerPool(_settings(tmp_path, [_closed_port(), _closed_port()]))
    assert await pool.claim() is None
    assert await pool.wait_connected(0.1) is False
    with pytest.raises(AmiNotSentError):  # recovery must not guess: it redials nothing
        await pool.hangup_call("abc")


def test_a_server_settling_after_its_return_takes_no_call() -> None:
    """Back from a loss, a server rejoins only after the calls given up on there
    were hung up (``on_back``): until then ``up`` is false."""

    class Ami:
        connected = True

    link = ServerLink(AsteriskServer(name="north", max_channels=2), Ami())  # type: ignore[arg-type]
    assert link.up and link.free == 2
    link.settling = True
    assert not link.up and link.free == 0 and pick([link]) is None


def test_drain_summary_says_what_the_shutdown_did() -> None:
    line = DrainSummary(in_progress=6, finished=4, hung_up=2, seconds=1.04).line()
    assert line.startswith("6 calls in progress: 4 finished in 1.0 s, 2 hung up as ")
    assert "interrupted-by-shutdown" in line
    assert DrainSummary(0, 0, 0, 0.0).line() == "no call was in progress"
