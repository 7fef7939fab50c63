"""Revocation by SMS reply (C5): the keyword matcher exhaustively, then the real
store (a sqlite file) and the real ``dialer sms`` commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from dialer.commands import common
from dialer.commands import sms as sms_commands
from dialer.consent.crypto import create_key_file
from dialer.consent.gate import decide
from dialer.consent.model import (
    CampaignRules,
    ConsentSource,
    EmergencyCategory,
    Purpose,
    Reason,
)
from dialer.errors import InputError, NumberError
from dialer.model.consents import ConsentInput
from dialer.sms import (
    SMS_REVIEW_AUDIT_KIND,
    STOP_KEYWORDS,
    handle_inbound_sms,
    is_stop_request,
    mentions_stop_keyword,
    parse_received_at,
    parse_sms_export,
)
from dialer.store import audit
from dialer.store.store import Store
from dialer.timeparse import parse_instant

NUMBER = "+12125550142"
OTHER = "+12125550143"

# --- the keyword matcher -------------------------------------------------------------------

STOPS = [
    "STOP",
    "stop",
    "Stop",
    "sToP",
    "  STOP  ",
    "\tstop\n",
    "STOP.",
    "Stop!",
    "STOP!!!",
    "stop?",
    "Stop…",
    "end;",
    "'stop'",
    '"STOP"',
    "“Stop.”",
    "(stop)",
    "QUIT",
    "quit",
    "END",
    "End.",
    "REVOKE",
    "revoke",
    "OPT OUT",
    "opt out",
    "Opt  Out",
    "OPT-OUT",
    "opt-out.",
    "optout",
    "OptOut",
    "CANCEL",
    "cancel!",
    "UNSUBSCRIBE",
    "Unsubscribe.",
    "ＳＴＯＰ",  # full-width, as some phones send it
    "STOP\u200b",  # zero-width space
    "\u200estop",  # left-to-right mark
]

NOT_STOPS = [
    "",
    "   ",
    ".",
    "!!!",
    "stop calling me at work",
    "Please stop",
    "please STOP.",
    "STOP STOP",
    "stop it",
    "stopp",
    "stops",
    "unstop",
    "S T O P",
    "S.T.O.P.",
    "quitting",
    "ending",
    "the end",
    "weekend",
    "cancelled",
    "opt",
    "out",
    "opt in",
    "OPT OUT OF THIS",
    "!stop",
    "yes",
    "STOP1",
    "1 STOP",
    "revoked",
    "unsubscribed",
    "Stoplight",
]


@pytest.mark.parametrize("text", STOPS)
def test_c5_whole_message_keywords_are_stop_requests(text: str) -> None:
    assert is_stop_request(text)


@pytest.mark.parametrize("text", NOT_STOPS)
def test_c5_other_messages_are_not_stop_requests(text: str) -> None:
    assert not is_stop_request(text)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("stop calling me at work", True),
        ("Please stop", True),
        ("STOP STOP", True),
        ("I want to opt-out please", True),
        ("cancel my subscription", True),
        ("see you at the end of the day", True),
        ("weekend plans", False),
        ("stoplight", False),
        ("thanks!", False),
        ("", False),
    ],
)
def test_keyword_inside_a_longer_message_is_flagged(text: str, flag: bool) -> None:
    assert mentions_stop_keyword(text) is flag


_case_letters = st.lists(st.booleans(), min_size=20, max_size=20)
_space = st.text(alphabet=" \t\r\n", max_size=4)
_trailing = st.text(alphabet=".!?,;:", max_size=4)


def _recase(word: str, uppers: list[bool]) -> str:
    return "".join(c.upper() if u else c.lower() for c, u in zip(word, uppers, strict=False))


@given(st.sampled_from(STOP_KEYWORDS), _case_letters, _space, _space, _trailing)
def test_c5_keyword_in_any_case_with_padding_is_a_stop(
    word: str, uppers: list[bool], before: str, after: str, punct: str
) -> None:
    assert is_stop_request(f"{before}{_recase(word, uppers)}{punct}{after}")


@given(
    st.sampled_from(STOP_KEYWORDS),
    _case_letters,
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12),
    st.booleans(),
)
def test_c5_keyword_with_other_words_is_not_a_stop(
    word: str, uppers: list[bool], other: str, other_first: bool
) -> None:
    text = f"{other} {_recase(word, uppers)}" if other_first else f"{_recase(word, uppers)} {other}"
    assert not is_stop_request(text)
    assert mentions_stop_keyword(text)


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_stop_matching_ignores_case(text: str) -> None:
    assert is_stop_request(text) == is_stop_request(text.lower()) == is_stop_request(text.upper())


@given(st.text(max_size=40))
def test_stop_match_implies_a_keyword_is_mentioned(text: str) -> None:
    """Any text at all: never raises, and a STOP is always also a mention."""
    if is_stop_request(text):
        assert mentions_stop_keyword(text)


@given(st.text(alphabet="abfghijklmwxyz0123456789 .,!?'\"", max_size=40))
def test_text_without_keyword_letters_is_never_a_stop(text: str) -> None:
    assert not is_stop_request(text)


# --- gateway export parsing ---------------------------------------------------------------------


NY = "America/New_York"


def test_parse_received_at_forms() -> None:
    assert parse_received_at("", NY) is None
    assert parse_received_at("2026-11-02T10:15:00Z", NY) == dt.datetime(
        2026, 11, 2, 10, 15, tzinfo=dt.UTC
    )
    assert parse_received_at("2026-11-02T05:15:00-05:00", NY) == dt.datetime(
        2026, 11, 2, 10, 15, tzinfo=dt.UTC
    )
    assert parse_received_at("1793614500", NY) == dt.datetime.fromtimestamp(1793614500, dt.UTC)
    with pytest.raises(InputError):
        parse_received_at("yesterday", NY)


def test_a_time_without_zone_is_the_organisations_local_time_never_utc() -> None:
    """Issue 8 item 5: "10:15" from a New York district's gateway is 15:15 UTC."""
    assert parse_received_at("2026-11-02 10:15:00", NY) == dt.datetime(
        2026, 11, 2, 15, 15, tzinfo=dt.UTC
    )
    assert parse_received_at("2026-07-02T10:15", NY) == dt.datetime(
        2026, 7, 2, 14, 15, tzinfo=dt.UTC
    )  # daylight saving time
    assert parse_received_at("2026-11-02 10:15:00", "UTC") == dt.datetime(
        2026, 11, 2, 10, 15, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2026-11-02", "date without a time"),  # never silently midnight UTC
        ("99999999999999", "not a plausible time"),  # once a bare ValueError: traceback
        ("0001-01-01T00:00:00+05:00", "not a plausible time"),
        ("1969-12-31T23:00:00Z", "before 1970"),
        ("yesterday", "not an ISO 8601 time"),
        ("  ", "empty"),
    ],
)
def test_unreadable_times_are_input_errors_naming_the_field(text: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as info:
        parse_instant(text, "received_at", zone=NY, allow_epoch=True)
    assert str(info.value).startswith("received_at")


def test_parse_export_reports_bad_rows_with_numbers() -> None:
    text = (
        "from,text,id,received_at\n"
        '+12125550142,"Stop, please",SM1,2026-11-02T10:00:00Z\n'
        "+12125550143,STOP,SM2,not-a-date\n"
        "+12125550144,STOP\n"
        "\n"
        "+12125550145,END,SM4,\n"
    )
    records, errors = parse_sms_export(text)
    # a bad time no longer drops the row: it is read (and flagged) at import
    assert [(r.row, r.message_id, r.text) for r in records] == [
        (2, "SM1", "Stop, please"),
        (3, "SM2", "STOP"),
        (6, "SM4", "END"),
    ]
    assert [e.row for e in errors] == [4]
    assert records[1].received_text == "not-a-date" and records[2].received_text == ""


def test_parse_export_accepts_aliases_and_refuses_missing_columns() -> None:
    records, _ = parse_sms_export("Sender,Body,Message ID\n+12125550142,stop,X1\n")
    assert records[0].from_number == NUMBER and records[0].message_id == "X1"
    with pytest.raises(InputError, match="missing column"):
        parse_sms_export("from,text\n+12125550142,stop\n")


# --- with a real store -----------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    create_key_file(tmp_path / "dialer.key")
    opened = await Store.open(tmp_path / "dialer.db", tmp_path / "dialer.key")
    yield opened
    await opened.close()


def _consent(number: str, scope: Purpose, written: bool = False) -> ConsentInput:
    return ConsentInput(
        number=number,
        scope=scope,
        source=ConsentSource.WEB_FORM,
        method="web form",
        obtained_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
        disclosure="You agree to automated calls. Consent is not a condition of purchase.",
        evidence_ref="web:42",
        contact_ref="parent",
        signature_ref="esign:42" if written else "",
        written=written,
    )


def _rules(purpose: Purpose, *, override: bool = False) -> CampaignRules:
    return CampaignRules(
        purpose=purpose,
        national_dnc_as_of=dt.datetime.now(dt.UTC).date(),
        emergency_category=EmergencyCategory.CLOSURE if purpose is Purpose.EMERGENCY else None,
        authorized_by="Superintendent" if purpose is Purpose.EMERGENCY else None,
        revocation_override=override,
    )


def _daytime_new_york() -> dt.datetime:
    """11:00 in New York today (inside every purpose's window, C12)."""
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, 16, 0, tzinfo=dt.UTC)


