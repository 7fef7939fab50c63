"""Preflight: what a campaign would do if it started at a given moment, without dialling.

Issue 14 ("know before you send"). Pure: the shell (``preflight_run.py``)
reads the store and measures the audio; everything here is arithmetic over
those facts, so every figure is unit-tested against hand-made lists.

The figures, and the rule behind each:

* **contacts / numbers / households**: the list's contacts that still have an
  attempt ahead of them at the start time (``scheduler.next_step``: finished
  contacts are never dialled again), the distinct numbers among them, and
  the households: the calls the campaign makes, one per number, to the
  guardians' phones its ``--phones`` chooses (issue 12; counted by the shell).
* **blocked, by reason**: ``gate.decide`` for every contact, *evaluated at
  the start time* (C2), with the facts the store holds now. A contact the
  gate allows but whose template field is empty is blocked with
  ``template-field-missing`` (the runner does the same: nobody hears a gap).
* **outside the window**: contacts blocked only by their calling window (C12)
  are counted per set of time zones, with the instant the window opens in
  all of them (``windows.next_window_opening``); ``campaign run
  --wait-for-window`` and the service call them then.
* **expected duration**: the calls allowed at the start, at the configured
  pace: ``engine.calls_per_second`` or, when calls last longer than the
  concurrency allows, ``engine.max_concurrent / seconds per call``; a call
  lasts the ring time we assume (``ASSUMED_ANSWER_S``), the message, and the
  seconds we keep listening for a 9 afterwards (broadcast.LISTEN_AFTER_MS).
* **languages**: each contact language, how many contacts speak it, which
  language they hear and what falls back to the default language.
* **message**: per language heard, the length of the live and voicemail
  versions and the C8-C11 results (measured by the shell on the real audio).
* **templates** (personalised messages): each distinct rendered text with
  how many contacts hear it, and how many contacts miss a field.
* **warnings**: a start before 07:00 or from 20:00 on in the organisation's
  zone, more than 12 hours ahead or in the past; a non-emergency campaign to
  more than 90% of all the numbers in the store; a list that changed since
  the campaign was created; a stale national DNC copy; and the other things a
  tired operator should see before pressing "go" (numbers shared by several
  contacts, most contacts blocked, language fallbacks, missing approval).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from dialer.audio import templates, tts
from dialer.campaign.personal import missing_fields, rendered_text, template_block, text_id
from dialer.campaign.scheduler import next_step
from dialer.consent.gate import decide
from dialer.consent.model import CampaignRules, Decision, NumberFacts, Reason
from dialer.consent.rules import effective_window
from dialer.consent.windows import callee_zones, next_window_opening
from dialer.model.campaign import AttemptRow, Campaign
from dialer.model.contact import Contact

#: distinct template texts kept with their counts; the rest are only counted
MAX_TEXTS = 500


@dataclass
class _ZoneGroup:
    zones: tuple[str, ...]
    contacts: int = 0
    opens_at: dt.datetime | None = None


@dataclass
class _TextCount:
    language: str
    text: str
    contacts: int = 0
    #: one contact who hears it (external id), for ``recordings preview``
    example: str = ""


@dataclass
class PreflightTally:
    """Accumulates per-contact decisions; feed it contacts in any number of batches."""

    campaign: Campaign
    rules: CampaignRules
    at: dt.datetime
    default_language: str
    template: templates.Template | None = None
    #: languages the body recording exists in (None: template or unknown)
    body_languages: frozenset[str] | None = None

    list_contacts: int = 0
    finished: int = 0
    pending: int = 0
    allowed: int = 0
    blocked: Counter[str] = field(default_factory=Counter)
    numbers_pending: set[str] = field(default_factory=set)
    numbers_allowed: set[str] = field(default_factory=set)
    shared_numbers: set[str] = field(default_factory=set)
    zone_groups: dict[tuple[str, ...], _ZoneGroup] = field(default_factory=dict)
    languages: Counter[str] = field(default_factory=Counter)
    #: language -> first pending contact with every template field (message samples)
    samples: dict[str, Contact] = field(default_factory=dict)
    texts: dict[str, _TextCount] = field(default_factory=dict)
    more_texts: Counter[str] = field(default_factory=Counter)
    missing_by_field: Counter[str] = field(default_factory=Counter)
    missing_contacts: int = 0

    def add(
        self, contact: Contact, facts: NumberFacts, attempts: Sequence[AttemptRow] = ()
    ) -> Decision | None:
        """Count one contact; returns its decision at the start time (None: finished)."""
        self.list_contacts += 1
        step = next_step(
            contact.id,
            attempts,
            max_attempts=self.campaign.max_attempts,
            retry_delay=dt.timedelta(seconds=self.campaign.retry_delay),
            now=self.at,
        )
        if step is None:
            self.finished += 1
            return None
        self.pending += 1
        if contact.number in self.numbers_pending:
            self.shared_numbers.add(contact.number)
        self.numbers_pending.add(contact.number)
        language = _language(contact.language, self.default_language)
        self.languages[language] += 1
        missing = (
            missing_fields(self.template, contact, self.default_language) if self.template else ()
        )
        if missing:
            self.missing_contacts += 1
            self.missing_by_field.update(missing)
        elif language not in self.samples:
            self.samples[language] = contact

        decision = decide(contact.number, facts, self.rules, self.at, contact.zones)
        if decision.allowed and missing:
            decision = template_block(self.template, contact, self.default_language) or decision
        if decision.allowed:
            self.allowed += 1
            self.numbers_allowed.add(contact.number)
        else:
            self.blocked[decision.reason.value] += 1
            if decision.reason is Reason.OUTSIDE_WINDOW:
                self._outside(contact)
        hears = decision.allowed or decision.reason is Reason.OUTSIDE_WINDOW
        if hears and self.template is not None and not missing:
            self._text(contact, language)
        return decision

    def _outside(self, contact: Contact) -> None:
        number = contact.number
        zones = callee_zones(number, contact.zones, self.rules.fallback_timezone)
        key = tuple(name for name, _info in zones)
        group = self.zone_groups.get(key)
        if group is None:
            start, end = effective_window(
                self.rules.purpose, self.rules.window_start, self.rules.window_end
            )
            group = self.zone_groups[key] = _ZoneGroup(
                key,
                opens_at=next_window_opening(
                    number, start, end, self.at, self.rules.fallback_timezone, contact.zones
                ),
            )
        group.contacts += 1

    def _text(self, contact: Contact, language: str) -> None:
        assert self.template is not None
        used, spoken = rendered_text(self.template, contact, self.default_language)
        key = text_id(used, spoken)
        entry = self.texts.get(key)
        if entry is None:
            if len(self.texts) >= MAX_TEXTS:
                self.more_texts[key] += 1
                return
            entry = self.texts[key] = _TextCount(used, spoken, example=contact.external_id)
        entry.contacts += 1


def _language(language: str, default: str) -> str:
    try:
        return tts.normalise_language(language or default)
    except Exception:
        return tts.normalise_language(default)
