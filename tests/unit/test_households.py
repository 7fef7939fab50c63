"""One call per number, a guardian's phones per --phones (issue 12 item 2): the pure plan."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.campaign.households import (
    PhoneChoice,
    Sequencer,
    Skip,
    callee,
    join_names,
    name_children,
    plan_households,
    reach,
)
from dialer.model.campaign import AttemptRow
from dialer.model.contact import Contact
from dialer.model.outcome import AttemptState, Outcome

HOME, MOBILE, WORK, DAD_WORK = "+12125550121", "+12125550131", "+12125550142", "+12125550152"


def person(
    cid: int,
    student: str,
    number: str,
    *,
    name: str = "",
    guardian: str = "",
    rank: int = 1,
    language: str = "es",
    purposes: tuple[str, ...] = (),
) -> Contact:
    return Contact(
        id=cid,
        external_id=student,
        number=number,
        language=language,
        fields={"student_name": name, "school": "Lincoln"} if name else {"school": "Lincoln"},
        guardian_id=guardian,
        phone_kind="home" if rank == 1 else "mobile",
        phone_rank=rank,
        purposes=purposes,
    )


def lopez() -> list[Contact]:
    """Ana, Ben and Cy share their mother's home and mobile; Cy's father has home and work."""
    return [
        person(1, "s-1", HOME, name="Ana", guardian="maria", rank=1),
        person(2, "s-1", MOBILE, name="Ana", guardian="maria", rank=2),
        person(3, "s-2", HOME, name="Ben", guardian="maria", rank=1),
        person(4, "s-2", MOBILE, name="Ben", guardian="maria", rank=2),
        person(5, "s-3", HOME, name="Cy", guardian="maria", rank=1),
        person(6, "s-3", MOBILE, name="Cy", guardian="maria", rank=2),
        person(7, "s-3", HOME, name="Cy", guardian="jorge", rank=1),
        person(8, "s-3", WORK, name="Cy", guardian="jorge", rank=2),
    ]


def row(contact_id: int, outcome: Outcome | None, *, allowed: bool = True) -> AttemptRow:
    return AttemptRow(
        id=f"call-{contact_id}-{outcome}",
        contact_id=contact_id,
        attempt_no=1,
        decided_at=dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC),
        allowed=allowed,
        reason="allowed" if allowed else "no-consent",
        detail="",
        state=AttemptState.DONE,
        outcome=outcome,
        ami_reason=None,
        dial_status=None,
        hangup_cause=None,
        digits="",
        language="es",
        note="",
    )


def test_siblings_sharing_a_number_get_one_call_naming_every_child() -> None:
    plan = plan_households(lopez(), PhoneChoice.PRIMARY, "school")
    assert list(plan.households) == [1]
    home = plan.households[1]
    assert home.members == (1, 3, 5, 7)
    assert home.callee.fields["student_name"] == "Ana, Ben y Cy"
    assert home.callee.language == "es"
    assert plan.skipped == {
        2: (Skip.NOT_PRIMARY, None),
        3: (Skip.COVERED, 1),
        4: (Skip.NOT_PRIMARY, None),
        5: (Skip.COVERED, 1),
        6: (Skip.NOT_PRIMARY, None),
        7: (Skip.COVERED, 1),
        8: (Skip.NOT_PRIMARY, None),
    }


def test_all_phones_still_one_call_per_number() -> None:
    plan = plan_households(lopez(), PhoneChoice.ALL, "school")
    assert {h.callee.number: h.members for h in plan.households.values()} == {
        HOME: (1, 3, 5, 7),
        MOBILE: (2, 4, 6),
        WORK: (8,),
    }
    assert plan.households[2].callee.fields["student_name"] == "Ana, Ben y Cy"
    assert plan.households[8].callee.fields["student_name"] == "Cy"  # untouched: one child
    assert plan.chains == ()


def test_until_reached_chains_are_each_guardians_phones_in_order() -> None:
    plan = plan_households(lopez(), PhoneChoice.UNTIL_REACHED, "school")
    assert sorted(plan.chains) == [(1, 2), (1, 8)]


def test_primary_is_the_first_phone_the_purpose_allows() -> None:
    contacts = [
        person(1, "s-1", HOME, guardian="g", rank=1, purposes=("emergency",)),
        person(2, "s-1", MOBILE, guardian="g", rank=2),
    ]
    school = plan_households(contacts, PhoneChoice.PRIMARY, "school")
    assert list(school.households) == [2]
    assert school.skipped == {1: (Skip.OTHER_PURPOSE, None)}
    emergency = plan_households(contacts, PhoneChoice.PRIMARY, "emergency")
    assert list(emergency.households) == [1]
    assert emergency.skipped == {2: (Skip.NOT_PRIMARY, None)}


def test_plain_lists_keep_every_row_and_dedupe_numbers() -> None:
    """A plain list (no guardians, rank 1): each number once, nobody left out."""
    contacts = [
        person(1, "a", HOME, language="en"),
        person(2, "b", MOBILE, language="en"),
        person(3, "c", HOME, language="en"),
    ]
    plan = plan_households(contacts, PhoneChoice.PRIMARY, "school")
    assert [h.members for h in plan.households.values()] == [(1, 3), (2,)]
    assert plan.skipped == {3: (Skip.COVERED, 1)}
    # no names to join: the lead is spoken to as it is
    assert plan.households[1].callee == contacts[0]


@pytest.mark.parametrize(
    ("names", "language", "said"),
    [
        ([], "en", ""),
        (["Ana"], "en", "Ana"),
        (["Ana", "Ben"], "en", "Ana and Ben"),
        (["Ana", "Ben", "Cy"], "en-US", "Ana, Ben and Cy"),
        (["Ana", "Ben", "Cy"], "es", "Ana, Ben y Cy"),
        (["Ana", "Isabel"], "es", "Ana e Isabel"),
        (["Ana", "Hilda"], "es", "Ana e Hilda"),
        (["Ana", "Hierro"], "es", "Ana y Hierro"),
        (["An", "Bao"], "vi", "An và Bao"),
        (["Ana", "Ben"], "xx", "Ana and Ben"),
    ],
)
def test_join_names(names: list[str], language: str, said: str) -> None:
    assert join_names(names, language) == said


@pytest.mark.parametrize(
    ("names", "language", "said"),
    [
        (["Ana Lopez", "Ben Lopez", "Cy Lopez"], "es", "Ana, Ben y Cy Lopez"),
        (["Ana Lopez", "Ben Lopez"], "en", "Ana and Ben Lopez"),
        (["Mary Ann Smith", "Jo Smith"], "en", "Mary Ann and Jo Smith"),
        (["Ana Lopez", "Ben Kim"], "en", "Ana Lopez and Ben Kim"),
        (["Ana", "Ben Lopez"], "en", "Ana and Ben Lopez"),
        (["Ana Lopez"], "en", "Ana Lopez"),
    ],
)
def test_children_share_their_family_name_once(names: list[str], language: str, said: str) -> None:
    assert name_children(names, language) == said


def test_household_language_is_the_majority_then_the_lead() -> None:
    mixed = [
        person(1, "a", HOME, name="Ana", language="en"),
        person(2, "b", HOME, name="Ben", language="es"),
        person(3, "c", HOME, name="Cy", language="es"),
    ]
    assert callee(mixed).language == "es"
    assert callee(mixed).fields["student_name"] == "Ana, Ben y Cy"
    tie = mixed[:2]
    assert callee(tie).language == "en"
    assert callee(tie).fields["student_name"] == "Ana and Ben"


def test_same_child_twice_is_named_once() -> None:
    contacts = [
        person(1, "s-3", HOME, name="Cy", guardian="maria"),
        person(2, "s-3", HOME, name=" Cy ", guardian="jorge"),
    ]
    assert callee(contacts).fields["student_name"] == "Cy"


@pytest.mark.parametrize(
    ("rows", "state"),
    [
        ([], ""),
        ([row(1, None)], ""),
        ([row(1, Outcome.COMPLETED)], "reached"),
        ([row(1, Outcome.OPTED_OUT)], "reached"),
        ([row(1, Outcome.BUSY)], "not-reached"),
        ([row(1, Outcome.NO_ANSWER)], "not-reached"),
        ([row(1, Outcome.FAILED)], "not-reached"),
        ([row(1, Outcome.WRONG_NUMBER)], "not-reached"),
        ([row(1, Outcome.BLOCKED, allowed=False)], "not-reached"),
        ([row(1, Outcome.INTERRUPTED_BY_PBX)], ""),
        ([row(1, Outcome.BUSY), row(1, Outcome.COMPLETED)], "reached"),
    ],
)
def test_reach(rows: list[AttemptRow], state: str) -> None:
    assert reach(rows) == state


def test_until_reached_home_busy_then_mobile() -> None:
    contacts = [
        person(1, "s-1", HOME, guardian="g", rank=1),
        person(2, "s-1", MOBILE, guardian="g", rank=2),
        person(3, "s-1", WORK, guardian="g", rank=3),
    ]
    seq = Sequencer(plan_households(contacts, PhoneChoice.UNTIL_REACHED, "school"))
    assert [seq.may_dial(h) for h in (1, 2, 3)] == [True, False, False]
    assert seq.newly_due() == [1]
    assert seq.newly_due() == []  # marked started
    seq.record(1, [row(1, Outcome.BUSY)])
    assert seq.newly_due() == [2]
    assert not seq.may_dial(1)  # its retry waits until the other phones were tried
    seq.record(2, [row(2, Outcome.COMPLETED)])
    assert seq.newly_due() == []
    assert not seq.may_dial(1)  # reached on the mobile: the home retry is dropped
    assert not seq.may_dial(3)
    assert seq.reached_elsewhere() == [3]


def test_until_reached_retries_go_through_the_sequence_again() -> None:
    contacts = [
        person(1, "s-1", HOME, guardian="g", rank=1),
        person(2, "s-1", MOBILE, guardian="g", rank=2),
    ]
    seq = Sequencer(plan_households(contacts, PhoneChoice.UNTIL_REACHED, "school"))
    seq.newly_due()
    seq.record(1, [row(1, Outcome.BUSY)])
    assert seq.newly_due() == [2]
    seq.record(2, [row(2, Outcome.NO_ANSWER)])
    assert seq.may_dial(1) and seq.may_dial(2)  # both tried: retries are due again
    seq.record(1, [row(1, Outcome.BUSY), row(1, Outcome.COMPLETED)])
    assert not seq.may_dial(2)
    assert seq.reached_elsewhere() == []  # every household was called


def test_until_reached_a_nine_stops_the_sequence() -> None:
    contacts = [
        person(1, "s-1", HOME, guardian="g", rank=1),
        person(2, "s-1", MOBILE, guardian="g", rank=2),
    ]
    seq = Sequencer(plan_households(contacts, PhoneChoice.UNTIL_REACHED, "school"))
    seq.newly_due()
    seq.record(1, [row(1, Outcome.OPTED_OUT)])
    assert seq.newly_due() == []
    assert seq.reached_elsewhere() == [2]


def test_until_reached_a_shared_phone_serves_each_guardian() -> None:
    """The Lopez home phone is both parents' first: busy there, each goes on to
    their own next phone; the mother reached on her mobile leaves the father's work."""
    seq = Sequencer(plan_households(lopez(), PhoneChoice.UNTIL_REACHED, "school"))
    assert seq.newly_due() == [1]
    seq.record(1, [row(1, Outcome.NO_ANSWER)])
    assert sorted(seq.newly_due()) == [2, 8]
    seq.record(2, [row(2, Outcome.COMPLETED)])
    assert not seq.may_dial(1)  # the father's work phone is not tried yet
    assert seq.may_dial(8)
    seq.record(8, [row(8, Outcome.BUSY)])
    assert seq.may_dial(1)  # the father's sequence goes round again
    seq.record(8, [row(8, Outcome.BUSY), row(8, Outcome.COMPLETED)])
    assert not seq.may_dial(1)
    assert seq.reached_elsewhere() == []