NON_EMERGENCY = (Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING)


async def test_c5_sms_stop_blocks_the_next_attempt_of_every_non_emergency_purpose(
    store: Store,
) -> None:
    for purpose in NON_EMERGENCY:
        await store.consent.add_consent(
            _consent(NUMBER, purpose, written=purpose is Purpose.TELEMARKETING), "staff"
        )
    await store.consent.import_national_dnc([OTHER], dt.datetime.now(dt.UTC).date(), "dnc.csv")
    now = _daytime_new_york()
    facts = await store.consent.facts_for(NUMBER)
    for purpose in NON_EMERGENCY:  # baseline: every purpose may call
        assert decide(NUMBER, facts, _rules(purpose), now).allowed, purpose

    received = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    result = await handle_inbound_sms(store, "(212) 555-0142", " Stop. ", "SM-1", received)
    assert result.stop and result.revocation_id is not None and not result.needs_review
    assert result.number == "+1******0142"

    facts = await store.consent.facts_for(NUMBER)
    for purpose in NON_EMERGENCY:
        decision = decide(NUMBER, facts, _rules(purpose), now)
        assert not decision.allowed and decision.reason is Reason.REVOKED, purpose
    # C6: even an emergency campaign is blocked, unless it carries an audited override
    assert decide(NUMBER, facts, _rules(Purpose.EMERGENCY), now).reason is Reason.REVOKED
    overridden = decide(NUMBER, facts, _rules(Purpose.EMERGENCY, override=True), now)
    assert overridden.allowed and overridden.reason is Reason.EMERGENCY_OVERRIDE

    row = await store.db.fetchone(
        "SELECT channel, source_ref, received_at, recorded_by FROM revocations"
    )
    assert row is not None
    assert tuple(row) == ("sms", "SM-1", received.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "sms")
    chain = await store.verify_audit()
    assert chain.entries == 5  # three consents, the DNC import, the revocation


