"""Start-up recovery (issue 13 item 2): calls a dead engine left in flight are closed
by what the callee experienced, on a real SQLite store.

``classify`` is pure and tested over every combination of what the store can
show. ``recover`` runs on a real store; the only stand-in is ``hang_up`` (the
AMI Hangup by channel id), a recording function here because no Asterisk runs
in unit tests: tests/integration/test_crash_recovery.py does it for real.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from support.store import CALLER_ID, Clock, consent, key_file

from dialer.campaign.callevents import Mark
from dialer.campaign.progress import ProgressWriter
from dialer.campaign.recovery import classify, recover
from dialer.campaign.scheduler import plan
from dialer.consent.model import Decision, Purpose, Reason, RevocationChannel
from dialer.errors import TelephonyError
from dialer.model.campaign import Campaign, InFlight, MessageSpec, NewCampaign
from dialer.model.contact import Contact, NewContact
from dialer.model.lifecycle import Command
from dialer.model.outcome import Outcome
from dialer.store.store import Store

NUMBERS = [f"+1212555{n:04d}" for n in range(110, 118)]


def in_flight(**kw: object) -> InFlight:
    base: dict[str, object] = {
        "call_id": "c1",
        "campaign_id": 1,
        "campaign": "c",
        "campaign_state": "running",
        "contact_id": 1,
        "answered": False,
        "segment_reached": None,
        "completed": False,
        "digits": "",
        "revoked": False,
    }
    base.update(kw)
    return InFlight(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answered", "segment", "completed", "digits", "revoked"),
    list(
        itertools.product(
            [False, True], [None, 0, 2], [False, True], ["", "9", "8", "98", "*"], [False, True]
        )
    ),
)
def test_classify_every_combination(
    answered: bool, segment: int | None, completed: bool, digits: str, revoked: bool
) -> None:
    closure = classify(
        in_flight(
            answered=answered,
            segment_reached=segment,
            completed=completed,
            digits=digits,
            revoked=revoked,
        )
    )
    if revoked or "9" in digits:
        # C10: a 9 beats everything, and one not yet committed is committed now
        assert closure.outcome is Outcome.OPTED_OUT
        assert closure.commit == ("" if revoked else "9")
    elif "8" in digits:
        assert (closure.outcome, closure.commit) == (Outcome.WRONG_NUMBER, "8")
    elif completed:
        assert (closure.outcome, closure.commit) == (Outcome.COMPLETED, "")
    elif answered:
        assert (closure.outcome, closure.commit) == (Outcome.INTERRUPTED, "")
        if segment is not None:
            assert f"segment {segment + 1}" in closure.note
    else:
        assert (closure.outcome, closure.commit) == (Outcome.NO_ANSWER, "")
    assert closure.note


class Hangups:
    """Stands in for AMI Hangup by channel id; ``live``: channel ids Asterisk still has."""

    def __init__(self, live: set[str] | None = None, linger: int = 0) -> None:
        self.live = set(live or ())
        self.asked: list[str] = []
        self.linger = linger  # answers "still there" this many more times

    async def __call__(self, channel_id: str) -> bool:
        self.asked.append(channel_id)
        if channel_id not in self.live:
            return False
        if self.linger:
            self.linger -= 1
        else:
            self.live.discard(channel_id)
        return True


async def _world(tmp_path: Path) -> tuple[Store, Campaign, list[Contact]]:
    store = await Store.open(tmp_path / "dialer.db", key_file(tmp_path), clock=Clock())
    people = [NewContact(f"s{i}", n, "en", {}) for i, n in enumerate(NUMBERS)]
    list_id = await store.contacts.import_list("families", people, replace=False, operator="t")
    for n in NUMBERS:
        await store.consent.add_consent(consent(n), recorded_by="t")
    await store.campaigns.create(
        NewCampaign(
            name="c",
            purpose=Purpose.SCHOOL,
            list_id=list_id,
            message=MessageSpec("body"),
            caller_id=CALLER_ID,
            window_start=dt.time(8),
            window_end=dt.time(20),
            max_attempts=2,
            retry_delay=300,
            category=None,
            authorized_by=None,
        ),
        "t",
    )
    camp = await store.campaigns.get("c")
    return store, camp, await store.contacts.version_contacts(camp.version_id)


async def _dialing(store: Store, camp: Campaign, contact: Contact) -> str:
    call_id = uuid.uuid4().hex
    await store.campaigns.record_decision(
        call_id=call_id,
        campaign=camp,
        contact_id=contact.id,
        number=contact.number,
        attempt_no=1,
        decision=Decision(True, Reason.ALLOWED, "", True),
        with_consent=True,
        language="en",
    )
    return call_id


async def test_recover_closes_each_call_by_how_far_it_got(tmp_path: Path) -> None:
    store, camp, people = await _world(tmp_path)
    try:
        writer = ProgressWriter(store)
        ids = [await _dialing(store, camp, p) for p in people[:7]]
        ringing, cut, heard, nine_marked, nine_committed, eight, not_sent = ids
        for call in (ringing, cut, heard, nine_marked, nine_committed, eight):
            writer.mark(call, Mark.ORIGINATE_SENT)
        for call in (cut, heard, nine_marked, nine_committed, eight):
            writer.mark(call, Mark.ANSWERED)
        writer.mark(cut, Mark.SEGMENT, "1")
        writer.mark(heard, Mark.COMPLETED)
        writer.mark(nine_marked, Mark.DIGIT, "9")  # durable before its revocation
        await writer.close()
        # a committed keypad revocation marks its call in the same transaction
        await store.revoke_durably(
            people[4].number, RevocationChannel.KEYPAD, source_ref=nine_committed
        )
        await store.consent.suppress_wrong_party(people[5].number, eight)
        live = {ringing, f"{cut}-2"}  # Asterisk outlived the engine for two calls
        hangups = Hangups(live, linger=1)

        done = await recover(store, hangups)

        assert not hangups.live  # hung up, and awaited until gone
        assert set(hangups.asked) >= {c for i in ids for c in (i, f"{i}-2")}
        rows = {a.id: a for a in await store.campaigns.attempts(camp.id)}
        outcomes = {call: rows[call].outcome for call in ids}
        assert outcomes == {
            ringing: Outcome.NO_ANSWER,
            cut: Outcome.INTERRUPTED,
            heard: Outcome.COMPLETED,
            nine_marked: Outcome.OPTED_OUT,
            nine_committed: Outcome.OPTED_OUT,
            eight: Outcome.WRONG_NUMBER,
            not_sent: Outcome.NO_ANSWER,
        }
        assert "segment 2" in rows[cut].note
        assert done.calls == 7 and done.hung_up == 2
        assert done.outcomes["opted-out"] == 2
        # C10: the 9 known only as a digit mark is now a committed revocation
        assert (
            await store.consent.revocation_id_for(
                people[3].number, RevocationChannel.KEYPAD, nine_marked
            )
            is not None
        )
        assert (
            await store.consent.revocation_id_for(
                people[4].number, RevocationChannel.KEYPAD, nine_committed
            )
            is not None
        )
        assert "recovered 7 calls" in done.message()
        assert "2 still on Asterisk" in done.message()
        # who is dialled next: the interrupted call at once, the unanswered ones per
        # policy (after retry_delay), nobody who heard it or pressed 9/8
        attempts = await store.campaigns.attempts(camp.id)
        now = store.clock()
        due = plan(
            [p.id for p in people[:7]],
            attempts,
            max_attempts=2,
            retry_delay=dt.timedelta(seconds=300),
            now=now,
            retry_interrupted=camp.retry_interrupted,
        )
        by_contact = {p.contact_id: p for p in due}
        assert set(by_contact) == {people[0].id, people[1].id, people[6].id}
        assert by_contact[people[1].id].due == now
        assert by_contact[people[0].id].due > now
        # a second recovery finds nothing and changes nothing
        again = await recover(store, Hangups())
        assert again.calls == 0 and again.message() == ""
    finally:
        await store.close()


async def test_recover_before_the_digit_mark_finds_the_committed_revocation(
    tmp_path: Path,
) -> None:
    """The revocation committed, the engine died before any progress mark was
    written: the call is opted-out, never interrupted (and so never redialled)."""
    store, camp, people = await _world(tmp_path)
    try:
        call = await _dialing(store, camp, people[0])
        await store.revoke_durably(people[0].number, RevocationChannel.KEYPAD, source_ref=call)
        with closing(sqlite3.connect(tmp_path / "dialer.db")) as raw:
            raw.execute("UPDATE attempts SET digits = '' WHERE id = ?", (call,))
            raw.commit()
        await recover(store, Hangups())
        assert (await store.campaigns.attempt(call)).outcome is Outcome.OPTED_OUT
    finally:
        await store.close()


async def test_in_flight_calls_of_a_cancelled_campaign_are_closed_not_redialled(
    tmp_path: Path,
) -> None:
    store, camp, people = await _world(tmp_path)
    try:
        writer = ProgressWriter(store)
        call = await _dialing(store, camp, people[0])
        writer.mark(call, Mark.ANSWERED)
        await writer.close()
        await store.lifecycle.apply("c", Command.START, by="t")
        await store.lifecycle.apply("c", Command.CANCEL, by="t", reason="sent by mistake")
        live = Hangups({call})
        done = await recover(store, live)
        assert not live.live
        assert (await store.campaigns.attempt(call)).outcome is Outcome.INTERRUPTED
        assert done.not_redialled == {"c": 1}
        assert "1 of campaign c not dialled again (campaign cancelled or deleted)" in (
            done.message()
        )
    finally:
        await store.close()


async def test_recover_refuses_to_go_on_while_asterisk_keeps_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that will not go away: nothing is closed (the engine does not start)."""
    monkeypatch.setattr("dialer.campaign.recovery.HANGUP_WAIT_S", 0.3)
    store, camp, people = await _world(tmp_path)
    try:
        call = await _dialing(store, camp, people[0])
        with pytest.raises(TelephonyError, match="still carries call"):
            await recover(store, Hangups({call}, linger=1000))
        assert (await store.campaigns.attempt(call)).outcome is None
    finally:
        await store.close()