def test_other_choices_dial_every_household() -> None:
    for choice in (PhoneChoice.PRIMARY, PhoneChoice.ALL):
        plan = plan_households(lopez(), choice, "school")
        seq = Sequencer(plan)
        assert all(seq.may_dial(h) for h in plan.households)
        assert seq.newly_due() == []  # nothing waits: the runner queued them all


numbers = st.sampled_from([HOME, MOBILE, WORK, DAD_WORK])


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["s-1", "s-2", "s-3"]),
            st.sampled_from(["", "g1", "g2"]),
            numbers,
            st.integers(1, 3),
            st.sampled_from([(), ("emergency",)]),
        ),
        max_size=12,
    ),
    st.sampled_from(list(PhoneChoice)),
    st.sampled_from(["school", "emergency"]),
)
def test_every_contact_is_called_covered_or_skipped_once(
    rows: list[tuple[str, str, str, int, tuple[str, ...]]], choice: PhoneChoice, purpose: str
) -> None:
    contacts = [
        person(i, s, n, guardian=g, rank=r, purposes=p) for i, (s, g, n, r, p) in enumerate(rows)
    ]
    plan = plan_households(contacts, choice, purpose)
    leads = set(plan.households)
    # every contact is exactly one of: a lead, or skipped with a reason
    assert leads.isdisjoint(plan.skipped)
    assert leads | set(plan.skipped) == {c.id for c in contacts}
    # one call per number
    called = [plan.households[h].callee.number for h in plan.households]
    assert len(called) == len(set(called))
    # covered contacts share their lead's number; nothing of another purpose is called
    by_id = {c.id: c for c in contacts}
    for cid, (why, lead) in plan.skipped.items():
        if why is Skip.COVERED:
            assert lead in leads
            assert by_id[cid].number == by_id[lead].number
    for h in plan.households.values():
        for m in h.members:
            assert not by_id[m].purposes or purpose in by_id[m].purposes
    if choice is PhoneChoice.UNTIL_REACHED:
        assert {h for chain in plan.chains for h in chain} == leads
