"""Revocation by SMS reply (COMPLIANCE.md C5).

FCC 24-24 names the words: a reply of STOP, QUIT, END, REVOKE, OPT OUT, CANCEL
or UNSUBSCRIBE revokes consent. C5 reads them strictly: any case, **as the
whole message**. What counts as "the whole message" (``is_stop_request``):

* Unicode compatibility forms fold to plain letters (NFKC: a full-width
  "ＳＴＯＰ" is STOP) and invisible format characters (zero-width spaces,
  direction marks some phones insert) are dropped;
* surrounding whitespace, surrounding quotes and trailing punctuation are
  ignored ("Stop.", "STOP!!", " 'stop' ");
* "OPT OUT" may be written "OPT-OUT", "OPTOUT" or with several spaces;
* anything else around the word makes it *not* a keyword message
  ("stop calling me at work", "Please stop"): no revocation, but the message
  is flagged for staff review (``needs_review``), because a person may well
  mean it. Staff then revoke with ``dialer consent revoke --channel sms``.

Every STOP ends in ``Store.revoke_durably(..., RevocationChannel.SMS,
source_ref=<message id>)``, the one revocation function (C5), durable (stored,
or fsynced to the revocation journal) before ``handle_inbound_sms`` returns.
A message id seen before is not revoked twice (gateways redeliver; exports
overlap with the live hook).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dialer.consent.model import RevocationChannel
from dialer.errors import CsvError, DialerError, InputError
from dialer.masking import mask_number
from dialer.numbers import normalise
from dialer.store.store import Store
from dialer.timeparse import parse_instant

log = structlog.get_logger("dialer.sms")

#: C5 / FCC 24-24 keywords, in their canonical form (upper case, one space)
STOP_KEYWORDS: tuple[str, ...] = (
    "STOP",
    "QUIT",
    "END",
    "REVOKE",
    "OPT OUT",
    "CANCEL",
    "UNSUBSCRIBE",
)

_OPT_OUT = re.compile(r"^OPT[\s\-_]*OUT$")
_SPACES = re.compile(r"\s+")
#: characters stripped from both ends: whitespace, quotes and brackets
_WRAPPERS = " \t\r\n\"'`«»“”‘’()[]{}<>"
#: trailing punctuation tolerated after the keyword ("Stop.", "STOP!!!", "end;")
_TRAILING = ".!?,;:…。！？"
#: a keyword as a word inside a longer message: flags it for staff review
_KEYWORD_WORD = re.compile(
    r"\b(STOP|QUIT|END|REVOKE|OPT[\s\-_]*OUT|CANCEL|UNSUBSCRIBE)\b", re.IGNORECASE
)

SMS_REVIEW_AUDIT_KIND = "sms-review"
#: an imported message whose received-at was unreadable: handled with the import time
SMS_TIME_AUDIT_KIND = "sms-time-unreadable"


def _fold(text: str) -> str:
    """NFKC, drop invisible format characters (Cf), upper-case."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return folded.upper()


def _core(text: str) -> str:
    """The message without wrappers and trailing punctuation, spaces collapsed."""
    core = _fold(text)
    previous = None
    while core != previous:  # "'Stop.'" and "Stop.'" both reduce to STOP
        previous = core
        core = core.strip(_WRAPPERS).rstrip(_TRAILING)
    return _SPACES.sub(" ", core)


def is_stop_request(text: str) -> bool:
    """True when the whole message is one of the C5 keywords (see module docstring)."""
    core = _core(text)
    return core in STOP_KEYWORDS or bool(_OPT_OUT.match(core))


def mentions_stop_keyword(text: str) -> bool:
    """True when a keyword appears as a word somewhere in the message."""
    return bool(_KEYWORD_WORD.search(_fold(text)))


@dataclass(frozen=True)
class SmsResult:
    """What became of one inbound message."""

    message_id: str
    #: masked sender (C18)
    number: str
    #: the whole message was a keyword: consent is revoked
    stop: bool
    revocation_id: int | None = None
    #: this message id had already revoked consent (redelivery / overlapping import)
    duplicate: bool = False
    #: a keyword inside a longer message: no revocation, staff should read it
    needs_review: bool = False
    #: the store was unavailable: the revocation waits in the revocation journal
    journaled: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "number": self.number,
            "stop": self.stop,
            "revocation_id": self.revocation_id,
            "duplicate": self.duplicate,
            "needs_review": self.needs_review,
            "journaled": self.journaled,
        }


