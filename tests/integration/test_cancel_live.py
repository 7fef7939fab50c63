"""Issue 14 item 4: ``campaign cancel`` works at any moment, including mid-flight, and
stops new calls within one second (the real ``dialer serve``, the sandbox Asterisk).

The campaign dials a long list at a steady 4 calls a second (dialplan phone 9:
busy at once), so a new call would follow the cancel within 0.25 s if nothing
stopped it. The store's own timestamps are compared: no attempt is decided
more than one second after the cancel transition, and the contacts left are
never dialled.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from support.sample import daytime_prefix
from support.sandbox import Sandbox
from support.service import ServiceProcess
from support.workspace import free_port, make_workspace

pytestmark = pytest.mark.integration

CONTACTS = 80


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=dt.UTC)


def test_cancel_mid_flight_stops_new_calls_within_one_second(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    port = free_port()
    ws = make_workspace(
        tmp_path,
        sandbox,
        calls_per_second=4,
        max_concurrent=4,
        extra=f"\n[http]\nport = {port}\n",
        approval="non-emergency",
    )
    prefix = daytime_prefix()
    # 80 distinct numbers (a number is called once per campaign, issue 12), each
    # ending in 9: the dialplan's busy phone; the prefix's last digit becomes free
    numbers = {f"s-{i}": f"{prefix[:-1]}{i:02d}9" for i in range(CONTACTS)}
    ws.school_campaign(numbers, create=("--operator", "Ms. Diaz"))
    ws.ok("campaign", "approve", "c", "--operator", "Principal Lee")
    db = ws.settings().store.path
    with ServiceProcess(ws.config, port, tmp_path / "serve.log") as service:
        service.start()
        ws.ok("campaign", "start", "c", "--yes")
        deadline = time.monotonic() + 30
        while True:  # mid-flight: some calls placed, most still to come
            with closing(sqlite3.connect(db)) as conn:
                placed = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
            if placed >= 8:
                break
            assert time.monotonic() < deadline, "the campaign did not start dialling"
            time.sleep(0.1)
        ws.ok("campaign", "cancel", "c", "--reason", "wrong list")
        time.sleep(3)  # long enough for 12 more calls at this pace
        assert service.stop() == 0
    with closing(sqlite3.connect(db)) as conn:
        [(cancelled_at,)] = conn.execute(
            "SELECT at FROM campaign_transitions WHERE to_state = 'cancelled'"
        ).fetchall()
        decided = [_ts(r[0]) for r in conn.execute("SELECT decided_at FROM attempts")]
    cancel = _ts(cancelled_at)
    late = [d for d in decided if d > cancel + dt.timedelta(seconds=1)]
    assert late == [], f"{len(late)} call(s) decided more than 1 s after the cancel"
    assert len(decided) < CONTACTS / 2, "the cancel did not stop the campaign"
    last = max(decided)
    print(f"cancel -> last new call decided: {(last - cancel).total_seconds():+.3f} s")
