"""Who a campaign calls: one call per number, and each guardian's phones (issue 12 item 2).

A list row is one way to reach a person about a student: siblings sharing
their mother's phone are three rows with one number. A campaign calls each
number once; the call is a *household*: the first row with the number leads
(its attempts are the household's), the others are covered by it, and a
personalised template speaks every child it concerns ("Ana, Ben and Cy
Lopez", in the household's language). An opt-out pressed on the call applies to the
number, as every opt-out does (C6).

Which of a guardian's phones are called is the campaign's ``--phones``:

* ``primary`` (default): the guardian's first phone that may be called for
  the campaign's purpose;
* ``all``: every phone;
* ``until-reached``: the first phone, then the next one of the same guardian
  only when the previous was busy, unanswered, failed, refused by the gate or
  answered by a wrong party (8); a person hearing the message or a 9 stops the
  sequence (the guardian's other phones and their retries are not called).
  Retries (``--max-attempts``) go through the sequence again once all of the
  guardian's phones were tried.

A number kept for emergencies only ("emergency only" in the SIS) is never
called by a campaign of another purpose. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dialer.model.campaign import AttemptRow
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome


class PhoneChoice(StrEnum):
    PRIMARY = "primary"
    ALL = "all"
    UNTIL_REACHED = "until-reached"


class Skip(StrEnum):
    """Why a contact of the list has no call of its own in a campaign (the report says)."""

    #: its number is called once for the household: see the lead's call
    COVERED = "covered"
    #: not the guardian's primary phone (``--phones primary``)
    NOT_PRIMARY = "not-primary"
    #: the SIS keeps the number for other purposes only (e.g. emergency only)
    OTHER_PURPOSE = "other-purpose"
    #: ``until-reached``: the guardian was reached on an earlier phone
    REACHED_ELSEWHERE = "reached-elsewhere"


#: the field a personalised template names a student by (ready templates, SIS imports)
STUDENT_FIELD = "student_name"
#: ``until-reached``: a person heard the message, or pressed 9
REACHED = frozenset({Outcome.COMPLETED, Outcome.OPTED_OUT})
#: ``until-reached``: the guardian was not reached on this phone: try the next one
NOT_REACHED = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.WRONG_NUMBER})
#: "Ana, Ben and Cy" in the languages the voices speak; others read the English word
CONJUNCTIONS = {
    "en": "and",
    "es": "y",
    "fr": "et",
    "pt": "e",
    "it": "e",
    "de": "und",
    "vi": "và",
    "ht": "ak",
    "tl": "at",
    "so": "iyo",
    "ru": "и",
}


@dataclass(frozen=True)
class Household:
    """One call of the campaign: a number and every contact it covers."""

    lead: int  # the contact whose attempts are the household's
    members: tuple[int, ...]  # lead first, then the covered contacts in list order
    #: who the call speaks to: the lead with every child's name and the household's language
    callee: Contact


@dataclass(frozen=True)
class HouseholdPlan:
    households: dict[int, Household]  # by lead, in list order
    #: contacts without a call of their own: (why, the lead that covers them or None)
    skipped: dict[int, tuple[Skip, int | None]]
    #: ``until-reached``: each guardian's households in the order of their phones
    chains: tuple[tuple[int, ...], ...] = ()


def join_names(names: Sequence[str], language: str) -> str:
    """``Ana, Ben and Cy``; Spanish says ``e`` before an /i/ sound (``Ana e Isabel``)."""
    if len(names) <= 1:
        return "".join(names)
    lang = language.split("-")[0].lower()
    word = CONJUNCTIONS.get(lang, "and")
    last = names[-1]
    if lang == "es" and last.lower().startswith(("i", "hi")) and not last.lower().startswith("hie"):
        word = "e"
    return f"{', '.join(names[:-1])} {word} {last}"


def name_children(names: Sequence[str], language: str) -> str:
    """Every child once: ``Ana, Ben and Cy Lopez`` when they share the family name
    (said once, at the end), else ``Ana Lopez and Ben Kim``."""
    parts = [name.split() for name in names]
    last = {p[-1] for p in parts}
    if len(parts) > 1 and len(last) == 1 and all(len(p) > 1 for p in parts):
        given = [" ".join(p[:-1]) for p in parts]
        return f"{join_names(given, language)} {parts[0][-1]}"
    return join_names(names, language)


def household_language(members: Sequence[Contact]) -> str:
    """The language most of the household's rows give; the lead's on a tie."""
    counts = Counter(c.language for c in members)
    best = max(counts.values())
    return next(c.language for c in members if counts[c.language] == best)


def callee(members: Sequence[Contact]) -> Contact:
    """The lead as the call speaks to it: every child named, the household's language."""
    lead = members[0]
    language = household_language(members)
    names: list[str] = []
    for member in members:
        name = " ".join(str(member.fields.get(STUDENT_FIELD, "")).split())
        if name and name not in names:
            names.append(name)
    fields = dict(lead.fields)
    if len(names) > 1:
        fields[STUDENT_FIELD] = name_children(names, language)
    if language == lead.language and fields == lead.fields:
        return lead
    return dataclasses.replace(lead, language=language, fields=fields)


