"""Test call to yourself (issue 14 item 2): hear exactly what a contact would hear.

``dialer campaign test-call NAME --to NUMBER [--as-contact ID] [--voicemail]``
rings a staff phone (``dialer staff-phone add``: never anyone else) with the
message one contact of the campaign would hear: their language, their
personalised fields, the campaign's caller ID, and with ``--voicemail`` the
answering-machine version. It goes the way a real call goes: the campaign's
play plan (``MessagePlanner.plan``), the same Originate (telephony/dialout.py:
the dial string directly, or the dialplan hop) into ``[dialer-answered]``, the FastAGI
``broadcast`` route, and the call's own state machine (``callflow``) deciding
what a key means. ``--voicemail`` sets ``AMDSTATUS=MACHINE`` on the call, so
the dialplan treats the staff phone as an answering machine (it waits for
silence, then plays the voicemail version), exactly as it would after AMD().

What differs is only what the call *does* with a verdict (:class:`TestCall`):

* 9 revokes nothing: the confirmation says it would have stopped the calls
  ("this is a test call: pressing 9 would have stopped these calls. Nothing
  was recorded"); 8 suppresses nothing, likewise;
* the outcome is not an attempt of the campaign (no row, no progress marks,
  nothing counted in reports or the C13 caps); it is an audit entry
  ``test-call`` naming the campaign, the contact, who asked and what happened,
  with the staff number's keyed hash only (C18).

The contact's own number is never used: the call's contact carries the staff
number, so no path could ring, revoke or suppress the contact's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from dataclasses import dataclass

import structlog

from dialer.audio import prompts
from dialer.campaign.attempt import ORIGINATE_GRACE_S
from dialer.campaign.broadcast import CallRegistry, broadcast_route
from dialer.campaign.call import Call
from dialer.campaign.callevents import (
    CallPolicy,
    Interrupt,
    InterruptKind,
    Mark,
    NotSent,
    OriginateResponse,
    OriginateSent,
    RecordOutcome,
    Timeout,
    Timer,
)
from dialer.campaign.messages import MessagePlanner
from dialer.campaign.personal import campaign_template, missing_fields
from dialer.campaign.progress import ProgressWriter
from dialer.consent.model import Purpose
from dialer.errors import AmiNotSentError, InputError, NotFoundError, StaffCallError, TelephonyError
from dialer.masking import mask_number
from dialer.model.campaign import Campaign, PlayPlan
from dialer.model.contact import Contact
from dialer.model.outcome import Outcome
from dialer.recorder.callme import ami_client, staff_number
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.dialout import originate_spec
from dialer.telephony.fastagi import FastAgiServer

log = structlog.get_logger("dialer.testcall")

#: outcomes that mean the staff phone never took the call
_NOT_ANSWERED = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED, Outcome.NOT_PLACED})


class _NoProgress(ProgressWriter):
    """A test call is no campaign call: how far it got is not written anywhere."""

    def mark(self, call_id: str, mark: Mark, value: str = "") -> None:
        return None


class TestCall(Call):
    """A campaign call whose verdicts change nothing: no revocation, no suppression,
    no attempt row. The state machine, the route and the sounds are the real ones."""

    __test__ = False  # not a pytest class, whatever the name says

    record: RecordOutcome | None = None

    async def _suppress(self) -> None:
        self._log.info("test call: 8 pressed; nothing suppressed")

    async def _record(self, record: RecordOutcome) -> None:
        self.record = record


async def _revoke_nothing(call: Call) -> None:
    call._log.info("test call: 9 pressed; nothing revoked")


@dataclass(frozen=True)
class TestCallResult:
    __test__ = False

    campaign: str
    contact: str  # external id
    language: str
    voicemail: bool
    outcome: Outcome
    digits: str
    detail: str
    #: what the call's machine noted (e.g. "answering machine: voicemail version left")
    note: str = ""

    @property
    def summary(self) -> str:
        said = {
            Outcome.OPTED_OUT: "9 was pressed: a real call would have opted out; nothing recorded",
            Outcome.WRONG_NUMBER: (
                "8 was pressed: a real call would have reported a wrong number; nothing recorded"
            ),
            Outcome.COMPLETED: "the message was played",
        }
        return said.get(self.outcome, self.outcome.value)


def choose_contact(
    contacts: list[Contact], campaign: Campaign, as_contact: str, default_language: str
) -> Contact:
    """``--as-contact`` (external id), else the first contact who would hear the whole message."""
    template = campaign_template(campaign.message)
    if as_contact:
        match = next((c for c in contacts if c.external_id == as_contact), None)
        if match is None:
            raise NotFoundError(f"no contact {as_contact!r} in list {campaign.list_name!r}")
        missing = missing_fields(template, match, default_language) if template else ()
        if missing:
            raise InputError(
                f"contact {as_contact!r} has no value for {', '.join(missing)}: they are "
                "blocked from this campaign (template-field-missing) and hear nothing"
            )
        return match
    for contact in contacts:
        if template is None or not missing_fields(template, contact, default_language):
            return contact
    raise InputError(f"campaign {campaign.name!r} has no contact who would hear its message")


def plan_for_test_call(planner: MessagePlanner, plan: PlayPlan) -> PlayPlan:
    """The contact's plan with the test call's answers to 9 and 8 (in their language)."""
    library = planner.context.library

    def sound(name: str) -> str:
        return planner.asterisk_name(library.resolve(name, plan.language).stem)

    return dataclasses.replace(
        plan,
        optout_confirmation=sound(prompts.TEST_CALL_OPTOUT),
        wrong_number_confirmation=sound(prompts.TEST_CALL_WRONG_NUMBER),
    )


async def place_test_call(
    settings: Settings,
    store: Store,
    name: str,
    to: str,
    *,
    operator: str,
    as_contact: str = "",
    voicemail: bool = False,
) -> TestCallResult:
    """Ring the staff phone ``to`` with what a contact of campaign ``name`` would hear.

    Refused before anything is dialled: an unknown campaign or contact, a number
    that is not a staff phone. ``StaffCallError`` when the phone did not answer.
    """
    campaign = await store.campaigns.get(name)
    number = await staff_number(settings, store, to)
    contact = choose_contact(
        await store.contacts.contacts(campaign.list_id),
        campaign,
        as_contact,
        settings.audio.default_language,
    )
    planner = MessagePlanner(settings, store)
    plan = plan_for_test_call(planner, await planner.plan(campaign, contact))
    masked = mask_number(number)
    call_id = uuid.uuid4().hex
    await store.staff.audit(
        "test-call",
        {
            "campaign": campaign.name,
            "contact": contact.external_id,
            "number_hash": store.sealer.index(number),
            "by": operator,
            "voicemail": voicemail,
            "call_id": call_id,
            "outcome": "started",
        },
    )
    registry = CallRegistry()
    server = FastAgiServer({"broadcast": broadcast_route(registry)}, settings.agi.host, 0)
    async with server, ami_client(settings) as ami:
        host = settings.agi.advertise.rsplit(":", 1)[0] or settings.agi.host
        record = await _call(
            settings,
            TestCall(
                call_id,
                campaign,
                # the staff number in the contact's place: nothing can reach theirs
                dataclasses.replace(contact, number=number),
                plan,
                store=store,
                ami=ami,
                progress=_NoProgress(store),
                policy=_policy(settings, campaign, plan),
                revoke=_revoke_nothing,
            ),
            registry,
            agi_url=f"agi://{host}:{server.bound_port}",
            voicemail=voicemail,
        )
    outcome = record.outcome if record else Outcome.FAILED
    result = TestCallResult(
        campaign=campaign.name,
        contact=contact.external_id,
        language=plan.language,
        voicemail=voicemail,
        outcome=outcome,
        digits=record.digits if record else "",
        detail=record.detail if record else "the call ended without a result",
        note=record.note if record else "",
    )
    await store.staff.audit(
        "test-call",
        {
            "campaign": campaign.name,
            "contact": contact.external_id,
            "number_hash": store.sealer.index(number),
            "by": operator,
            "voicemail": voicemail,
            "call_id": call_id,
            "outcome": outcome.value,
            "digits": result.digits,
        },
    )
    log.info("test call ended", outcome=outcome.value, number=masked)
    if outcome in _NOT_ANSWERED:
        raise StaffCallError(
            f"the test call to {masked} was not answered ({outcome.value}: {result.detail})"
        )
    return result


def _policy(settings: Settings, campaign: Campaign, plan: PlayPlan) -> CallPolicy:
    """The policy a real call of this campaign gets (Attempts.policy)."""
    return CallPolicy(
        segments=len(plan.segments),
        voicemail_segments=len(plan.voicemail),
        telemarketing=campaign.purpose is Purpose.TELEMARKETING,
        dial_report=settings.asterisk.dial_via_dialplan,
        originate_wait=settings.asterisk.ring_timeout + ORIGINATE_GRACE_S,
        max_call=float(settings.engine.max_call_seconds),
        segment_kinds=tuple(plan.kinds),
    )


async def _call(
    settings: Settings, call: TestCall, registry: CallRegistry, *, agi_url: str, voicemail: bool
) -> RecordOutcome | None:
    """Originate as ``Attempts.call`` does and wait until the machine is done."""
    asterisk = settings.asterisk
    ami = call.ami
    number = call.contact.number
    registry.add(call)
    events = ami.calls.register(call.call_id)
    events.listener = lambda name, msg: call.on_ami_event(name, msg, events)
    extra = {"DIALER_AMD": "no"}
    if voicemail:
        # what AMD() would have concluded: [dialer-answered] waits for the
        # greeting to end and hands the call over as a machine (voicemail version)
        extra["AMDSTATUS"] = "MACHINE"
    spec = originate_spec(
        asterisk, number=number, call_id=call.call_id, agi_url=agi_url, extra=extra
    )
    try:
        call.feed(OriginateSent())
        try:
            result = await ami.originate(
                call_id=call.call_id,
                channel=spec.channel,
                context=asterisk.answered_context,
                exten="s",
                priority=1,
                caller_id=f'"{settings.organisation.name}" <{call.campaign.caller_id}>',
                variables=spec.variables,
                timeout_s=spec.timeout_s,
            )
        except AmiNotSentError:
            call.feed(NotSent())
        except TelephonyError:
            call.feed(
                Interrupt(InterruptKind.PBX) if not ami.connected else Timeout(Timer.ORIGINATE)
            )
        else:
            call.feed(
                OriginateResponse(
                    answered=result.answered,
                    reason=result.reason,
                    refused=result.response == "Error",
                )
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                call.done.wait(), settings.engine.max_call_seconds + ORIGINATE_GRACE_S + 30
            )
    finally:
        events.listener = None
        ami.calls.unregister(call.call_id)
        registry.remove(call.call_id)
    return call.record
