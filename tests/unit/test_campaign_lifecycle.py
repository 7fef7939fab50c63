"""Contract 2: the campaign lifecycle table, its store transitions (audited, C19),
start-time parsing in the organisation's zone, and the scheduler's decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.store import CALLER_ID, T0, Clock, open_store
from support.store import campaign as make_campaign

from dialer.campaign import control
from dialer.campaign.approval import approve_campaign
from dialer.errors import ComplianceError, InputError, NotFoundError, StateError
from dialer.model.lifecycle import TRANSITIONS, CampaignState, Command, transition
from dialer.service.progress import CampaignProgress
from dialer.service.supervisor import decide
from dialer.settings import Settings
from dialer.store.lifecycle import LifecycleRow
from dialer.store.store import Store

S, C = CampaignState, Command


async def campaign(store: Store, name: str) -> None:
    """A school campaign whose caller ID is allowlisted (C14) and that a second
    operator approved (issue 14, the default campaigns.approval): it may start."""
    await make_campaign(store, name)
    await store.consent.add_caller_id(CALLER_ID, "office", "test")
    await approve_campaign(store, Settings(), name, "second operator")


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("command", list(C))
def test_every_state_and_command_is_allowed_by_the_table_or_refused_clearly(
    state: CampaignState, command: Command
) -> None:
    if (state, command) in TRANSITIONS:
        assert transition("x", state, command) is TRANSITIONS[(state, command)]
    else:
        with pytest.raises(StateError, match=rf"campaign 'x' is {state.value}: cannot"):
            transition("x", state, command)


def test_cancelled_is_final_and_pause_only_from_running() -> None:
    assert all(TRANSITIONS.get((S.CANCELLED, c)) is None for c in C)
    assert {s for (s, c) in TRANSITIONS if c is C.PAUSE} == {S.RUNNING}
    assert {s for (s, c) in TRANSITIONS if c is C.RESUME} == {S.PAUSED}
    assert TRANSITIONS[(S.COMPLETED, C.START)] is S.RUNNING


NY = "America/New_York"


def test_start_time_is_read_in_the_organisations_zone() -> None:
    at = control.parse_start_time("2026-12-03 07:00", NY, T0)
    assert at == dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    explicit = control.parse_start_time("2026-12-03T07:00:00+00:00", NY, T0)
    assert explicit == dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-01 07:00", "is in the past"),  # T0 is 2026-03-02
        ("tomorrow", "write the start time like"),
        ("2026-03-08 02:30", "daylight saving"),  # does not exist in New York
        ("2026-11-01 01:30", "daylight saving"),  # exists twice
    ],
)
def test_bad_start_times_are_refused_with_one_clear_message(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        control.parse_start_time(text, NY, T0)


async def test_c19_transitions_are_stored_with_who_and_why_and_audited(tmp_path: Path) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    try:
        await campaign(store, "snow-day")
        cfg = Settings()
        row = await control.start_campaign(store, cfg, "snow-day", by="ruiz", at="2026-03-03 07:00")
        assert row.state is S.SCHEDULED and row.start_at == dt.datetime(
            2026, 3, 3, 12, tzinfo=dt.UTC
        )
        with pytest.raises(StateError, match="is scheduled: cannot pause"):
            await control.pause_campaign(store, "snow-day", by="ruiz")
        await store.lifecycle.apply("snow-day", C.BEGIN, by="scheduler")
        await control.pause_campaign(store, "snow-day", by="ruiz", reason="storm eased")
        await control.resume_campaign(store, "snow-day", by="ruiz")
        with pytest.raises(InputError, match="why"):
            await control.cancel_campaign(store, "snow-day", by="ruiz", reason=" ")
        await control.cancel_campaign(store, "snow-day", by="Supt. Ruiz", reason="reopened")
        history = await store.lifecycle.history("snow-day")
        assert [(t.command.value, t.to_state.value, t.by) for t in history] == [
            ("schedule", "scheduled", "ruiz"),
            ("begin", "running", "scheduler"),
            ("pause", "paused", "ruiz"),
            ("resume", "running", "ruiz"),
            ("cancel", "cancelled", "Supt. Ruiz"),
        ]
        assert history[2].reason == "storm eased"
        with pytest.raises(StateError, match="stays cancelled"):
            await control.start_campaign(store, cfg, "snow-day", by="ruiz")
        rows = await store.db.fetchall(
            "SELECT payload FROM audit WHERE kind = 'campaign-state' ORDER BY seq"
        )
        assert len(rows) == 5 and '"reason":"reopened"' in rows[-1][0]
        assert (await store.verify_audit()).entries >= 6
        with pytest.raises(NotFoundError, match="no campaign named 'nope'"):
            await control.pause_campaign(store, "nope", by="ruiz")
    finally:
        await store.close()


async def test_c14_a_start_the_rules_refuse_is_refused_at_once(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await campaign(store, "c")
        await store.consent.remove_caller_id(CALLER_ID, "test")  # the caller ID is withdrawn
        with pytest.raises(ComplianceError, match="C14"):
            await control.start_campaign(store, Settings(), "c", by="ruiz")
        assert (await store.lifecycle.get("c")).state is S.DRAFT
    finally:
        await store.close()


def _row(name: str, state: CampaignState, start_at: dt.datetime | None = None) -> LifecycleRow:
    return LifecycleRow(1, name, state, start_at, None, None, "")


def test_scheduler_decisions() -> None:
    now = T0
    rows = [
        _row("due", S.SCHEDULED, now - dt.timedelta(seconds=1)),
        _row("later", S.SCHEDULED, now + dt.timedelta(hours=1)),
        _row("resumed", S.RUNNING),
        _row("already", S.RUNNING),
        _row("paused", S.PAUSED),
        _row("failing", S.RUNNING),
    ]
    actions = decide(rows, {"already", "paused", "gone"}, now, backing_off={"failing"})
    assert actions == [
        ("begin", "due"),
        ("launch", "resumed"),
        ("halt", "gone"),  # cancelled or completed: no longer among the live rows
        ("halt", "paused"),
    ]
    assert decide([], set(), now) == []


def test_progress_counts_rate_and_eta() -> None:
    now = [100.0]
    progress = CampaignProgress("c", clock=lambda: now[0])
    progress({"event": "start", "pending": 10})
    for i in range(4):
        now[0] += 1
        progress({"event": "dialing"})
        progress({"event": "outcome", "outcome": "completed" if i else "busy"})
    progress({"event": "blocked", "reason": "no-consent"})
    progress({"event": "outcome", "outcome": "blocked"})
    snap = progress.snapshot()
    assert snap["done"] == 5 and snap["total"] == 10 and snap["in_progress"] == 0
    assert snap["outcomes"] == {"blocked": 1, "busy": 1, "completed": 3}
    assert snap["calls_per_second"] == pytest.approx(5 / 4)
    assert snap["eta_seconds"] == pytest.approx(5 / (5 / 4))