async def handle_inbound_sms(
    store: Store,
    from_number: str,
    text: str,
    message_id: str,
    received_at: dt.datetime | None = None,
    *,
    default_region: str = "US",
) -> SmsResult:
    """Act on one inbound SMS: a STOP keyword revokes consent at once (C5-C7).

    ``received_at`` is when the gateway received the message (the revocation's
    received-at, C5); None: now. Raises ``NumberError`` for an unusable sender
    and ``InputError`` for an empty message id.
    """
    number = normalise(from_number, default_region)
    masked = mask_number(number)
    message_id = message_id.strip()
    if not message_id:
        raise InputError("an inbound SMS needs the gateway's message id (--id)")
    if received_at is not None and received_at.tzinfo is None:
        raise InputError("the SMS received-at time needs a time zone (e.g. Z)")
    if is_stop_request(text):
        seen, existing = await _revocation_for_message(store, number, message_id)
        if seen:
            log.info("sms.duplicate", number=masked, message_id=message_id)
            return SmsResult(message_id, masked, True, existing, duplicate=True)
        result = await store.revoke_durably(
            number,
            RevocationChannel.SMS,
            source_ref=message_id,
            received_at=received_at,
            recorded_by="sms",
        )
        log.info("sms.revoked", number=masked, message_id=message_id, ref=result.reference)
        return SmsResult(message_id, masked, True, result.revocation_id, journaled=result.journaled)
    if mentions_stop_keyword(text):
        await _flag_for_review(store, number, message_id, received_at)
        log.warning("sms.needs_review", number=masked, message_id=message_id)
        return SmsResult(message_id, masked, False, needs_review=True)
    log.info("sms.ignored", number=masked, message_id=message_id)
    return SmsResult(message_id, masked, False)


async def _revocation_for_message(
    store: Store, number: str, message_id: str
) -> tuple[bool, int | None]:
    """Whether this message already revoked (and the row id, once it is stored)."""
    existing = await store.consent.revocation_id_for(number, RevocationChannel.SMS, message_id)
    if existing is not None:
        return True, existing
    return store.revocation_waiting(number, RevocationChannel.SMS, message_id), None


async def _flag_for_review(
    store: Store, number: str, message_id: str, received_at: dt.datetime | None
) -> None:
    """An audit entry staff can find (``dialer audit report`` counts them).

    Only the keyed hash and the gateway's message id are kept, never the text:
    it may hold anything, and staff read it in the gateway (C18).
    """
    now = store.clock()
    await store.consent.note_for_review(
        number,
        SMS_REVIEW_AUDIT_KIND,
        {
            "message_id": message_id,
            "received_at": (received_at or now).astimezone(dt.UTC).isoformat(),
        },
    )


# -- gateway exports -----------------------------------------------------------------------

#: accepted header names per field (first match wins)
SMS_COLUMNS: dict[str, tuple[str, ...]] = {
    "from": ("from", "from_number", "sender", "phone", "msisdn"),
    "text": ("text", "body", "message"),
    "id": ("id", "message_id", "msgid", "sid"),
    "received_at": ("received_at", "received", "date", "timestamp"),
}


@dataclass(frozen=True)
class InboundSms:
    row: int
    from_number: str
    text: str
    message_id: str
    #: the received-at cell as written; read at import time (import_sms_export),
    #: so an unreadable one costs no opt-out
    received_text: str = ""


@dataclass(frozen=True)
class SmsRowError:
    row: int
    reason: str


def parse_received_at(text: str, zone: str, what: str = "received_at") -> dt.datetime | None:
    """When the gateway received a message; None when not given.

    ISO 8601 with a zone, epoch seconds, or a local time read in the
    organisation's time zone ``zone`` (dialer.timeparse); a date alone, or
    anything unreadable, is an InputError naming ``what``.
    """
    if not text.strip():
        return None
    return parse_instant(text, what, zone=zone, allow_epoch=True)