async def test_c5_sms_same_message_twice_revokes_once(store: Store) -> None:
    first = await handle_inbound_sms(store, NUMBER, "STOP", "SM-7")
    again = await handle_inbound_sms(store, NUMBER, "stop", "SM-7")
    assert again.duplicate and again.revocation_id == first.revocation_id
    other = await handle_inbound_sms(store, NUMBER, "STOP", "SM-8")
    assert not other.duplicate
    row = await store.db.fetchone("SELECT COUNT(*) FROM revocations")
    assert row is not None and row[0] == 2


async def test_c5_sentence_with_stop_is_flagged_for_review_not_revoked(store: Store) -> None:
    await store.consent.add_consent(_consent(NUMBER, Purpose.SCHOOL), "staff")
    result = await handle_inbound_sms(store, NUMBER, "stop calling me at work", "SM-9")
    assert not result.stop and result.needs_review and result.revocation_id is None
    facts = await store.consent.facts_for(NUMBER)
    assert facts.revoked_at is None
    assert decide(NUMBER, facts, _rules(Purpose.SCHOOL), _daytime_new_york()).allowed
    entries = await audit.entries(store.db)
    review = [payload for _, _, kind, payload in entries if kind == SMS_REVIEW_AUDIT_KIND]
    assert review == [
        {
            "number_hash": store.sealer.index(NUMBER),
            "message_id": "SM-9",
            "received_at": review[0]["received_at"],
        }
    ]
    assert "stop calling" not in json.dumps(review)  # the text itself is not kept
    await store.verify_audit()


