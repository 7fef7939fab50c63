"""Campaign control use cases: the one place the CLI and the HTTP API call (contract 2).

``start_campaign``, ``pause_campaign``, ``resume_campaign``, ``cancel_campaign``
change the campaign's state in the store; they work whether or not a service
runs. The service's supervisor reads the states every 0.5 s and acts (starts
the runner, tells it to stop placing calls); ``campaign_status`` reports the
state together with progress so far and whether an engine runs.

Start times are read in the organisation's time zone (``organisation.timezone``);
a time in the past is refused, as is a start the rules forbid right now (C1,
C14, C15: ``check_can_start``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from dialer.campaign.approval import require_approval
from dialer.consent.model import CampaignRules, Purpose
from dialer.consent.rules import check_can_start
from dialer.errors import InputError
from dialer.model.campaign import Campaign
from dialer.model.lifecycle import CampaignState, Command
from dialer.settings import Settings
from dialer.store.engine_lock import engine_holder
from dialer.store.lifecycle import LifecycleRow
from dialer.store.store import Store

#: how often a running campaign's state is read by whoever runs it (contract 2: <= 0.5 s)
STATE_POLL_SECONDS = 0.5

_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_start_time(text: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """``"2026-12-03 07:00"`` in the organisation's zone (or with an explicit offset).

    Refuses text it cannot read, a time that does not exist or is ambiguous
    on that day (DST), and a time that is not in the future.
    """
    value = text.strip()
    moment: dt.datetime | None = None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        for fmt in _FORMATS:
            with contextlib.suppress(ValueError):
                moment = dt.datetime.strptime(value, fmt)
                break
    if moment is None:
        raise InputError(f"--at {text!r}: write the start time like '2026-12-03 07:00'")
    zone = ZoneInfo(timezone)
    if moment.tzinfo is None:
        local = moment.replace(tzinfo=zone)
        # DST: a wall time that does not exist (spring forward) or exists twice
        # (fall back) would start the campaign at a time nobody meant
        back = local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        other = moment.replace(tzinfo=zone, fold=1).utcoffset()
        if back != moment or other != local.utcoffset():
            raise InputError(
                f"--at {text!r} does not name one moment in {timezone} (daylight saving "
                "change); pick another time"
            )
        moment = local
    if moment <= now:
        shown = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        raise InputError(
            f"--at {text!r} is in the past (it is now {shown} in {timezone}); "
            "give a future time, or leave --at out to start now"
        )
    return moment.astimezone(dt.UTC)


async def campaign_rules(store: Store, settings: Settings, campaign: Campaign) -> CampaignRules:
    """The campaign-level facts the rules check before a start (and the gate per call)."""
    return CampaignRules(
        purpose=campaign.purpose,
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        caller_id_allowed=await store.consent.caller_id_allowed(campaign.caller_id),
        emergency_category=campaign.category,
        authorized_by=campaign.authorized_by,
        revocation_override=campaign.override_by is not None,
        residential_exemption=campaign.residential_exemption,
        national_dnc_as_of=(
            await store.consent.national_dnc_as_of()
            if campaign.purpose is Purpose.TELEMARKETING
            else None
        ),
        fallback_timezone=settings.organisation.timezone,
    )


async def start_campaign(
    store: Store, settings: Settings, name: str, *, by: str, at: str | None = None
) -> LifecycleRow:
    """Start now, or schedule for ``at`` (organisation's time zone)."""
    campaign = await store.campaigns.get(name)
    now = store.clock()
    start_at = parse_start_time(at, settings.organisation.timezone, now) if at else None
    # C1, C14, C15: refused now rather than failing unattended later
    check_can_start(await campaign_rules(store, settings, campaign), start_at or now)
    # issue 14: a second operator's approval, when campaigns.approval asks for it
    await require_approval(store, settings, campaign)
    if start_at is None:
        return await store.lifecycle.apply(name, Command.START, by=by)
    return await store.lifecycle.apply(name, Command.SCHEDULE, by=by, start_at=start_at)


async def pause_campaign(store: Store, name: str, *, by: str, reason: str = "") -> LifecycleRow:
    return await store.lifecycle.apply(name, Command.PAUSE, by=by, reason=reason.strip())


async def resume_campaign(store: Store, name: str, *, by: str) -> LifecycleRow:
    return await store.lifecycle.apply(name, Command.RESUME, by=by)


async def cancel_campaign(store: Store, name: str, *, by: str, reason: str) -> LifecycleRow:
    if not by.strip() or not reason.strip():
        raise InputError("cancelling a campaign needs who cancels it and why (--reason)")
    return await store.lifecycle.apply(name, Command.CANCEL, by=by.strip(), reason=reason.strip())


async def begin_foreground_run(store: Store, name: str, *, by: str) -> LifecycleRow:
    """``dialer campaign run``: the campaign is running, in this process."""
    return await store.lifecycle.apply(name, Command.RUN, by=by)


async def complete_campaign(store: Store, name: str, *, by: str) -> LifecycleRow | None:
    """Every contact is done. None when the state moved meanwhile (paused at the end)."""
    current = await store.lifecycle.get(name)
    if current.state is not CampaignState.RUNNING:
        return None
    return await store.lifecycle.apply(name, Command.COMPLETE, by=by)


async def wait_until_not_running(
    store: Store, name: str, stop: asyncio.Event, *, poll: float = STATE_POLL_SECONDS
) -> None:
    """Poll the state; set ``stop`` when it leaves ``running`` (paused, cancelled)."""
    while not stop.is_set():
        if (await store.lifecycle.get(name)).state is not CampaignState.RUNNING:
            stop.set()
            return
        await asyncio.sleep(poll)


async def campaign_status(
    store: Store,
    settings: Settings,
    name: str,
    live: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """State, schedule, who changed it last and why, progress so far, the engine."""
    state = await store.lifecycle.get(name)
    campaign = await store.campaigns.get(name)
    total = await store.lifecycle.contact_count(campaign.version_id)
    outcomes, placed = await store.lifecycle.outcome_counts(campaign.id)
    done = sum(n for outcome, n in outcomes.items() if outcome != "in-progress")
    holder = engine_holder(settings.store.path)
    zone = ZoneInfo(settings.organisation.timezone)
    body: dict[str, Any] = {
        **state.to_json(),
        "start_at_local": (
            state.start_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            if state.start_at
            else None
        ),
        "purpose": campaign.purpose.value,
        "list": campaign.list_name,
        "contacts": total,
        "done": done,
        "calls_placed": placed,
        "outcomes": dict(sorted(outcomes.items())),
        "engine": {"running": holder is not None, "pid": holder},
    }
    if live and name in live:
        body["live"] = live[name]
    return body


async def list_campaigns(store: Store) -> list[dict[str, Any]]:
    purposes = dict(await store.campaigns.names())
    return [
        {**row.to_json(), "purpose": purposes.get(row.name)} for row in await store.lifecycle.all()
    ]