def _guardian(contact: Contact) -> tuple[str, str]:
    """Whose phones these are: the SIS guardian, else the plain list's contact."""
    return ("g", contact.guardian_id) if contact.guardian_id else ("c", contact.external_id)


def _select(
    contacts: Iterable[Contact], choice: PhoneChoice, purpose: str
) -> tuple[list[Contact], dict[int, tuple[Skip, int | None]]]:
    """The contacts whose phones the campaign calls, and why the others are not."""
    skipped: dict[int, tuple[Skip, int | None]] = {}
    eligible: list[Contact] = []
    for contact in contacts:
        if contact.purposes and purpose not in contact.purposes:
            skipped[contact.id] = (Skip.OTHER_PURPOSE, None)
        else:
            eligible.append(contact)
    if choice is PhoneChoice.PRIMARY:
        # the guardian's first phone the campaign may call, for each student
        first: dict[tuple[str, str, str], int] = {}
        for c in eligible:
            key = (c.external_id, *_guardian(c))
            first[key] = min(first.get(key, c.phone_rank), c.phone_rank)
        chosen = []
        for c in eligible:
            if c.phone_rank == first[(c.external_id, *_guardian(c))]:
                chosen.append(c)
            else:
                skipped[c.id] = (Skip.NOT_PRIMARY, None)
        eligible = chosen
    return eligible, skipped


def household_count(contacts: Iterable[Contact], choice: PhoneChoice, purpose: str) -> int:
    """How many numbers a campaign calls among these contacts (the preflight's households)."""
    chosen, _skipped = _select(contacts, choice, purpose)
    return len({c.number for c in chosen})


def plan_households(
    contacts: Iterable[Contact], choice: PhoneChoice, purpose: str
) -> HouseholdPlan:
    """The campaign's calls from its list version (contacts in list order)."""
    eligible, skipped = _select(contacts, choice, purpose)
    by_number: dict[str, list[Contact]] = {}
    for c in eligible:
        by_number.setdefault(c.number, []).append(c)
    households: dict[int, Household] = {}
    lead_of: dict[int, int] = {}
    for members in by_number.values():
        lead = members[0].id
        households[lead] = Household(lead, tuple(m.id for m in members), callee(members))
        for m in members:
            lead_of[m.id] = lead
            if m.id != lead:
                skipped[m.id] = (Skip.COVERED, lead)
    chains: tuple[tuple[int, ...], ...] = ()
    if choice is PhoneChoice.UNTIL_REACHED:
        phones: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for c in eligible:
            phones.setdefault(_guardian(c), []).append((c.phone_rank, lead_of[c.id]))
        ordered = []
        for ranked in phones.values():
            chain: list[int] = []
            for _rank, lead in sorted(ranked):
                if lead not in chain:
                    chain.append(lead)
            ordered.append(tuple(chain))
        chains = tuple(ordered)
    return HouseholdPlan(households, skipped, chains)


def reach(rows: Sequence[AttemptRow]) -> str:
    """``reached``, ``not-reached`` or '' (not called yet, or under way) for one number."""
    if any(r.outcome in REACHED for r in rows):
        return "reached"
    if any((not r.allowed) or r.outcome in NOT_REACHED for r in rows):
        return "not-reached"
    return ""


@dataclass
class Sequencer:
    """``until-reached``: which households may be called now, from their attempts so far.

    Every other choice calls every household (``may_dial`` is always true).
    """

    plan: HouseholdPlan
    state: dict[int, str] = field(default_factory=dict)
    #: households queued or called at least once in this campaign
    started: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._chains_of: dict[int, list[tuple[int, ...]]] = {}
        for chain in self.plan.chains:
            for lead in chain:
                self._chains_of.setdefault(lead, []).append(chain)

    def record(self, lead: int, rows: Sequence[AttemptRow]) -> None:
        if rows:
            self.started.add(lead)
        self.state[lead] = reach(rows)

    def may_dial(self, lead: int) -> bool:
        chains = self._chains_of.get(lead)
        if not chains:
            return True
        retry = self.state.get(lead) == "not-reached"
        for chain in chains:
            if any(self.state.get(h) == "reached" for h in chain):
                continue
            at = chain.index(lead)
            # a retry waits until the guardian's later phones were tried too: the
            # sequence is called through, then again (never two phones at once)
            wait_for = chain[:at] + (chain[at + 1 :] if retry else ())
            if all(self.state.get(h) == "not-reached" for h in wait_for):
                return True
        return False

    def newly_due(self) -> list[int]:
        """Households never called that may be called now (marked started)."""
        due = [lead for lead in self._chains_of if lead not in self.started and self.may_dial(lead)]
        self.started.update(due)
        return due

    def reached_elsewhere(self) -> list[int]:
        """Households never called because every guardian they serve was reached."""
        return [
            lead
            for lead, chains in self._chains_of.items()
            if lead not in self.started
            and all(any(self.state.get(h) == "reached" for h in chain) for chain in chains)
        ]