async def test_sms_unrelated_message_changes_nothing(store: Store) -> None:
    result = await handle_inbound_sms(store, NUMBER, "Thanks, see you Monday", "SM-10")
    assert not result.stop and not result.needs_review
    assert (await store.verify_audit()).entries == 0


async def test_sms_bad_input_is_refused(store: Store) -> None:
    with pytest.raises(NumberError):
        await handle_inbound_sms(store, "12", "STOP", "SM-11")
    with pytest.raises(InputError):
        await handle_inbound_sms(store, NUMBER, "STOP", "  ")
    with pytest.raises(InputError):
        await handle_inbound_sms(store, NUMBER, "STOP", "SM-12", dt.datetime(2026, 1, 1))


# --- the commands -------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "dialer.toml"
    create_key_file(tmp_path / "dialer.key")
    path.write_text('[organisation]\ndefault_region = "US"\n', encoding="utf-8")
    monkeypatch.setenv("DIALER_CONFIG", str(path))
    monkeypatch.setattr(common.GLOBALS, "config", None)
    return path


def _cli(*args: str) -> tuple[int, str, str]:
    """Run ``dialer sms ...`` (the sub-app mounted as cli.py mounts it)."""
    app = typer.Typer()
    app.add_typer(sms_commands.app, name="sms")
    result = CliRunner().invoke(app, ["sms", *args])
    return result.exit_code, result.stdout, result.stderr


def _revocations(config: Path) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        store = await Store.open(config.parent / "dialer.db", config.parent / "dialer.key")
        try:
            rows = await store.db.fetchall(
                "SELECT channel, source_ref FROM revocations ORDER BY source_ref"
            )
            await store.verify_audit()
            return [(str(r[0]), str(r[1])) for r in rows]
        finally:
            await store.close()

    return asyncio.run(read())


