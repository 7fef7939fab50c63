"""Creating a campaign (C1, C8-C12, C14) and the emergency override (C6)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dialer.campaign.households import PhoneChoice
from dialer.campaign.messages import MessagePlanner
from dialer.consent.model import EmergencyCategory, Purpose
from dialer.consent.rules import default_window, effective_window, validate_campaign
from dialer.errors import DialerError, InputError
from dialer.model.campaign import Campaign, MessageSpec, NewCampaign
from dialer.model.contact import ListVersion
from dialer.numbers import normalise
from dialer.settings import Settings
from dialer.store.store import Store

#: the form field each rule's refusal belongs to (validate_campaign's messages
#: start with the C-number they enforce)
_FIELD_OF_RULE = {
    "C1": "category",
    "C6": "purpose",
    "C12": "window",
    "C13": "residential_exemption",
    "C14": "caller_id",
    "C15": "purpose",
}


@dataclass(frozen=True)
class CampaignRequest:
    """What ``dialer campaign create`` and the console's form ask for."""

    name: str
    purpose: Purpose
    list_name: str
    message: str  # recording name, or template:NAME
    caller_id: str  # as typed
    identification: str = ""
    category: EmergencyCategory | None = None
    authorized_by: str = ""
    window: str = ""  # "09:00-18:00" or empty
    max_attempts: int = 0  # 0: settings' default
    retry_delay: int = -1  # -1: settings' default
    residential_exemption: bool = False
    #: issue 13: calls cut short after the answer are dialled again this many times
    retry_interrupted: int = 1
    #: issue 12: which of a guardian's phones are called (primary, all, until-reached)
    phones: str = "primary"


#: --retry-interrupted takes 0, 1 or 2 (more would ring a family again and again)
RETRY_INTERRUPTED_CHOICES = (0, 1, 2)


def check_retry_interrupted(times: int) -> int:
    if times not in RETRY_INTERRUPTED_CHOICES:
        raise InputError(
            f"--retry-interrupted must be 0, 1 or 2 (got {times})", field="retry_interrupted"
        )
    return times


def parse_window(text: str) -> tuple[dt.time, dt.time] | None:
    if not text:
        return None
    try:
        start, end = text.split("-", 1)
        return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    except ValueError as exc:
        raise InputError(f"--window {text!r} must look like 08:30-17:00", field="window") from exc


def _rule_field(exc: DialerError) -> str | None:
    rule = str(exc).split(":", 1)[0]
    if rule == "C1" and "authorized" in str(exc):
        return "authorized_by"
    return _FIELD_OF_RULE.get(rule)


class _Problems:
    """Collects every independent problem of a request, each tagged with its field."""

    def __init__(self) -> None:
        self.found: list[DialerError] = []

    def add(self, exc: DialerError, field: str | None) -> None:
        if exc.field is None:
            exc.field = field
        self.found.append(exc)

    def raise_first(self) -> None:
        """The first problem is what the CLI prints; the form shows them all."""
        if self.found:
            first = self.found[0]
            first.also = tuple(self.found[1:])
            raise first


async def create_campaign(
    settings: Settings, store: Store, request: CampaignRequest, operator: str
) -> Campaign:
    """Check every rule and create the campaign, or refuse with the rule's message
    (nothing is written when anything is refused)."""
    problems = _Problems()
    caller = ""
    try:
        caller = normalise(request.caller_id, settings.organisation.default_region)
    except DialerError as exc:
        problems.add(exc, "caller_id")
    narrowed: tuple[dt.time, dt.time] | None = None
    try:
        narrowed = parse_window(request.window)
    except DialerError as exc:
        problems.add(exc, "window")
    try:
        validate_campaign(
            request.purpose,
            request.category,
            request.authorized_by or None,
            narrowed[0] if narrowed else None,
            narrowed[1] if narrowed else None,
            caller_id_allowed=not caller or await store.consent.caller_id_allowed(caller),
            residential_exemption=request.residential_exemption,
        )
    except DialerError as exc:
        problems.add(exc, _rule_field(exc))
    version: ListVersion | None = None
    try:
        if not request.list_name.strip():
            raise InputError("choose the contact list to call (--list)", field="list")
        version = await store.contacts.published(request.list_name)
    except DialerError as exc:
        problems.add(exc, "list")
    attempts = request.max_attempts or settings.engine.max_attempts
    if attempts < 1:
        problems.add(InputError("--max-attempts must be at least 1"), "max_attempts")
    try:
        check_retry_interrupted(request.retry_interrupted)
    except InputError as exc:
        problems.add(exc, "retry_interrupted")
    if request.name in {name for name, _ in await store.campaigns.names()}:
        problems.add(InputError(f"a campaign named {request.name!r} already exists"), "name")
    planner = MessagePlanner(settings, store)
    spec = MessageSpec(request.message, request.identification)
    for part, field in ((request.message, "message"), (request.identification, "identification")):
        if part and ":" not in part:
            try:
                await store.recordings.get(part)
            except DialerError as exc:
                problems.add(exc, field)
    phones = PhoneChoice.PRIMARY.value
    try:
        phones = PhoneChoice(request.phones).value
    except ValueError:
        choices = ", ".join(c.value for c in PhoneChoice)
        problems.add(
            InputError(f"--phones {request.phones!r}: expected one of {choices}"), "phones"
        )
    problems.raise_first()
    spec = await planner.pin(spec)
    # C8-C11: the message is composed and measured before the campaign exists,
    # and the campaign keeps playing exactly these versions; measured on the first
    # contact of each language (issue 11: never the whole list in memory)
    assert version is not None  # problems.raise_first() refused a missing list
    try:
        await planner.validate(
            request.name, spec, await store.contacts.samples(version), own_line=caller
        )
    except DialerError as exc:
        problems.add(exc, _message_field(exc, request))
        problems.raise_first()
    window_start, window_end = (
        effective_window(request.purpose, *narrowed)
        if narrowed
        else default_window(request.purpose)
    )
    campaign_id = await store.campaigns.create(
        NewCampaign(
            name=request.name,
            purpose=request.purpose,
            list_id=version.list_id,
            version_id=version.id,
            message=spec,
            caller_id=caller,
            window_start=window_start,
            window_end=window_end,
            max_attempts=attempts,
            retry_delay=(
                request.retry_delay
                if request.retry_delay >= 0
                else settings.engine.retry_delay_seconds
            ),
            category=request.category,
            authorized_by=request.authorized_by or None,
            phones=phones,
            residential_exemption=request.residential_exemption,
            retry_interrupted=request.retry_interrupted,
        ),
        operator,
    )
    # the preflight warns when the list changes after this moment (issue 14)
    await store.safeguards.record_fingerprint(
        campaign_id, await store.safeguards.list_fingerprint(version.list_id)
    )
    return await store.campaigns.get(request.name)


def _message_field(exc: DialerError, request: CampaignRequest) -> str:
    """C8/C9 problems of a recorded identification belong to that field; the rest
    (the body, the callback number) to the message."""
    text = str(exc)
    if request.identification and (
        text.startswith("C8") or (text.startswith("C9") and "identification" in text)
    ):
        return "identification"
    return "message"


async def set_override(store: Store, name: str, operator: str, reason: str) -> None:
    """C6: an emergency campaign also calls numbers that revoked consent (audited)."""
    if not reason.strip():
        raise InputError("C6: an override needs a reason", field="reason")
    await store.campaigns.set_override(name, operator, reason)