def parse_sms_export(
    text: str, source: str = "export"
) -> tuple[list[InboundSms], list[SmsRowError]]:
    """Rows of a gateway export (columns from, text, id[, received_at]).

    Row numbers are as a spreadsheet shows them (header = row 1). Plain
    comma-separated CSV: message texts contain commas and quotes, so the
    dialect is not guessed.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError(f"{source}: file is empty (no header row)") from None
    except csv.Error as exc:
        raise CsvError(f"{source}: row 1: {exc}") from exc
    names = [h.strip().lower().replace(" ", "_") for h in header]
    index: dict[str, int] = {}
    for name, aliases in SMS_COLUMNS.items():
        found = next((names.index(a) for a in aliases if a in names), None)
        if found is not None:
            index[name] = found
    missing = [f for f in ("from", "text", "id") if f not in index]
    if missing:
        raise CsvError(
            f"{source}: missing column(s) {', '.join(missing)} (found: {', '.join(names)})"
        )
    records: list[InboundSms] = []
    errors: list[SmsRowError] = []
    line = 1
    try:
        for values in reader:
            line += 1
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                errors.append(
                    SmsRowError(line, f"has {len(values)} fields, header has {len(names)}")
                )
                continue
            records.append(
                InboundSms(
                    row=line,
                    from_number=values[index["from"]].strip(),
                    text=values[index["text"]],
                    message_id=values[index["id"]].strip(),
                    received_text=values[index["received_at"]] if "received_at" in index else "",
                )
            )
    except csv.Error as exc:
        raise CsvError(f"{source}: row {line + 1}: {exc}") from exc
    return records, errors


def read_sms_export(path: Path) -> tuple[list[InboundSms], list[SmsRowError]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: file not found") from exc
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 text") from exc
    return parse_sms_export(text, str(path))


@dataclass
class ImportSummary:
    rows: int = 0
    revoked: int = 0
    duplicates: int = 0
    needs_review: int = 0
    ignored: int = 0
    errors: list[SmsRowError] = field(default_factory=list)
    #: rows handled with the import time because their own time was unreadable
    flagged: list[SmsRowError] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "revoked": self.revoked,
            "duplicates": self.duplicates,
            "needs_review": self.needs_review,
            "ignored": self.ignored,
            "errors": [{"row": e.row, "reason": e.reason} for e in self.errors],
            "flagged": [{"row": e.row, "reason": e.reason} for e in self.flagged],
        }


async def import_sms_export(
    store: Store,
    messages: list[InboundSms],
    errors: list[SmsRowError],
    *,
    default_region: str,
    zone: str,
) -> ImportSummary:
    """Handle every readable row. Unlike a consent import this is NOT all-or-nothing:
    a bad row must never cost another parent their opt-out (C5). Each row is
    idempotent by message id, so importing the fixed file again is safe.

    A row whose received-at cannot be read is still handled, with the import
    time, and flagged: the summary lists it and staff find an audit entry
    (``sms-time-unreadable``) for it (issue 8 item 5). Times without a zone are
    read in the organisation's time zone ``zone``, never as UTC.
    """
    summary = ImportSummary(rows=len(messages) + len(errors), errors=list(errors))
    for message in messages:
        try:
            when, flag = _row_time(message, zone)
            result = await handle_inbound_sms(
                store,
                message.from_number,
                message.text,
                message.message_id,
                when,
                default_region=default_region,
            )
            if flag is not None:
                summary.flagged.append(SmsRowError(message.row, flag))
                await _flag_unreadable_time(store, message, default_region)
        except DialerError as exc:
            # this row only (an unusable sender, a store that refused even the
            # journal): the other rows' opt-outs are still recorded
            summary.errors.append(SmsRowError(message.row, str(exc)))
            continue
        if result.duplicate:
            summary.duplicates += 1
        elif result.stop:
            summary.revoked += 1
        elif result.needs_review:
            summary.needs_review += 1
        else:
            summary.ignored += 1
    summary.errors.sort(key=lambda e: e.row)
    return summary


def _row_time(message: InboundSms, zone: str) -> tuple[dt.datetime | None, str | None]:
    """The row's time, or (None = import time, why) when it cannot be read."""
    try:
        return parse_received_at(message.received_text, zone), None
    except InputError as exc:
        return None, f"{exc}; recorded with the import time"


async def _flag_unreadable_time(store: Store, message: InboundSms, default_region: str) -> None:
    """An audit entry for staff: this message's own time was unreadable."""
    await store.consent.note_for_review(
        normalise(message.from_number, default_region),
        SMS_TIME_AUDIT_KIND,
        {"message_id": message.message_id, "row": message.row},
    )
