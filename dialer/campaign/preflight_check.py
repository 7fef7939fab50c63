"""Preflight, the shell: read the store, measure the message, hand both to the pure parts.

``run_preflight`` is the one function the CLI (``dialer campaign preflight``,
``campaign start``) and the web console call. It never dials, never writes
to the store, and reads each contact's facts in batches (one round trip per
2,000 numbers, ``ConsentStore.facts_for_many``).

The message is measured per language the contacts speak, on the very files a
contact of that language would hear (a contact with every template field
stands in for all of them): length of the live and voicemail versions, and
C8-C11 as ``audio.validate`` checks them when a campaign is created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from dialer.audio.message import (
    ComposedMessage,
    Message,
    ResolveContext,
    ResolvedSegment,
    SegmentKind,
    TemplateSource,
    resolve_segment,
)
from dialer.audio.message import Contact as AudioContact
from dialer.audio.validate import (
    MAX_OPTOUT_GAP_S,
    check_segment_playable,
    check_structure,
    measure_c9,
)
from dialer.campaign.approval import approval_status
from dialer.campaign.control import campaign_rules
from dialer.campaign.households import PhoneChoice, household_count
from dialer.campaign.messages import MessagePlanner
from dialer.campaign.personal import campaign_template
from dialer.campaign.preflight import PreflightTally
from dialer.campaign.preflight_report import Context, LanguageCheck, build_report
from dialer.consent.model import Purpose
from dialer.errors import DialerError, InputError
from dialer.model.campaign import AttemptRow, Campaign
from dialer.model.contact import Contact
from dialer.settings import Settings
from dialer.store.store import Store

#: numbers whose facts are read in one round trip
BATCH = 2000

_C10 = "9 is accepted during every segment (STREAM FILE escape digits) and 4 s after it"


def parse_start(text: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """``--at``: "2026-12-03 07:00" in the organisation's zone, ISO 8601 with an
    offset, or "07:00" (today there). InputError names what was typed."""
    zone = ZoneInfo(timezone)
    value = text.strip()
    try:
        if len(value) <= 5 and ":" in value:
            clock = dt.time.fromisoformat(value.zfill(5))
            moment = dt.datetime.combine(now.astimezone(zone).date(), clock, tzinfo=zone)
        else:
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise InputError(
            f"--at {text!r} is not a time: use 'YYYY-MM-DD HH:MM' (in {timezone}), "
            "'HH:MM' (today), or ISO 8601 with an offset"
        ) from None
    return moment.astimezone(dt.UTC)


async def run_preflight(
    settings: Settings, store: Store, name: str, *, at: dt.datetime | None = None
) -> dict[str, Any]:
    """What campaign ``name`` would do if it started at ``at`` (default: now); no dialling."""
    campaign = await store.campaigns.get(name)  # NotFoundError: "no campaign named ..."
    now = store.clock()
    start = at or now
    rules = await campaign_rules(store, settings, campaign)
    tally = PreflightTally(
        campaign=campaign,
        rules=rules,
        at=start,
        default_language=settings.audio.default_language,
        template=campaign_template(campaign.message),
    )
    by_contact: dict[int, list[AttemptRow]] = {}
    for attempt in await store.campaigns.attempts(campaign.id):
        by_contact.setdefault(attempt.contact_id, []).append(attempt)
    # the campaign's pinned list, a page at a time (issue 11: never the whole list)
    after = -1
    # issue 12: who answers each row and which of their phones it is, without
    # the personal fields: the campaign's calls, one per number (households)
    phones: list[Contact] = []
    while batch := await store.contacts.page(campaign.version_id, after, BATCH):
        facts = await store.consent.facts_for_many([c.number for c in batch])
        for contact in batch:
            tally.add(contact, facts[contact.number], by_contact.get(contact.id, ()))
            phones.append(dataclasses.replace(contact, fields={}))
        after = batch[-1].id
    households = household_count(phones, PhoneChoice(campaign.phones), campaign.purpose.value)
    del phones
    checks = await message_checks(settings, store, campaign, tally)
    created = await store.safeguards.fingerprint_at_creation(campaign.id)
    # the list's contents now (stored with its published version: nothing decrypted);
    # a campaign calls the version it pinned, so a change here is worth a warning
    current = await store.safeguards.list_fingerprint(campaign.list_id)
    approval = await approval_status(store, settings, campaign)
    context = Context(
        now=now,
        organisation_timezone=settings.organisation.timezone,
        calls_per_second=settings.engine.calls_per_second,
        max_concurrent=settings.engine.max_concurrent,
        store_numbers=await store.safeguards.stored_numbers(),
        list_changed=None if created is None else created.fingerprint != current.fingerprint,
        national_dnc_as_of=(
            await store.consent.national_dnc_as_of()
            if campaign.purpose is Purpose.TELEMARKETING
            else None
        ),
        approval=approval.to_json(),
        households=households,
    )
    return build_report(tally, checks, context)


async def message_checks(
    settings: Settings, store: Store, campaign: Campaign, tally: PreflightTally
) -> dict[str, LanguageCheck]:
    """Length and C8-C11 per language the contacts speak (default language when none)."""
    planner = MessagePlanner(settings, store)
    languages = sorted(tally.languages) or [tally.default_language]
    try:
        composed = await planner.compose(campaign.name, campaign.message)
    except DialerError as exc:
        failed = {c: (False, str(exc)) for c in ("C8", "C9", "C10", "C11")}
        return {lang: LanguageCheck(lang, lang, checks=failed) for lang in languages}
    out = {}
    for lang in languages:
        out[lang] = await asyncio.to_thread(
            check_language,
            composed,
            planner.context,
            lang,
            tally.samples.get(lang),
        )
    return out


def check_language(
    composed: ComposedMessage, ctx: ResolveContext, language: str, sample: Contact | None
) -> LanguageCheck:
    """Measure the message for contacts of ``language`` (blocking: reads audio, may run TTS)."""
    checks: dict[str, tuple[bool, str]] = {"C10": (True, _C10)}
    for message in (composed.live, composed.voicemail):
        try:
            check_structure(message, default_region=ctx.default_region)
        except DialerError as exc:
            code = str(exc).split(":", 1)[0]
            checks[code if code in ("C8", "C9", "C11") else "C8"] = (False, str(exc))
    contact = (
        AudioContact(sample.external_id, sample.language, sample.fields)
        if sample is not None
        else AudioContact(f"preflight-{language}", language)
    )
    try:
        live = _resolve(composed.live, contact, language, ctx, personal=sample is not None)
        voicemail = _resolve(
            composed.voicemail, contact, language, ctx, personal=sample is not None
        )
    except DialerError as exc:
        checks["message"] = (False, f"cannot be played in {language}: {exc}")
        return LanguageCheck(language, language, checks=checks)
    complete = sample is not None or not _personal(composed.live)
    shaped = all(passed for passed, _detail in checks.values())
    gaps = [
        (variant, measure_c9(segments, variant).gap_s)
        for variant, segments in (("live", live), ("voicemail", voicemail))
        if shaped
    ]
    if gaps:
        # C9 is measured on the real audio: the worse of the two versions decides
        variant, gap = max(gaps, key=lambda vg: vg[1])
        passed = gap <= MAX_OPTOUT_GAP_S
        checks["C9"] = (
            passed,
            f"{'' if passed else 'C9: '}the {'opt-out' if variant == 'live' else 'hotline'} "
            f"instruction starts {gap:.2f} s after the identification "
            f"({variant}; limit {MAX_OPTOUT_GAP_S:g} s)",
        )
    checks.setdefault("C8", (True, "starts with the organisation's identification"))
    checks.setdefault(
        "C11", (True, "callback number after the body; the voicemail version gives the hotline")
    )
    body = next((s for s in live if s.kind == SegmentKind.BODY), None)
    return LanguageCheck(
        language=language,
        heard=body.language if body else language,
        fallbacks=tuple(f"{s.kind}: {s.label} {s.fallback}" for s in live if s.fallback),
        live_seconds=_seconds(live) if complete else None,
        voicemail_seconds=_seconds(voicemail) if complete else None,
        checks=checks,
    )


def _personal(message: Message) -> bool:
    return any(isinstance(s.source, TemplateSource) for s in message.segments)


def _resolve(
    message: Message, contact: AudioContact, language: str, ctx: ResolveContext, *, personal: bool
) -> list[ResolvedSegment]:
    """Resolve every segment; without a complete contact, personalised ones are skipped."""
    return [
        resolve_segment(segment, contact, language, ctx)
        for segment in message.segments
        if personal or not isinstance(segment.source, TemplateSource)
    ]


def _seconds(segments: Sequence[ResolvedSegment]) -> float:
    return round(sum(check_segment_playable(s) for s in segments), 1)
