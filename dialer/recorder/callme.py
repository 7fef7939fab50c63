"""``dialer recordings record NAME --call-me NUMBER``: Asterisk rings a staff phone to record.

Only a staff phone (``dialer staff-phone add``) can be called, so the feature
never rings a stranger. This command runs its own small FastAGI server on a
free port (a running ``dialer serve`` keeps the configured one) and tells
Asterisk where it is through the call's ``DIALER_AGI`` variable; the call
takes the campaigns' outbound path (telephony/dialout.py: the dial string
directly, or the dialplan hop) and, once answered, ``[dialer-record]``'s
``callback`` extension. Why a phone did not answer comes from what Asterisk
said (telephony/outcomes.py).

A call that is not answered, or that ends before the caller pressed 1, saves
nothing and raises ``StaffCallError`` with the reason; every call is audited
(``phone-recording``), with the number's keyed hash only (C18).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import structlog

from dialer.errors import InputError, StaffCallError
from dialer.masking import mask_number
from dialer.numbers import normalise
from dialer.recorder.flow import Outcome, RecordResult
from dialer.recorder.route import CallMeRequest, Recorder, record_route
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.telephony.ami import AmiClient, OriginateResult
from dialer.telephony.dialout import originate_spec
from dialer.telephony.fastagi import FastAgiServer
from dialer.telephony.outcomes import DialResult, classify_dial
from dialer.usecases.recordings import check_name, recording_language

log = structlog.get_logger("dialer.recorder")

RECORD_CONTEXT = "dialer-record"
CALLBACK_EXTEN = "callback"
#: the longest a recording call may last once answered (takes, playbacks, menus)
MAX_CALL_SECONDS = 20 * 60
#: after the phone hung up, how long the route may take to finish its last step
ROUTE_GRACE_SECONDS = 10.0

#: what staff read when the phone did not answer (telephony/outcomes.py)
_WHY = {
    DialResult.BUSY: "busy",
    DialResult.REJECTED: "busy",
    DialResult.NO_ANSWER: "not answered",
    DialResult.CANCELLED: "hung up before answering",
    DialResult.CONGESTION: "not reachable (CONGESTION)",
    DialResult.UNAVAILABLE: "not reachable (CHANUNAVAIL)",
    DialResult.UNALLOCATED: "not reachable (not a working number)",
}


def ami_client(settings: Settings) -> AmiClient:
    a = settings.asterisk
    return AmiClient(
        a.ami_host,
        a.ami_port,
        a.ami_user,
        settings.ami_secret(),
        connect_timeout=a.connect_timeout,
        action_timeout=a.action_timeout,
    )


async def staff_number(settings: Settings, store: Store, text: str) -> str:
    """The E.164 number, if it is on the staff-phone allowlist; InputError otherwise."""
    number = normalise(text, settings.organisation.default_region)
    if await store.staff.phone(number) is None:
        raise InputError(
            f"{mask_number(number)} is not a staff phone: only staff phones can be called "
            "('dialer staff-phone add NUMBER --label ...')",
            field="number",
        )
    return number


def caller_id(settings: Settings) -> str:
    org = settings.organisation
    return f'"{org.name}" <{org.callback_number or "dialer"}>'


async def record_by_phone(
    settings: Settings,
    store: Store,
    name: str,
    number_text: str,
    language: str,
    operator: str,
) -> RecordResult:
    """Ring the staff phone, run the recording flow, return what was saved.

    Raises ``InputError`` before dialling (bad name, not a staff phone) and
    ``StaffCallError`` when the call ended without a kept recording.
    """
    check_name(name)
    lang = recording_language(language)
    number = await staff_number(settings, store, number_text)
    masked = mask_number(number)
    recorder = Recorder(settings, store)
    server = FastAgiServer({"record": record_route(recorder)}, settings.agi.host, 0)
    call_id = uuid.uuid4().hex
    request = CallMeRequest(name, lang, operator)
    recorder.pending[call_id] = request
    async with server, ami_client(settings) as ami:
        host = settings.agi.advertise.rsplit(":", 1)[0] or settings.agi.host
        agi_url = f"agi://{host}:{server.bound_port}"
        spec = originate_spec(settings.asterisk, number=number, call_id=call_id, agi_url=agi_url)
        log.info("calling staff phone to record", number=masked, recording=name)
        try:
            answer = await ami.originate(
                call_id,
                spec.channel,
                RECORD_CONTEXT,
                CALLBACK_EXTEN,
                1,
                caller_id(settings),
                spec.variables,
                timeout_s=spec.timeout_s,
            )
            if not answer.answered:
                why = await _why_not_answered(ami, call_id, answer)
                await _audit(store, operator, number, name, f"not answered: {why}", None)
                raise StaffCallError(f"the call to {masked} was {why}; nothing was recorded")
            result = await _wait_for_result(ami, call_id, request)
        finally:
            ami.calls.unregister(call_id)
    await _audit(store, operator, number, name, result.outcome.value, result)
    if result.outcome is not Outcome.SAVED:
        raise StaffCallError(_explain(result, masked))
    return result


async def _why_not_answered(ami: AmiClient, call_id: str, answer: OriginateResult) -> str:
    """Why the phone did not answer, from the dial report (hop) or the channel's
    hangup cause (direct), with the OriginateResponse ``Reason`` last."""
    events = ami.calls.get(call_id)
    status, cause = None, None
    if events is not None:
        # the hop's DialerDial report, or the direct channel's Hangup: whichever comes
        waits = [asyncio.ensure_future(events.dial_reported.wait())]
        waits.append(asyncio.ensure_future(events.finished.wait()))
        await asyncio.wait(waits, timeout=3.0, return_when="FIRST_COMPLETED")
        for wait in waits:
            wait.cancel()
        status, cause = events.dial_status, events.hangup_cause()
    result = classify_dial(reason=answer.reason, dial_status=status, cause=cause)
    return _WHY.get(result, f"not answered ({answer.response})")


async def _wait_for_result(ami: AmiClient, call_id: str, request: CallMeRequest) -> RecordResult:
    events = ami.calls.get(call_id)
    ended: asyncio.Future[object] = asyncio.ensure_future(
        events.finished.wait() if events is not None else asyncio.sleep(MAX_CALL_SECONDS)
    )
    waiting: set[asyncio.Future[object]] = {ended, request.result}  # type: ignore[arg-type]
    try:
        await asyncio.wait(waiting, timeout=MAX_CALL_SECONDS, return_when="FIRST_COMPLETED")
        if not request.result.done():
            # the phone hung up: the route notices at its next command
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(request.result), ROUTE_GRACE_SECONDS)
        if request.result.done():
            return request.result.result()
        return RecordResult(Outcome.HUNG_UP, detail="the call ended before recording began")
    finally:
        ended.cancel()
        if not request.result.done():
            request.result.cancel()
        if events is not None and not events.finished.is_set():
            with contextlib.suppress(Exception):
                await ami.hangup_call(call_id)


def _explain(result: RecordResult, masked: str) -> str:
    refused = f" (refused: {'; '.join(result.refusals)})" if result.refusals else ""
    what = {
        Outcome.CANCELLED: "the recording was cancelled on the phone (3)",
        Outcome.HUNG_UP: f"the call to {masked} ended before a recording was kept",
        Outcome.NO_ANSWER_TO_MENU: "no choice (1 keep, 2 again, 3 cancel) was made on the phone",
        Outcome.GAVE_UP: f"{result.takes} takes were recorded but none was kept",
        Outcome.FAILED: f"the recording failed: {result.detail}",
    }.get(result.outcome, result.outcome.value)
    return f"{what}{refused}; nothing was saved"


async def _audit(
    store: Store,
    operator: str,
    number: str,
    name: str,
    outcome: str,
    result: RecordResult | None,
) -> None:
    saved = result.saved if result else None
    await store.staff.audit(
        "phone-recording",
        {
            "line": "call-me",
            "by": operator,
            "number_hash": store.sealer.index(number),
            "recording": name,
            "outcome": outcome,
            "version": saved.version if saved else None,
            "takes": result.takes if result else 0,
        },
    )
