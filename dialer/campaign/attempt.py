"""One dial attempt, from the gate to the recorded outcome (C2, C6, C13, C14, C15).

Order, and why:

1. The number's lock (:class:`NumberLocks`): attempts to one number run one
   at a time in this engine, so a frequency cap (C13) counts every earlier
   call, whatever the calls-per-second setting, and nobody has two live calls
   from us at once (the same number listed six times rings six times in a row,
   at most up to the cap).
2. The personalised message is rendered (a TTS render may take a while)
   *before* the decision of record, so nothing slow sits between the decision
   and the dial. A first gate decision on fresh facts spares blocked contacts
   the rendering.
3. The gate decides on facts read right now: the number's (consent,
   revocations, DNC, suppressions, recent calls) and the campaign's
   (caller-ID allowlist, override, national DNC date; read per attempt, so a
   caller ID removed mid-run stops the next call).
4. The decision is committed *before* the originate: an attempt in flight is
   always on record, whatever happens to the engine.
5. Right before the originate the gate runs again on facts read again (a
   ~30 µs read on the event loop, no store wait): a revocation committed while
   step 4 waited for the store lock blocks the call (C6). Frequency caps are
   not counted again (the attempt just recorded would count against itself;
   the number's lock keeps any other attempt of this engine out meanwhile).
6. The call: a :class:`~dialer.campaign.call.Call` around its state machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from dialer.audio.templates import Template
from dialer.campaign.broadcast import CallRegistry
from dialer.campaign.call import Call
from dialer.campaign.callevents import (
    CallPolicy,
    Interrupt,
    InterruptKind,
    NotSent,
    OriginateResponse,
    OriginateSent,
    Timeout,
    Timer,
)
from dialer.campaign.personal import template_block
from dialer.campaign.progress import ProgressWriter
from dialer.consent.gate import decide
from dialer.consent.model import CampaignRules, Decision, NumberFacts, Purpose
from dialer.errors import AmiNotSentError, TelephonyError
from dialer.model.campaign import AttemptRow, Campaign, PlayPlan
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.dialout import originate_spec
from dialer.telephony.outcomes import BAD_NUMBER_CAUSES
from dialer.telephony.servers import ServerPool

log = structlog.get_logger("dialer.attempt")

#: Asterisk's OriginateResponse comes back only after answer or failure; allow
#: ring time plus this much before we declare the call lost.
ORIGINATE_GRACE_S = 15.0
#: C16: this many unallocated-number results (any campaign) suppress the number
REPEATED_BAD_NUMBER = 2

PlanMessage = Callable[[Campaign, Contact], Awaitable[PlayPlan]]
Progress = Callable[[dict[str, Any]], None]


class NumberLocks:
    """One lock per number, held for a whole attempt (gate, record, call)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, number: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(number, (asyncio.Lock(), 0))
        self._locks[number] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[number]
            if users <= 1:
                del self._locks[number]
            else:
                self._locks[number] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclasses.dataclass(frozen=True)
class Gated:
    """A gate decision with the facts and rules it was made on."""

    decision: Decision
    facts: NumberFacts
    rules: CampaignRules


@dataclasses.dataclass
class AttemptResult:
    outcome: Outcome
    decision: Decision
    placed: bool
    rows: list[AttemptRow]


