"""A foreground ``campaign run`` through SIGTERM and an Asterisk restart, against the
fake Asterisk (tests/support/fake_asterisk.py: real AMI and FastAGI sockets, a
scripted PBX), so that these paths are checked in seconds on every run. The
same paths against the real sandbox Asterisk and SIPp phones:
tests/integration/test_service_resilience.py.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_asterisk import FakeAsterisk, Phone
from support.sample import daytime_prefix, sample_number
from support.workspace import Workspace, make_workspace


@pytest.fixture
def phones() -> dict[str, Phone]:
    return {}


@pytest.fixture
def fake(tmp_path: Path, phones: dict[str, Phone]) -> Iterator[FakeAsterisk]:
    with FakeAsterisk(tmp_path, lambda number: phones.get(number, Phone()), 0.05) as peer:
        yield peer


def _workspace(tmp_path: Path, fake: FakeAsterisk, engine: str, **kw: object) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    ws = make_workspace(root, fake, ring_timeout=5, **kw)  # type: ignore[arg-type]
    ws.config.write_text(ws.config.read_text().replace("[engine]\n", f"[engine]\n{engine}", 1))
    return ws


def _long_calls(phones: dict[str, Phone], count: int, seconds: float) -> dict[str, str]:
    numbers = {f"n{i}": sample_number(daytime_prefix(), i, 2) for i in range(count)}
    for number in numbers.values():
        phones[number.lstrip("+")] = Phone(play_seconds=seconds)
    return numbers


def _start(ws: Workspace) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(ws.config), "campaign", "run", "c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_answered(fake: FakeAsterisk, engine: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(1 for c in fake.calls if c.answered) < count:
        assert time.monotonic() < deadline and engine.poll() is None, "not answered"
        time.sleep(0.02)


def _outcomes(ws: Workspace) -> dict[str, int]:
    with sqlite3.connect(ws.settings().store.path) as db:
        rows = db.execute(
            "SELECT outcome, COUNT(*) FROM attempts WHERE allowed = 1 GROUP BY outcome"
        ).fetchall()
    return {str(o): int(n) for o, n in rows}


def _report(ws: Workspace) -> dict[str, str]:
    report = json.loads(ws.ok("campaign", "report", "c", "--json"))
    return {c["contact"]: c["outcome"] for c in report["per_contact"]}


def test_sigterm_after_the_drain_hangs_up_and_the_next_run_redials_once(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    numbers = _long_calls(phones, 4, seconds=8.0)
    ws = _workspace(tmp_path, fake, "drain_seconds = 0.5\n", max_concurrent=2)
    ws.school_campaign(numbers)
    engine = _start(ws)
    try:
        _wait_answered(fake, engine, 2)
        time.sleep(0.3)
        engine.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _out, err = engine.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, err
    assert took < 8  # well before the 8 s message would have ended
    assert "stopped by SIGTERM: 2 calls in progress: 0 finished" in err, err
    assert "2 hung up as interrupted-by-shutdown" in err
    assert _outcomes(ws) == {"interrupted-by-shutdown": 2}
    assert len(fake.calls) == 2  # nothing placed after the signal
    for number in numbers.values():
        phones[number.lstrip("+")] = Phone(play_seconds=0.5)
    final = json.loads(ws.ok("campaign", "run", "c", "--json"))
    assert {c["outcome"] for c in final["per_contact"]} == {"completed"}
    counts = fake.by_number()
    # the two cut calls once more, the two others once
    assert sorted(counts[n.lstrip("+")] for n in numbers.values()) == [1, 1, 2, 2]
    again = json.loads(ws.ok("campaign", "run", "c", "--json"))
    assert again["calls_placed"] == final["calls_placed"] == 6


def test_sigterm_lets_calls_in_progress_finish_and_places_no_new_call(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    numbers = _long_calls(phones, 4, seconds=0.3)  # each sound file: about 3 s in all
    ws = _workspace(tmp_path, fake, "", max_concurrent=2)  # drain_seconds: 60
    ws.school_campaign(numbers)
    engine = _start(ws)
    try:
        _wait_answered(fake, engine, 2)
        engine.send_signal(signal.SIGTERM)
        _out, err = engine.communicate(timeout=40)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, err
    assert "2 calls in progress: 2 finished" in err and "0 hung up" in err, err
    assert _outcomes(ws) == {"completed": 2}
    assert len(fake.calls) == 2
    outcomes = _report(ws)
    assert sorted(outcomes.values()) == ["completed", "completed", "pending", "pending"]


def test_a_foreground_run_waits_for_the_pbx_and_finishes_the_list(
    tmp_path: Path, fake: FakeAsterisk, phones: dict[str, Phone]
) -> None:
    numbers = _long_calls(phones, 3, seconds=5.0)
    ws = _workspace(tmp_path, fake, "", max_concurrent=1)
    ws.school_campaign(numbers)
    engine = _start(ws)
    try:
        _wait_answered(fake, engine, 1)
        time.sleep(0.3)
        fake.stop_pbx()
        time.sleep(1.5)
        assert engine.poll() is None, "the run gave up instead of waiting"
        for number in numbers.values():
            phones[number.lstrip("+")] = Phone(play_seconds=0.3)
        fake.start_pbx()
        _out, err = engine.communicate(timeout=60)
    finally:
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, err
    assert "dialling paused until one is back" in err and "dialling again" in err
    assert set(_report(ws).values()) == {"completed"}
    assert _outcomes(ws) == {"completed": 3, "interrupted-by-pbx": 1}
    assert sorted(fake.by_number().values()) == [1, 1, 2]  # the cut call once more