async def test_retry_interrupted_is_kept_with_the_campaign_and_audited(tmp_path: Path) -> None:
    store, _camp, _people = await _world(tmp_path)
    try:
        assert (await store.campaigns.get("c")).retry_interrupted == 1
        await store.campaigns.set_retry_interrupted("c", 2, "ops")
        assert (await store.campaigns.get("c")).retry_interrupted == 2
    finally:
        await store.close()
    with closing(sqlite3.connect(tmp_path / "dialer.db")) as raw:
        kinds = [r[0] for r in raw.execute("SELECT kind FROM audit")]
    assert "campaign-retry-interrupted" in kinds


async def test_in_flight_calls_of_a_deleted_campaign_are_closed_not_redialled(
    tmp_path: Path,
) -> None:
    """The campaign row is gone (deleted by hand): the call is still closed, and named."""
    store, camp, people = await _world(tmp_path)
    try:
        call = await _dialing(store, camp, people[0])
        with closing(sqlite3.connect(tmp_path / "dialer.db")) as raw:
            raw.execute("DELETE FROM campaigns WHERE id = ?", (camp.id,))
            raw.commit()
        done = await recover(store, Hangups({call}))
        assert (await store.campaigns.attempt(call)).outcome is Outcome.NO_ANSWER
        assert done.not_redialled == {f"#{camp.id}": 1}
        assert done.hung_up == 1
    finally:
        await store.close()


@pytest.mark.parametrize("command", [["run", "c"], ["create", "c"]])
def test_retry_interrupted_outside_0_to_2_is_refused_naming_the_option(
    tmp_path: Path, command: list[str]
) -> None:
    from typer.testing import CliRunner

    from dialer.cli import app

    config = tmp_path / "dialer.toml"
    config.write_text("")
    extra = (
        ["--purpose", "school", "--list", "l", "--message", "m", "--caller-id", CALLER_ID]
        if command[0] == "create"
        else []
    )
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "campaign", *command, *extra, "--retry-interrupted", "3"],
    )
    assert result.exit_code == 2, result.output
    assert "--retry-interrupted must be 0, 1 or 2 (got 3)" in result.output
    assert not (tmp_path / "dialer.db").exists()  # nothing touched
