"""Run one campaign: gate → record → originate → outcome, paced and bounded.

The runner is the thin asyncio shell around the pure pieces: ``scheduler``
decides who is due, ``gate.decide`` decides whether a call is allowed (C2),
``outcomes.classify_call`` maps what Asterisk said. Order per attempt:

1. read the number's facts from the store and decide, right now (C2, C6);
2. commit the attempt row with the decision (blocked ones are audited, C19);
3. only then send the originate (so a crash can never lose a placed call:
   the next run marks it ``interrupted`` and never dials it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from dialer.audio.templates import Template
from dialer.campaign.approval import require_approval
from dialer.campaign.broadcast import CallContext, CallRegistry, PlayPlan
from dialer.campaign.control import campaign_rules
from dialer.campaign.personal import campaign_template, template_block
from dialer.campaign.scheduler import Planned, next_step, plan
from dialer.consent.gate import decide
from dialer.consent.model import CampaignRules, Reason, RevocationChannel
from dialer.consent.rules import check_can_start, effective_window
from dialer.consent.windows import next_window_opening, warm_zone_cache
from dialer.errors import AmiNotSentError, TelephonyError
from dialer.model.campaign import AttemptRow, Campaign
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.ami import AmiClient
from dialer.telephony.outcomes import BAD_NUMBER_CAUSES, classify_call

log = structlog.get_logger("dialer.runner")

#: Asterisk's OriginateResponse comes back only after answer or failure; allow
#: ring time plus this much before we declare the call lost.
ORIGINATE_GRACE_S = 15.0
#: after a failed originate, how long to wait for the dialplan's DialerDial event
DIAL_EVENT_WAIT_S = 2.0

#: verdicts the callee gave on the keypad: kept whatever happens to the line afterwards
_KEYPAD_VERDICTS = frozenset({Outcome.OPTED_OUT, Outcome.WRONG_NUMBER})

#: C16: this many unallocated-number results (any campaign) suppress the number
REPEATED_BAD_NUMBER = 2

PlanMessage = Callable[[Campaign, Contact], Awaitable[PlayPlan]]
Progress = Callable[[dict[str, Any]], None]


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
        ami: AmiClient,
        registry: CallRegistry,
        plan_message: PlanMessage,
        progress: Progress | None = None,
        *,
        wait_for_window: bool = False,
        stop_dialing: asyncio.Event | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.ami = ami
        self.registry = registry
        self.plan_message = plan_message
        self.progress = progress or (lambda _event: None)
        self._slots = asyncio.Semaphore(settings.engine.max_concurrent)
        self._next_start = 0.0
        #: keep outside-window contacts queued until their window opens (C12)
        self.wait_for_window = wait_for_window
        self._failure: BaseException | None = None
        #: contract 2: set when the campaign is paused or cancelled; no new call is
        #: placed after it is set, calls in progress finish, then ``run`` returns
        self.stop_dialing = stop_dialing or asyncio.Event()

    async def run(self, name: str) -> RunSummary:
        started = time.monotonic()
        campaign = await self.store.campaigns.get(name)
        rules = await self._rules(campaign)
        check_can_start(rules, self.store.clock())  # C1, C14, C15: refuse to start
        await require_approval(self.store, self.settings, campaign)  # second operator
        template = campaign_template(campaign.message)
        summary = RunSummary(campaign.name)
        summary.interrupted_before = await self.store.campaigns.interrupt_unfinished(campaign.id)
        contacts = {c.id: c for c in await self.store.contacts.contacts(campaign.list_id)}
        # resolve every callee's time zones once, off the loop, before the first dial:
        # the gate right before each attempt then runs at its cached speed (C12)
        await asyncio.to_thread(
            warm_zone_cache, [c.number for c in contacts.values()], rules.fallback_timezone
        )
        retry_delay = dt.timedelta(seconds=campaign.retry_delay)
        queue = plan(
            contacts,
            await self.store.campaigns.attempts(campaign.id),
            max_attempts=campaign.max_attempts,
            retry_delay=retry_delay,
            now=self.store.clock(),
        )
        self.progress({"event": "start", "campaign": name, "pending": len(queue)})
        active: set[asyncio.Task[list[AttemptRow]]] = set()
        try:
            while active or (queue and not self.stop_dialing.is_set()):
                now = self.store.clock()
                stopping = self.stop_dialing.is_set()
                due = [] if stopping else [p for p in queue if p.due <= now]
                for item in due:
                    await self._start_slot()
                    if self.stop_dialing.is_set():
                        self._slots.release()  # stopped while waiting for a slot
                        break
                    queue.remove(item)
                    self._raise_if_broken(active)
                    task = asyncio.create_task(
                        self._attempt(
                            campaign, rules, contacts[item.contact_id], item, summary, template
                        )
                    )
                    active.add(task)
                    task.add_done_callback(active.discard)
                    task.add_done_callback(
                        functools.partial(
                            self._after,
                            item=item,
                            campaign=campaign,
                            rules=rules,
                            contact=contacts[item.contact_id],
                            queue=queue,
                            retry_delay=retry_delay,
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
            for task in active:
                task.cancel()
            if active:
                await asyncio.gather(*active, return_exceptions=True)
        summary.seconds = time.monotonic() - started
        summary.stopped = self.stop_dialing.is_set() and bool(queue)
        self.progress({"event": "done", "campaign": name, "stopped": summary.stopped})
        return summary

    def _raise_if_broken(self, active: set[asyncio.Task[list[AttemptRow]]]) -> None:
        """Stop dialing at once when an attempt failed or Asterisk went away."""
        if self._failure is not None:
            raise self._failure
        if not self.ami.connected:
            raise TelephonyError(
                "lost the AMI connection to Asterisk mid-campaign; stopped dialing "
                f"({len(active)} calls in progress are marked interrupted on the next run)"
            )

    def _after(
        self,
        task: asyncio.Task[list[AttemptRow]],
        *,
        item: Planned,
        campaign: Campaign,
        rules: CampaignRules,
        contact: Contact,
        queue: list[Planned],
        retry_delay: dt.timedelta,
    ) -> None:
        """Schedule what comes next for this contact: a retry, or the window's opening."""
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            # never swallow: the run stops and the error reaches the operator
            self._failure = self._failure or failure
            return
        rows = task.result()
        now = self.store.clock()
        latest = rows[-1] if rows else None
        if (
            self.wait_for_window
            and latest is not None
            and latest.reason == Reason.OUTSIDE_WINDOW.value
        ):
            start, end = effective_window(rules.purpose, rules.window_start, rules.window_end)
            opening = next_window_opening(contact.number, start, end, now, rules.fallback_timezone)
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
        )
        if step is not None and step.attempt_no > item.attempt_no:
            queue.append(step)

    async def _start_slot(self) -> None:
        """Pacing (calls per second) and the concurrency bound."""
        await self._slots.acquire()
        interval = 1.0 / self.settings.engine.calls_per_second
        now = time.monotonic()
        if self._next_start > now:
            await asyncio.sleep(self._next_start - now)
        self._next_start = max(now, self._next_start) + interval

    async def _rules(self, campaign: Campaign) -> CampaignRules:
        return await campaign_rules(self.store, self.settings, campaign)

    async def _attempt(
        self,
        campaign: Campaign,
        rules: CampaignRules,
        contact: Contact,
        item: Planned,
        summary: RunSummary,
        template: Template | None = None,
    ) -> list[AttemptRow]:
        """One gated attempt; returns the contact's attempts so far (for retries)."""
        call_id = uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(campaign=campaign.name, call_id=call_id)
        try:
            # C2: the gate decides right before this attempt, on fresh facts
            facts = await self.store.consent.facts_for(contact.number)
            decision = decide(contact.number, facts, rules, self.store.clock())
            if decision.allowed and template is not None:
                # issue 14: a contact missing a template field never hears a gap
                default = self.settings.audio.default_language
                decision = template_block(template, contact, default) or decision
            plan_ = await self.plan_message(campaign, contact) if decision.allowed else None
            await self.store.campaigns.record_decision(
                call_id=call_id,
                campaign=campaign,
                contact_id=contact.id,
                number=contact.number,
                attempt_no=item.attempt_no,
                decision=decision,
                with_consent=decision.with_consent,
                language=plan_.language if plan_ else contact.language,
            )
            if not decision.allowed or plan_ is None:
                summary.blocked[decision.reason.value] += 1
                log.info("blocked by gate", reason=decision.reason.value, detail=decision.detail)
                self.progress({"event": "blocked", "reason": decision.reason.value})
                outcome = Outcome.BLOCKED
            else:
                self.progress({"event": "dialing"})
                outcome = await self._call(campaign, contact, call_id, plan_)
                if outcome is not Outcome.NOT_PLACED:
                    summary.placed += 1
            summary.outcomes[outcome.value] += 1
            self.progress({"event": "outcome", "outcome": outcome.value})
            return await self.store.campaigns.contact_attempts(campaign.id, contact.id)
        finally:
            self._slots.release()
            structlog.contextvars.unbind_contextvars("campaign", "call_id")

    async def _suppress_repeated_bad_number(self, contact: Contact, call_id: str) -> None:
        """C16: a repeated unallocated-number result suppresses the number for review."""
        count = await self.store.campaigns.bad_number_results(contact.number, BAD_NUMBER_CAUSES)
        if count >= REPEATED_BAD_NUMBER:
            await self.store.consent.suppress_wrong_party(contact.number, call_id)
            log.info("number suppressed for staff review", reason="unallocated", results=count)

    async def _call(
        self, campaign: Campaign, contact: Contact, call_id: str, plan_: PlayPlan
    ) -> Outcome:
        asterisk = self.settings.asterisk
        context = CallContext(call_id, campaign, contact, plan_)
        context.notes.extend(f"language fallback {f}" for f in plan_.fallbacks)
        self.registry.add(context)
        events = self.ami.calls.register(call_id)
        context.ami_digits = lambda: events.digits
        try:
            dial = asterisk.dial_string.format(
                e164=contact.number, digits=contact.number.lstrip("+")
            )
            ring = asterisk.ring_timeout
            try:
                result = await asyncio.wait_for(
                    self.ami.originate(
                        call_id=call_id,
                        channel=f"Local/dial@{asterisk.originate_context}",
                        context=asterisk.answered_context,
                        exten="s",
                        priority=1,
                        caller_id=f'"{self.settings.organisation.name}" <{campaign.caller_id}>',
                        variables={
                            "__CALL_ID": call_id,
                            "__DIALER_DIAL": dial,
                            "__DIALER_RING": str(ring),
                            "__DIALER_AGI": self.settings.agi_url,
                            "DIALER_AMD": (
                                "yes" if self.settings.engine.answering_machine_detection else "no"
                            ),
                        },
                        timeout_s=ring + 5,
                    ),
                    timeout=ring + ORIGINATE_GRACE_S,
                )
                reason = result.reason
            except AmiNotSentError as exc:
                # nothing reached Asterisk: nobody was called, dial again next run
                log.warning("originate not sent", error=str(exc))
                await self.store.campaigns.finish(
                    call_id, Outcome.NOT_PLACED, note="not sent: Asterisk unreachable"
                )
                return Outcome.NOT_PLACED
            except (TimeoutError, TelephonyError) as exc:
                log.warning("originate got no answer", error=str(exc))
                reason = None
            if context.answered or reason == 4:
                try:
                    await asyncio.wait_for(
                        events.finished.wait(), timeout=self.settings.engine.max_call_seconds
                    )
                except TimeoutError:
                    context.notes.append("call exceeded max_call_seconds")
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(events.dial_reported.wait(), timeout=DIAL_EVENT_WAIT_S)
            if context.outcome is None and context.answered and "9" in events.digits:
                # C10: the 9 reached Asterisk but the call ended before the route saw
                # it; it is still an opt-out, committed now
                await self.store.revoke_durably(
                    contact.number,
                    RevocationChannel.KEYPAD,
                    source_ref=call_id,
                    recorded_by="keypad",
                )
                context.outcome = Outcome.OPTED_OUT
                context.notes.append("9 seen by AMI after the message")
            verdict = classify_call(
                reason=reason,
                dial_status=events.dial_status,
                cause=events.hangup_cause(),
                agi_ran=context.answered,
                digits=context.digits + events.digits,
                route_outcome=context.outcome,
            )
            outcome = Outcome(verdict.outcome.value)
            if not self.ami.connected and context.outcome not in _KEYPAD_VERDICTS:
                # Asterisk went away during the call: what the callee heard is unknown
                outcome = Outcome.INTERRUPTED
                context.notes.append("lost the AMI connection during the call")
            cause = events.hangup_cause()
            await self.store.campaigns.finish(
                call_id,
                outcome,
                ami_reason=reason,
                dial_status=events.dial_status,
                hangup_cause=cause,
                digits=context.digits or events.digits,
                note="; ".join([verdict.detail, *context.notes]),
            )
            if cause in BAD_NUMBER_CAUSES:
                await self._suppress_repeated_bad_number(contact, call_id)
            return outcome
        finally:
            self.ami.calls.unregister(call_id)
            self.registry.remove(call_id)
