"""Run one campaign: who is due, paced and bounded; each attempt in attempt.py.

The runner is the thin asyncio shell around the pure pieces: ``scheduler``
decides who is due (and retried), ``attempt.Attempts`` gates and places one
call (whose life is the state machine in ``callflow``). It paces the starts
(``engine.calls_per_second``), bounds the calls in flight
(``engine.max_concurrent``), and stops dialling at once when an attempt fails.

When every Asterisk server is gone, the calls in flight there are told
(``Interrupt``, by the engine) and recorded as ``interrupted-by-pbx``; the run
places no new call and waits ``pbx_wait`` s for a server to come back (None:
as long as it takes, ``dialer serve``), then dials on, the cut calls first.

Stopping (issue 9 item 3): ``stop_dialing`` places no new call and lets the
calls in progress finish; ``hang_up`` (the drain period is over) hangs up the
rest, recorded as ``interrupted-by-shutdown`` and redialled at the next start
unless the callee heard the whole message or pressed 9/8.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections import Counter
from dataclasses import dataclass, field

import structlog

from dialer.audio.templates import Template
from dialer.campaign.approval import require_approval
from dialer.campaign.attempt import (
    AttemptResult,
    Attempts,
    NumberLocks,
    PlanMessage,
    Progress,
)
from dialer.campaign.broadcast import CallRegistry
from dialer.campaign.callevents import Interrupt, InterruptKind
from dialer.campaign.households import PhoneChoice, Sequencer, Skip, plan_households
from dialer.campaign.personal import campaign_template
from dialer.campaign.progress import ProgressWriter
from dialer.campaign.recovery import recover
from dialer.campaign.scheduler import Planned, next_step, plan
from dialer.consent.model import CampaignRules, Reason
from dialer.consent.rules import check_can_start, effective_window
from dialer.consent.windows import next_window_opening, warm_zone_cache
from dialer.errors import TelephonyError
from dialer.model.campaign import AttemptRow, Campaign
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.servers import ServerPool

log = structlog.get_logger("dialer.runner")

#: after Asterisk went away, how long calls in flight get to record their outcome
INTERRUPT_GRACE_S = 10.0
#: a contact whose call never reached Asterisk is tried again in the same run at
#: most this often (then at the next run)
MAX_RESENDS = 3

__all__ = ["CampaignRunner", "PlanMessage", "Progress", "RunSummary"]


@dataclass
class RunSummary:
    campaign: str
    outcomes: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    interrupted_before: int = 0
    placed: int = 0
    seconds: float = 0.0
    #: the run ended because ``stop_dialing`` was set (paused, cancelled, shutdown),
    #: not because every contact was done
    stopped: bool = False


class CampaignRunner:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        servers: ServerPool,
        registry: CallRegistry,
        plan_message: PlanMessage,
        progress: Progress | None = None,
        *,
        wait_for_window: bool = False,
        stop_dialing: asyncio.Event | None = None,
        hang_up: asyncio.Event | None = None,
        pbx_wait: float | None = None,
        writer: ProgressWriter | None = None,
        locks: NumberLocks | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.servers = servers
        self.registry = registry
        self.progress = progress or (lambda _event: None)
        self.writer = writer or ProgressWriter(store)
        self._own_writer = writer is None
        self.attempts = Attempts(
            store, settings, servers, registry, plan_message, self.writer, locks or NumberLocks()
        )
        self._slots = asyncio.Semaphore(settings.engine.max_concurrent)
        self._next_start = 0.0
        #: keep outside-window contacts queued until their window opens (C12)
        self.wait_for_window = wait_for_window
        self._failure: BaseException | None = None
        #: contract 2: set when the campaign is paused or cancelled; no new call is
        #: placed after it is set, calls in progress finish, then ``run`` returns
        self.stop_dialing = stop_dialing or asyncio.Event()
        self.attempts.stop_dialing = self.stop_dialing
        self._resent: Counter[int] = Counter()
        #: issue 9 item 3: the drain period is over; calls still up are hung up
        self.hang_up = hang_up or asyncio.Event()
        #: how long to wait for Asterisk to come back (None: as long as it takes)
        self.pbx_wait = pbx_wait

    async def run(self, name: str) -> RunSummary:
        started = time.monotonic()
        campaign = await self.store.campaigns.get(name)
        base = self._base_rules(campaign)
        rules = await self.attempts.rules(campaign, base)
        check_can_start(rules, self.store.clock())  # C1, C14, C15: refuse to start
        await require_approval(self.store, self.settings, campaign)  # second operator
        template = campaign_template(campaign.message)
        summary = RunSummary(campaign.name)
        # the engine recovered every campaign at its start; this closes what an earlier
        # run of this campaign in the same engine could not (calls given up on when
        # Asterisk went away), so they are not left in flight for ever
        recovered = await recover(self.store, self.servers.hangup_call, campaign_id=campaign.id)
        summary.interrupted_before = recovered.calls
        # issue 12: one call per number (the household), the guardian's phones
        # the campaign's --phones chooses; the others are recorded as covered/skipped
        households = plan_households(
            await self.store.contacts.version_contacts(campaign.version_id),
            PhoneChoice(campaign.phones),
            campaign.purpose.value,
        )
        await self.store.campaigns.record_households(
            campaign.id, households.skipped, first_run=True
        )
        contacts = {lead: h.callee for lead, h in households.households.items()}
        # zones were resolved at import (issue 11); contacts loaded before that
        # have none stored: resolve theirs once, off the loop, before the first dial
        legacy = [c.number for c in contacts.values() if not c.zones]
        if legacy:
            await asyncio.to_thread(warm_zone_cache, legacy, rules.fallback_timezone)
        retry_delay = dt.timedelta(seconds=campaign.retry_delay)
        attempts = await self.store.campaigns.attempts(campaign.id)
        sequencer = Sequencer(households)
        for lead, rows in _by_contact(attempts).items():
            sequencer.record(lead, rows)
        queue: list[Planned] = []
        #: until-reached: retries waiting for the guardian's other phones to be tried
        parked: dict[int, Planned] = {}
        for step in plan(
            contacts,
            attempts,
            max_attempts=campaign.max_attempts,
            retry_delay=retry_delay,
            now=self.store.clock(),
            retry_interrupted=campaign.retry_interrupted,
        ):
            if sequencer.may_dial(step.contact_id):
                queue.append(step)
            elif step.contact_id in sequencer.started:
                parked[step.contact_id] = step
        sequencer.started.update(p.contact_id for p in queue)
        self.progress({"event": "start", "campaign": name, "pending": len(queue)})
        active: set[asyncio.Task[AttemptResult]] = set()
        try:
            while active or (queue and not self.stop_dialing.is_set()):
                if self.hang_up.is_set():
                    break  # _wind_down hangs up what is left
                now = self.store.clock()
                stopping = self.stop_dialing.is_set()
                due = [] if stopping else [p for p in queue if p.due <= now]
                if due and not self.servers.connected:
                    await self._wait_for_pbx(name, len(active))
                    continue
                for item in due:
                    if not sequencer.may_dial(item.contact_id):
                        # until-reached: the guardian's other phones come first (or
                        # the guardian was reached on one of them: then it stays parked)
                        queue.remove(item)
                        parked[item.contact_id] = item
                        continue
                    if not self.servers.connected:
                        break  # the next turn waits for Asterisk
                    if not await self._start_slot():
                        break  # stopped while waiting for a slot
                    if not self._pbx_up():
                        self._slots.release()  # Asterisk went away meanwhile
                        break
                    queue.remove(item)
                    self._raise_if_broken(active)
                    contact = contacts[item.contact_id]
                    task = asyncio.create_task(
                        self._attempt(campaign, base, contact, item, summary, template)
                    )
                    active.add(task)
                    task.add_done_callback(active.discard)
                    task.add_done_callback(
                        functools.partial(
                            self._after,
                            item=item,
                            campaign=campaign,
                            rules=base,
                            contact=contact,
                            queue=queue,
                            retry_delay=retry_delay,
                            sequencer=sequencer,
                            parked=parked,
                        )
                    )
                if not due:
                    wait = (min(p.due for p in queue) - now).total_seconds() if queue else 1.0
                    if active:
                        await asyncio.wait(active, timeout=max(0.05, min(wait, 1.0)))
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(
                                self.stop_dialing.wait(), timeout=max(0.05, min(wait, 5.0))
                            )
                self._raise_if_broken(active)
        finally:
            await self._wind_down(campaign, active)
        elsewhere = sequencer.reached_elsewhere()
        if elsewhere:
            await self.store.campaigns.record_households(
                campaign.id,
                {
                    member: (Skip.REACHED_ELSEWHERE, None)
                    for lead in elsewhere
                    for member in households.households[lead].members
                },
            )
        summary.seconds = time.monotonic() - started
        summary.stopped = self.stop_dialing.is_set() and bool(queue)
        self.progress({"event": "done", "campaign": name, "stopped": summary.stopped})
        return summary

    async def _wind_down(
        self, campaign: Campaign, active: set[asyncio.Task[AttemptResult]]
    ) -> None:
        """Calls still in flight when the run stops: tell them, let them record."""
        if active:
            for call in self.registry.calls():
                if call.campaign.id != campaign.id:
                    continue  # another campaign of the same engine (serve)
                lost = not call.ami.connected
                call.feed(Interrupt(InterruptKind.PBX if lost else InterruptKind.SHUTDOWN))
            _done, pending = await asyncio.wait(active, timeout=INTERRUPT_GRACE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._own_writer:
            await self.writer.close()

    def _pbx_up(self) -> bool:
        """At least one Asterisk server takes calls (a method: it changes under awaits)."""
        return self.servers.connected

    def _raise_if_broken(self, active: set[asyncio.Task[AttemptResult]]) -> None:
        """Stop dialing at once when an attempt failed."""
        if self._failure is not None:
            raise self._failure

    async def _wait_for_pbx(self, name: str, in_flight: int) -> None:
        """No Asterisk server is up: no new call until one is back (or give up)."""
        wait = self.pbx_wait
        log.warning(
            "no Asterisk server is connected; dialling paused until one is back",
            campaign=name,
            calls_in_flight=in_flight,
            waiting_up_to_s=wait,
        )
        self.progress({"event": "pbx-down", "campaign": name})
        started = time.monotonic()
        stop = asyncio.ensure_future(self.stop_dialing.wait())
        back = asyncio.ensure_future(self.servers.wait_connected(wait))
        try:
            await asyncio.wait({stop, back}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stop, back):
                task.cancel()
        if self.servers.connected:
            took = round(time.monotonic() - started, 1)
            log.info("Asterisk is back; dialling again", campaign=name, waited_s=took)
            self.progress({"event": "pbx-up", "campaign": name})
        elif not self.stop_dialing.is_set():
            raise TelephonyError(
                f"lost the AMI connection to Asterisk mid-campaign and it did not come back "
                f"within {wait:g} s (engine.pbx_wait_seconds); stopped dialing (calls cut "
                "short are recorded as interrupted-by-pbx and dialled again by the next run)"
            )

    def _after(
        self,
        task: asyncio.Task[AttemptResult],
        *,
        item: Planned,
        campaign: Campaign,
        rules: CampaignRules,
        contact: Contact,
        queue: list[Planned],
        retry_delay: dt.timedelta,
        sequencer: Sequencer,
        parked: dict[int, Planned],
    ) -> None:
        """Schedule what comes next for this contact: a retry, or the window's opening;
        under until-reached, the guardian's next phone."""
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            # never swallow: the run stops and the error reaches the operator
            self._failure = self._failure or failure
            return
        rows = task.result().rows
        now = self.store.clock()
        sequencer.record(item.contact_id, rows)
        for lead in sequencer.newly_due():
            queue.append(Planned(now, lead, 1))
        for lead in [lead for lead in parked if sequencer.may_dial(lead)]:
            queue.append(parked.pop(lead))
        latest = rows[-1] if rows else None
        if (
            self.wait_for_window
            and latest is not None
            and latest.reason == Reason.OUTSIDE_WINDOW.value
        ):
            start, end = effective_window(rules.purpose, rules.window_start, rules.window_end)
            opening = next_window_opening(
                contact.number, start, end, now, rules.fallback_timezone, contact.zones
            )
            if opening is not None:
                queue.append(Planned(opening, item.contact_id, item.attempt_no))
                self.progress({"event": "deferred", "until": opening.isoformat()})
            return
        step = next_step(
            item.contact_id,
            rows,
            max_attempts=campaign.max_attempts,
            retry_delay=retry_delay,
            now=now,
            retry_interrupted=campaign.retry_interrupted,
        )
        if step is not None and step.attempt_no > item.attempt_no:
            queue.append(step)
        elif (
            step is not None
            and latest is not None
            and latest.outcome is Outcome.NOT_PLACED
            and not self.stop_dialing.is_set()
            and self._resent[item.contact_id] < MAX_RESENDS
        ):
            # nothing reached Asterisk (it went away while this call was gated):
            # dial it in this run once a server is back (the loop waits for one)
            self._resent[item.contact_id] += 1
            queue.append(step)

    async def _start_slot(self) -> bool:
        """Pacing (calls per second) and the concurrency bound; False (no slot held)
        when the run was stopped meanwhile."""
        slot = asyncio.ensure_future(self._slots.acquire())
        stop = asyncio.ensure_future(self.stop_dialing.wait())
        await asyncio.wait({slot, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not slot.done():
            slot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slot
        if self.stop_dialing.is_set():
            if slot.done() and not slot.cancelled():
                self._slots.release()
            return False
        interval = 1.0 / self.settings.engine.calls_per_second
        now = time.monotonic()
        if self._next_start > now:
            await asyncio.sleep(self._next_start - now)
        self._next_start = max(now, self._next_start) + interval
        return True

    def _base_rules(self, campaign: Campaign) -> CampaignRules:
        """The campaign's fixed rules; the facts that can change are read per attempt."""
        return CampaignRules(
            purpose=campaign.purpose,
            window_start=campaign.window_start,
            window_end=campaign.window_end,
            emergency_category=campaign.category,
            authorized_by=campaign.authorized_by,
            residential_exemption=campaign.residential_exemption,
            fallback_timezone=self.settings.organisation.timezone,
        )

    async def _attempt(
        self,
        campaign: Campaign,
        base: CampaignRules,
        contact: Contact,
        item: Planned,
        summary: RunSummary,
        template: Template | None = None,
    ) -> AttemptResult:
        """One gated attempt; its result carries the contact's attempts so far (retries)."""
        try:
            result = await self.attempts.run(
                campaign, base, contact, item.attempt_no, self.progress, template
            )
        finally:
            self._slots.release()
        if result.outcome.value == "blocked":
            summary.blocked[result.decision.reason.value] += 1
        if result.placed:
            summary.placed += 1
        summary.outcomes[result.outcome.value] += 1
        self.progress({"event": "outcome", "outcome": result.outcome.value})
        return result


def _by_contact(attempts: list[AttemptRow]) -> dict[int, list[AttemptRow]]:
    found: dict[int, list[AttemptRow]] = {}
    for attempt in attempts:
        found.setdefault(attempt.contact_id, []).append(attempt)
    return found