def test_c5_sms_receive_command(config: Path) -> None:
    code, out, _ = _cli(
        "receive", "--from", NUMBER, "--text", "UNSUBSCRIBE", "--id", "SM-20", "--json"
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["stop"] is True and data["number"] == "+1******0142"
    assert NUMBER not in out  # C18: masked
    code, out, _ = _cli("receive", "--from", NUMBER, "--text", "please stop", "--id", "SM-21")
    assert code == 0 and "staff review" in out
    assert _revocations(config) == [("sms", "SM-20")]


def test_c5_sms_receive_refuses_a_bad_number(config: Path) -> None:
    code, _, err = _cli("receive", "--from", "555", "--text", "STOP", "--id", "SM-22")
    assert code == 2 and "error" in err


def test_c5_sms_import_handles_good_rows_and_lists_bad_ones(config: Path, tmp_path: Path) -> None:
    export = tmp_path / "inbound.csv"
    export.write_text(
        "from,text,id,received_at\n"
        "+12125550142,STOP,SM-30,2026-11-02T10:00:00Z\n"
        "+12125550143,stop calling me at work,SM-31,2026-11-02T10:01:00Z\n"
        "555,STOP,SM-32,2026-11-02T10:02:00Z\n"
        "+12125550144,Opt-Out!,SM-33,\n"
        "+12125550145,See you Monday,SM-34,\n",
        encoding="utf-8",
    )
    code, out, err = _cli("import", str(export), "--json")
    assert code == 2, out  # a bad row: non-zero so the hook notices ...
    summary = json.loads(out)
    assert summary["revoked"] == 2 and summary["needs_review"] == 1 and summary["ignored"] == 1
    assert [e["row"] for e in summary["errors"]] == [4]
    assert "row 4" in err
    # ... but every good opt-out is recorded
    assert _revocations(config) == [("sms", "SM-30"), ("sms", "SM-33")]
    code, out, _ = _cli("import", str(export), "--json")  # importing again is harmless
    assert json.loads(out)["duplicates"] == 2
    assert _revocations(config) == [("sms", "SM-30"), ("sms", "SM-33")]


def test_c5_sms_import_keeps_every_stop_when_times_are_bad(config: Path, tmp_path: Path) -> None:
    """Issue 8 item 5: one bad received_at once aborted the whole import with a
    traceback and the valid STOPs in other rows were never recorded."""
    config.write_text(
        '[organisation]\ndefault_region = "US"\ntimezone = "America/Chicago"\n', encoding="utf-8"
    )
    export = tmp_path / "inbound.csv"
    export.write_text(
        "from,text,id,received_at\n"
        "+12125550142,STOP,SM-40,99999999999999\n"
        "+12125550143,STOP,SM-41,2026-11-02T10:00:00Z\n"
        "+12125550144,End,SM-42,yesterday\n"
        "+12125550145,QUIT,SM-43,2026-11-02\n"
        "+12125550146,Cancel,SM-44,2026-11-02 09:30\n"
        "+12125550147,stop calling at work,SM-45,garbage\n",
        encoding="utf-8",
    )
    started = dt.datetime.now(dt.UTC)
    code, out, err = _cli("import", str(export), "--json")
    assert code == 0, err
    assert "Traceback" not in out + err
    summary = json.loads(out)
    assert summary["revoked"] == 5 and summary["needs_review"] == 1 and summary["errors"] == []
    assert [f["row"] for f in summary["flagged"]] == [2, 4, 5, 7]
    assert "import time" in summary["flagged"][0]["reason"]

    async def read() -> tuple[dict[str, str], dict[str, int]]:
        store = await Store.open(config.parent / "dialer.db", config.parent / "dialer.key")
        try:
            rows = await store.db.fetchall("SELECT source_ref, received_at FROM revocations")
            kinds = await store.db.fetchall("SELECT kind, COUNT(*) FROM audit GROUP BY kind")
            await store.verify_audit()
            return {str(r[0]): str(r[1]) for r in rows}, {str(k): int(n) for k, n in kinds}
        finally:
            await store.close()

    received, kinds = asyncio.run(read())
    assert sorted(received) == ["SM-40", "SM-41", "SM-42", "SM-43", "SM-44"]
    assert received["SM-41"] == "2026-11-02T10:00:00.000000Z"
    # no zone: 09:30 in the organisation's time zone (Chicago), not UTC
    assert received["SM-44"] == "2026-11-02T15:30:00.000000Z"
    # the unreadable ones carry the import time, and are flagged for staff
    for ref in ("SM-40", "SM-42", "SM-43"):
        when = dt.datetime.fromisoformat(received[ref])
        assert started - dt.timedelta(seconds=5) <= when <= dt.datetime.now(dt.UTC)
    assert kinds["sms-time-unreadable"] == 4


def test_sms_receive_refuses_an_unreadable_time_with_one_line(config: Path) -> None:
    for bad in ("99999999999999", "2026-11-02", "yesterday"):
        code, out, err = _cli(
            "receive", "--from", NUMBER, "--text", "STOP", "--id", "SM-50", "--received-at", bad
        )
        assert code == 2, out + err
        assert err.count("\n") == 1 and err.startswith("error: --received-at")
    assert _revocations(config) == []
