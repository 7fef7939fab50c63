"""Property test at the store level (issue 3): no sequence of grants, revocations,
erasures and (re-)imports lets a revoked or erased number through a
non-emergency gate (C5-C7, C17).

Each example runs against the real ``Store`` on a fresh SQLite file with a real
key, through the same calls the CLI, the hotline and the importers use; after
every step the gate (``facts_for`` + ``decide``) is compared with a tiny model
kept in the test. The model also says when a call *must* be allowed, so a store
that loses consents fails too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.store import NUMBERS, Clock, consent, open_store, rules

from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.model.contact import NewContact
from dialer.store.store import Store

POOL = NUMBERS[:4]
Op = tuple[Any, ...]
SCOPES = (Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING)

number_idx = st.integers(0, len(POOL) - 1)
grant = st.tuples(st.just("grant"), number_idx, st.sampled_from(SCOPES))
revoke = st.tuples(st.just("revoke"), number_idx, st.sampled_from(list(RevocationChannel)))
erase = st.tuples(st.just("erase"), number_idx)
import_ = st.tuples(
    st.just("import"), st.lists(st.tuples(number_idx, st.sampled_from(SCOPES)), max_size=4)
)
contacts = st.tuples(st.just("contacts"), st.lists(number_idx, max_size=4))
operations = st.lists(st.one_of(grant, revoke, erase, import_, contacts), max_size=12)


@dataclass
class Model:
    erased: bool = False
    revoked_at: dt.datetime | None = None
    consents: list[tuple[Purpose, dt.datetime]] = field(default_factory=list)

    def live(self, purpose: Purpose) -> bool:
        return any(
            (purpose is Purpose.EMERGENCY or scope is purpose)
            and (self.revoked_at is None or at > self.revoked_at)
            for scope, at in self.consents
        )


async def _apply(store: Store, clock: Clock, model: dict[int, Model], op: Op) -> None:
    kind, now = op[0], clock.now
    if kind == "grant":
        _, i, scope = op
        await store.consent.add_consent(consent(POOL[i], scope, obtained_at=now), "staff")
        model[i].consents.append((scope, now))
    elif kind == "revoke":
        _, i, channel = op
        await store.consent.revoke(POOL[i], channel, source_ref="prop")
        model[i].revoked_at = now
    elif kind == "erase":
        _, i = op
        await store.consent.erase(POOL[i], "dpo")
        model[i] = Model(erased=True)
    elif kind == "import":
        _, rows = op
        records = [consent(POOL[i], scope, obtained_at=now) for i, scope in rows]
        await store.consent.import_batch(records, "staff", f"batch-{now.isoformat()}")
        for i, scope in rows:
            model[i].consents.append((scope, now))
    else:  # contact list re-import: never changes consent, never unblocks
        _, indices = op
        await store.contacts.import_list(
            "families",
            [NewContact(f"s{i}", POOL[i], "en", {"name": f"child {i}"}) for i in indices],
            replace=True,
            operator="staff",
        )


async def _check(store: Store, clock: Clock, model: dict[int, Model]) -> None:
    now = clock.now
    facts = await store.consent.facts_for_many(list(POOL))
    for i, number in enumerate(POOL):
        single = await store.consent.facts_for(number)
        assert single == facts[number]
        m = model[i]
        for purpose in SCOPES:
            d = decide(number, single, rules(purpose, now), now)
            if m.erased:
                assert (d.allowed, d.reason) == (False, Reason.ERASED), (i, purpose, m)
            elif m.revoked_at is not None and not m.live(purpose):
                assert (d.allowed, d.reason) == (False, Reason.REVOKED), (i, purpose, m)
            elif m.live(purpose):
                assert d.allowed, (i, purpose, m, d)  # the store kept what it was given
            else:
                assert not d.allowed and d.reason in (
                    Reason.NO_CONSENT,
                    Reason.NO_WRITTEN_CONSENT,
                ), (i, purpose, d)
        emergency = decide(number, single, rules(Purpose.EMERGENCY, now), now)
        if m.erased or (m.revoked_at is not None and not m.live(Purpose.EMERGENCY)):
            assert not emergency.allowed, (i, m)


async def _run(ops: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as root:
        clock = Clock()
        store = await open_store(Path(root), clock)
        model = {i: Model() for i in range(len(POOL))}
        try:
            for op in ops:
                await _apply(store, clock, model, op)
                clock.advance(dt.timedelta(seconds=1))
                await _check(store, clock, model)
            assert (await store.verify_audit()).entries >= 0
        finally:
            await store.close()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=operations)
def test_c5_c17_no_sequence_lets_a_revoked_or_erased_number_through(ops: list[Op]) -> None:
    asyncio.run(_run(ops))


def test_c5_c17_property_checker_catches_a_lost_revocation() -> None:
    """The checker can fail: a store that forgets revocations is caught."""

    async def forgetful() -> None:
        with tempfile.TemporaryDirectory() as root:
            clock = Clock()
            store = await open_store(Path(root), clock)
            model = {i: Model() for i in range(len(POOL))}
            try:
                await _apply(store, clock, model, ("grant", 0, Purpose.SCHOOL))
                clock.advance(dt.timedelta(seconds=1))
                model[0].revoked_at = clock.now  # the model hears it, the store does not
                clock.advance(dt.timedelta(seconds=1))
                await _check(store, clock, model)
            finally:
                await store.close()

    with pytest.raises(AssertionError):
        asyncio.run(forgetful())