class Attempts:
    """Carries out attempts for one engine (shared by every campaign it runs)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        servers: ServerPool,
        registry: CallRegistry,
        plan_message: PlanMessage,
        progress: ProgressWriter,
        locks: NumberLocks,
    ) -> None:
        self.store = store
        self.settings = settings
        self.servers = servers
        #: set when the run stops (pause, cancel, shutdown): an attempt still being
        #: gated then sends nothing (issue 9: "stop placing calls at once")
        self.stop_dialing: asyncio.Event | None = None
        self.registry = registry
        self.plan_message = plan_message
        self.progress = progress
        self.locks = locks

    async def rules(self, campaign: Campaign, base: CampaignRules) -> CampaignRules:
        """The campaign's rules with the facts that can change mid-run read now (C14, C6, C15)."""
        facts = await self.store.campaigns.dial_facts(campaign)
        return dataclasses.replace(
            base,
            caller_id_allowed=facts.caller_id_allowed,
            revocation_override=facts.override_by is not None,
            national_dnc_as_of=(
                facts.national_dnc_as_of if campaign.purpose is Purpose.TELEMARKETING else None
            ),
        )

    async def decide_now(
        self,
        campaign: Campaign,
        base: CampaignRules,
        contact: Contact,
        template: Template | None = None,
        *,
        caps: bool = True,
    ) -> Gated:
        rules = await self.rules(campaign, base)
        if not caps:
            rules = dataclasses.replace(rules, caps=())
        facts = await self.store.consent.facts_for(contact.number)
        # the zones stored with the contact at import (issue 11: none resolved here)
        decision = decide(contact.number, facts, rules, self.store.clock(), contact.zones)
        if decision.allowed and template is not None:
            # issue 14: a contact missing a template field never hears a gap
            default = self.settings.audio.default_language
            decision = template_block(template, contact, default) or decision
        return Gated(decision, facts, rules)

    async def run(
        self,
        campaign: Campaign,
        base: CampaignRules,
        contact: Contact,
        attempt_no: int,
        progress: Progress,
        template: Template | None = None,
    ) -> AttemptResult:
        call_id = uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(campaign=campaign.name, call_id=call_id)
        try:
            async with self.locks.hold(contact.number):
                return await self._run(
                    call_id, campaign, base, contact, attempt_no, progress, template
                )
        finally:
            structlog.contextvars.unbind_contextvars("campaign", "call_id")

    async def _run(
        self,
        call_id: str,
        campaign: Campaign,
        base: CampaignRules,
        contact: Contact,
        attempt_no: int,
        progress: Progress,
        template: Template | None,
    ) -> AttemptResult:
        gated = await self.decide_now(campaign, base, contact, template)
        plan: PlayPlan | None = None
        if gated.decision.allowed:
            plan = await self.plan_message(campaign, contact)
            # the decision of record
            gated = await self.decide_now(campaign, base, contact, template)
        decision = gated.decision
        await self.store.campaigns.record_decision(
            call_id=call_id,
            campaign=campaign,
            contact_id=contact.id,
            number=contact.number,
            attempt_no=attempt_no,
            decision=decision,
            with_consent=decision.with_consent,
            language=plan.language if plan else contact.language,
            facts=gated.facts,  # kept with the attempt for the C20 report
            rules=gated.rules,
        )
        if decision.allowed and plan is not None:
            # step 5: the last look, with no store wait between it and the originate.
            # Caps were counted under this number's lock; the attempt just recorded
            # would count against itself, so the last look leaves them out (C13).
            again = await self.decide_now(campaign, base, contact, template, caps=False)
            last = again.decision
            if not last.allowed:
                await self.store.campaigns.block_before_dial(
                    call_id, campaign, contact.number, last, again.facts, again.rules
                )
                log.info("blocked right before the dial", reason=last.reason.value)
                decision = last
        if not decision.allowed or plan is None:
            log.info("blocked by gate", reason=decision.reason.value, detail=decision.detail)
            progress({"event": "blocked", "reason": decision.reason.value})
            outcome, placed = Outcome.BLOCKED, False
        else:
            progress({"event": "dialing"})
            outcome = await self.call(call_id, campaign, contact, plan)
            placed = outcome is not Outcome.NOT_PLACED
        rows = await self.store.campaigns.contact_attempts(campaign.id, contact.id)
        return AttemptResult(outcome, decision, placed, rows)

    def policy(
        self, campaign: Campaign, plan: PlayPlan, *, via_dialplan: bool | None = None
    ) -> CallPolicy:
        engine = self.settings.engine
        if via_dialplan is None:
            via_dialplan = self.settings.asterisk.dial_via_dialplan
        ring = self.settings.asterisk.ring_timeout
        return CallPolicy(
            segments=len(plan.segments),
            voicemail_segments=len(plan.voicemail),
            telemarketing=campaign.purpose is Purpose.TELEMARKETING,
            # a direct originate has no DialerDial report (telephony/dialout.py)
            dial_report=via_dialplan,
            originate_wait=ring + ORIGINATE_GRACE_S,
            max_call=float(engine.max_call_seconds),
            segment_kinds=tuple(plan.kinds),
        )

    async def call(
        self, call_id: str, campaign: Campaign, contact: Contact, plan: PlayPlan
    ) -> Outcome:
        """Place one call and return its outcome once it is recorded."""
        # the server with the most free channels (issue 9 item 5); none connected, or
        # the run stopped meanwhile: nothing is sent, the contact is dialled again
        stopped = self.stop_dialing is not None and self.stop_dialing.is_set()
        link = None if stopped else await self.servers.claim()
        ami = link.ami if link is not None else self.servers.links[0].ami
        # the server's own dial string and path (keys it leaves out are [asterisk]'s)
        server = link.server if link is not None else self.settings.asterisk_servers[0]
        asterisk = dataclasses.replace(
            self.settings.asterisk,
            dial_string=server.dial_string,
            dial_via_dialplan=server.dial_via_dialplan,
        )
        call = Call(
            call_id,
            campaign,
            contact,
            plan,
            store=self.store,
            ami=ami,
            progress=self.progress,
            policy=self.policy(campaign, plan, via_dialplan=asterisk.dial_via_dialplan),
        )
        self.registry.add(call)
        events = ami.calls.register(call_id)
        events.listener = lambda name, msg: call.on_ami_event(name, msg, events)
        try:
            if link is None:
                why = "the run stopped" if stopped else "no Asterisk server is connected"
                log.warning("originate not sent", reason=why)
                call.feed(NotSent(f"not sent: {why}"))
                await call.done.wait()
                return call.outcome or Outcome.FAILED
            spec = originate_spec(
                asterisk,
                number=contact.number,
                call_id=call_id,
                agi_url=self.settings.agi_url,
                extra={
                    "DIALER_AMD": (
                        "yes" if self.settings.engine.answering_machine_detection else "no"
                    )
                },
            )
            call.feed(OriginateSent())
            try:
                result = await ami.originate(
                    call_id=call_id,
                    channel=spec.channel,
                    context=asterisk.answered_context,
                    exten="s",
                    priority=1,
                    caller_id=f'"{self.settings.organisation.name}" <{campaign.caller_id}>',
                    variables=spec.variables,
                    timeout_s=spec.timeout_s,
                )
            except AmiNotSentError as exc:
                # nothing reached Asterisk: nobody was called, dial again next run
                log.warning("originate not sent", error=str(exc))
                call.feed(NotSent())
            except TelephonyError as exc:
                log.warning("originate got no answer", error=str(exc))
                lost = not ami.connected
                call.feed(Interrupt(InterruptKind.PBX) if lost else Timeout(Timer.ORIGINATE))
            else:
                call.feed(
                    OriginateResponse(
                        answered=result.answered,
                        reason=result.reason,
                        refused=result.response == "Error",
                    )
                )
            await call.done.wait()
        finally:
            events.listener = None
            ami.calls.unregister(call_id)
            self.registry.remove(call_id)
            if link is not None:
                self.servers.release(link)
        outcome = call.outcome or Outcome.FAILED
        if call.flow.cause in BAD_NUMBER_CAUSES:
            await self._suppress_repeated_bad_number(contact, call_id)
        return outcome

    async def _suppress_repeated_bad_number(self, contact: Contact, call_id: str) -> None:
        """C16: a repeated unallocated-number result suppresses the number for review."""
        count = await self.store.campaigns.bad_number_results(contact.number, BAD_NUMBER_CAUSES)
        if count >= REPEATED_BAD_NUMBER:
            await self.store.consent.suppress_wrong_party(contact.number, call_id)
            log.info("number suppressed for staff review", reason="unallocated", results=count)
