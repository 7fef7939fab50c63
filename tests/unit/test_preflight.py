"""Preflight figures (issue 14), pure: a hand-made list with blocked, out-of-window,
duplicate, finished and incomplete entries, and a fixed clock.

At ``AT`` (13:30 UTC on Monday 2 March 2026) it is 08:30 in New York (inside
08:00-21:00) and 05:30 in Los Angeles (outside; the window opens there at
08:00 local = 16:00 UTC).
"""

from __future__ import annotations

import datetime as dt

import pytest

from dialer.audio.templates import ready_template
from dialer.campaign.personal import missing_fields, template_block, text_id
from dialer.campaign.preflight import PreflightTally
from dialer.campaign.preflight_report import (
    ASSUMED_ANSWER_S,
    LISTEN_AFTER_S,
    Context,
    LanguageCheck,
    build_report,
    expected_duration,
)
from dialer.consent.model import (
    CampaignRules,
    ConsentFact,
    EmergencyCategory,
    NumberFacts,
    Purpose,
    Reason,
)
from dialer.model.campaign import AttemptRow, Campaign, MessageSpec
from dialer.model.contact import Contact
from dialer.model.outcome import AttemptState, Outcome

AT = dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.UTC)
NY = [f"+1212555{n:04d}" for n in range(101, 110)]
LA = [f"+1213555{n:04d}" for n in range(101, 110)]
CONSENT = NumberFacts(consents=(ConsentFact(Purpose.SCHOOL, AT - dt.timedelta(days=30)),))
REVOKED = NumberFacts(
    consents=(ConsentFact(Purpose.SCHOOL, AT - dt.timedelta(days=30)),),
    revoked_at=AT - dt.timedelta(days=1),
)
NONE = NumberFacts()
COMPANY_DNC = NumberFacts(consents=CONSENT.consents, company_dnc=True)


def campaign(
    purpose: Purpose = Purpose.SCHOOL, body: str = "closure", max_attempts: int = 1
) -> Campaign:
    emergency = purpose is Purpose.EMERGENCY
    return Campaign(
        id=1,
        name="snow-day",
        purpose=purpose,
        list_id=1,
        list_name="grade5",
        message=MessageSpec(body),
        caller_id="+12125550100",
        window_start=dt.time(8),
        window_end=dt.time(21),
        max_attempts=max_attempts,
        retry_delay=300,
        category=EmergencyCategory.CLOSURE if emergency else None,
        authorized_by="Supt. Ruiz" if emergency else None,
    )


def contact(cid: int, number: str, language: str = "en", **fields: str) -> Contact:
    return Contact(cid, f"s-{cid}", number, language, dict(fields))


def finished(contact_id: int) -> AttemptRow:
    return AttemptRow(
        id=f"call-{contact_id}",
        contact_id=contact_id,
        attempt_no=1,
        decided_at=AT - dt.timedelta(hours=2),
        allowed=True,
        reason="allowed",
        detail="",
        state=AttemptState.DONE,
        outcome=Outcome.COMPLETED,
        ami_reason=4,
        dial_status="ANSWER",
        hangup_cause=16,
        digits="",
        language="en",
        note="",
    )


def context(**overrides: object) -> Context:
    values: dict[str, object] = {
        "now": AT - dt.timedelta(hours=1),
        "organisation_timezone": "America/New_York",
        "calls_per_second": 10.0,
        "max_concurrent": 30,
        "store_numbers": 1000,
        "list_changed": False,
        "national_dnc_as_of": None,
        "approval": {"required": False, "approved_by": None},
    }
    values.update(overrides)
    return Context(**values)  # type: ignore[arg-type]


def check(language: str, seconds: float = 30.0, heard: str | None = None) -> LanguageCheck:
    return LanguageCheck(
        language,
        heard or language,
        fallbacks=() if heard in (None, language) else (f"body: recording {language} → en",),
        live_seconds=seconds,
        voicemail_seconds=seconds + 3,
        checks={"C8": (True, ""), "C9": (True, ""), "C10": (True, ""), "C11": (True, "")},
    )


def mixed_list() -> PreflightTally:
    """Twelve contacts: allowed, duplicate, revoked, no consent, DNC, out of window, finished."""
    tally = PreflightTally(campaign(), CampaignRules(Purpose.SCHOOL), AT, "en")
    rows = [
        (contact(1, NY[0]), CONSENT, ()),  # allowed
        (contact(2, NY[1], "es"), CONSENT, ()),  # allowed, Spanish
        (contact(3, NY[1], "es"), CONSENT, ()),  # sibling: same number as 2
        (contact(4, NY[2]), REVOKED, ()),  # revoked
        (contact(5, NY[3]), NONE, ()),  # no consent
        (contact(6, NY[4]), COMPANY_DNC, ()),  # organisation's DNC
        (contact(7, LA[0]), CONSENT, ()),  # 05:30 in Los Angeles
        (contact(8, LA[1]), CONSENT, ()),  # 05:30 in Los Angeles
        (contact(9, LA[2]), REVOKED, ()),  # revoked beats the window (gate order)
        (contact(10, NY[5]), CONSENT, (finished(10),)),  # heard it already
        (contact(11, NY[6]), CONSENT, ()),  # allowed
        (contact(12, NY[0]), CONSENT, ()),  # duplicate of contact 1's number
    ]
    for c, facts, attempts in rows:
        tally.add(c, facts, attempts)
    return tally


def test_counts_contacts_numbers_and_each_gate_reason_at_the_start_time() -> None:
    report = build_report(mixed_list(), {"en": check("en"), "es": check("es")}, context())

    assert report["contacts"] == {
        "in_list": 12,
        "finished_already": 1,
        "to_call": 11,
        "allowed_at_start": 5,  # 1, 2, 3, 11, 12
        "blocked_at_start": 6,
    }
    assert report["numbers"] == {
        "to_call": 9,  # NY0, NY1, NY2, NY3, NY4, LA0, LA1, LA2, NY6
        "allowed_at_start": 3,  # NY0, NY1, NY6
        "shared_by_several_contacts": 2,  # NY0 (1, 12) and NY1 (2, 3)
    }
    assert report["blocked"] == {
        "outside-window": 2,
        "dnc-company": 1,
        "no-consent": 1,
        "revoked": 2,
    }
    assert report["households"] is None


def test_out_of_window_contacts_are_grouped_by_zone_with_the_opening_time() -> None:
    report = build_report(mixed_list(), {"en": check("en")}, context())

    [group] = report["outside_window"]
    assert group["zones"] == ["America/Los_Angeles"]
    assert group["contacts"] == 2
    assert group["opens_at"]["utc"] == "2026-03-02T16:00:00+00:00"  # 08:00 in Los Angeles
    assert group["opens_at"]["local"] == "2026-03-02 11:00 EST"  # shown in the district's zone
    assert group["opens_local"] == ["Mon 08:00 America/Los_Angeles"]


def test_window_opening_respects_a_narrowed_campaign_window() -> None:
    rules = CampaignRules(Purpose.SCHOOL, window_start=dt.time(9, 30), window_end=dt.time(17))
    tally = PreflightTally(campaign(), rules, AT, "en")
    tally.add(contact(1, NY[0]), CONSENT)  # 08:30 in New York: before 09:30

    [group] = build_report(tally, {}, context())["outside_window"]
    assert group["opens_at"]["utc"] == "2026-03-02T14:30:00+00:00"


def test_emergency_ignores_the_window_but_keeps_revocations_blocked() -> None:
    rules = CampaignRules(
        Purpose.EMERGENCY, emergency_category=EmergencyCategory.CLOSURE, authorized_by="Supt."
    )
    tally = PreflightTally(campaign(Purpose.EMERGENCY), rules, AT, "en")
    tally.add(contact(1, LA[0]), NONE)
    tally.add(contact(2, LA[1]), REVOKED)

    report = build_report(tally, {}, context())
    assert report["contacts"]["allowed_at_start"] == 1
    assert report["blocked"] == {"revoked": 1}
    assert report["outside_window"] == []


def test_languages_count_contacts_and_show_what_falls_back() -> None:
    checks = {"en": check("en"), "es": check("es", heard="en")}
    report = build_report(mixed_list(), checks, context())

    assert report["languages"] == [
        {"language": "en", "contacts": 9, "hears": "en", "fallbacks": []},
        {
            "language": "es",
            "contacts": 2,
            "hears": "en",
            "fallbacks": ["body: recording es → en"],
        },
    ]
    codes = [w["code"] for w in report["warnings"]]
    assert "language-fallback" in codes


def test_expected_duration_at_the_configured_pace() -> None:
    # 40 s per call and 30 at once: 0.75 calls/s, slower than 10 calls/s
    assert expected_duration(100, 40.0, 10.0, 30) == (99 / 0.75 + 40.0, "engine.max_concurrent")
    # short calls: the calls-per-second limit sets the pace
    assert expected_duration(100, 2.0, 10.0, 30) == (99 / 10 + 2.0, "engine.calls_per_second")
    assert expected_duration(0, 40.0, 10.0, 30) == (0.0, "nothing to call")


def test_report_duration_weights_the_message_length_by_language() -> None:
    checks = {"en": check("en", 20.0), "es": check("es", 31.0)}
    report = build_report(mixed_list(), checks, context())

    per_call = ASSUMED_ANSWER_S + (9 * 20.0 + 2 * 31.0) / 11 + LISTEN_AFTER_S
    assert report["duration"]["seconds_per_call"] == pytest.approx(per_call, abs=0.05)
    seconds, limit = expected_duration(5, per_call, 10.0, 30)
    assert report["duration"]["expected_seconds"] == pytest.approx(seconds, abs=0.05)
    assert report["duration"]["limited_by"] == limit


def test_message_checks_are_reported_per_language() -> None:
    bad = LanguageCheck(
        "es",
        "es",
        live_seconds=40.0,
        voicemail_seconds=44.0,
        checks={
            "C8": (True, ""),
            "C9": (False, "C9: 3.10 s"),
            "C10": (True, ""),
            "C11": (True, ""),
        },
    )
    report = build_report(mixed_list(), {"en": check("en"), "es": bad}, context())

    es = next(m for m in report["message"] if m["language"] == "es")
    assert es["ok"] is False
    assert es["checks"]["C9"] == {"ok": False, "detail": "C9: 3.10 s"}
    assert report["ready"] is False
    assert any(w["code"] == "c9-failed" for w in report["warnings"])


# -- templates (item 5) ------------------------------------------------------------------

ABSENCE = ready_template("attendance-absence")
FIELDS = {"student_name": "Ana", "school": "Lincoln", "date": "2026-03-02"}


def template_tally() -> PreflightTally:
    tally = PreflightTally(
        campaign(body="template:attendance-absence"),
        CampaignRules(Purpose.SCHOOL),
        AT,
        "en",
        template=ABSENCE,
    )
    tally.add(contact(1, NY[0], **FIELDS), CONSENT)
    tally.add(contact(2, NY[1], **FIELDS), CONSENT)  # twin: same text
    tally.add(contact(3, NY[2], **{**FIELDS, "student_name": "Ben"}), CONSENT)
    tally.add(contact(4, NY[3], "es", **FIELDS), CONSENT)
    tally.add(contact(5, NY[4], school="Lincoln", date="2026-03-02"), CONSENT)  # no name
    tally.add(contact(6, NY[5], student_name="  ", school="Lincoln"), CONSENT)  # blank, no date
    tally.add(contact(7, NY[6], **{**FIELDS, "student_name": "Cy"}), REVOKED)  # never hears it
    return tally


def test_template_texts_are_listed_with_how_many_contacts_hear_each() -> None:
    report = build_report(template_tally(), {"en": check("en"), "es": check("es")}, context())
    templates = report["templates"]

    ana = (
        "Ana was absent from Lincoln on Monday, March 2, 2026 without an excuse. "
        "Please contact the school office."
    )
    assert templates["template"] == "attendance-absence"
    assert templates["distinct_texts"] == 3
    assert [(t["language"], t["contacts"], t["text"]) for t in templates["texts"]] == [
        ("en", 2, ana),
        ("en", 1, ana.replace("Ana", "Ben")),
        (
            "es",
            1,
            "Ana faltó a Lincoln el lunes 2 de marzo de 2026 sin justificación. "
            "Por favor, comuníquese con la oficina de la escuela.",
        ),
    ]
    assert templates["texts"][0]["id"] == text_id("en", ana)
    assert templates["texts"][0]["example_contact"] == "s-1"


def test_contacts_missing_a_template_field_are_counted_and_blocked() -> None:
    report = build_report(template_tally(), {"en": check("en")}, context())

    assert report["templates"]["contacts_missing_fields"] == 2
    assert report["templates"]["missing_by_field"] == {"date": 1, "student_name": 2}
    assert report["blocked"] == {"template-field-missing": 2, "revoked": 1}
    assert report["contacts"]["allowed_at_start"] == 4
    assert any(w["code"] == "template-field-missing" for w in report["warnings"])


def test_template_block_is_the_runners_decision_for_an_incomplete_contact() -> None:
    incomplete = contact(5, NY[4], school="Lincoln", date="")
    decision = template_block(ABSENCE, incomplete, "en")

    assert decision is not None
    assert decision.allowed is False
    assert decision.reason is Reason.TEMPLATE_FIELD_MISSING
    assert decision.detail == "template 'attendance-absence': no value for date, student_name"
    assert NY[4] not in decision.detail  # C18
    assert template_block(ABSENCE, contact(1, NY[0], **FIELDS), "en") is None
    assert template_block(None, incomplete, "en") is None
    assert missing_fields(ABSENCE, contact(1, NY[0], "es", **FIELDS), "en") == ()


# -- warnings ----------------------------------------------------------------------------


def codes(tally: PreflightTally, **ctx: object) -> set[str]:
    return {w["code"] for w in build_report(tally, {"en": check("en")}, context(**ctx))["warnings"]}


def simple(at: dt.datetime = AT, purpose: Purpose = Purpose.SCHOOL) -> PreflightTally:
    rules = CampaignRules(purpose, national_dnc_as_of=None)
    tally = PreflightTally(campaign(purpose), rules, at, "en")
    tally.add(contact(1, NY[0]), CONSENT)
    return tally


def test_no_warning_for_an_ordinary_campaign() -> None:
    assert codes(simple()) == set()


@pytest.mark.parametrize(
    ("utc", "warned"),
    [
        (dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC), True),  # 05:30 New York: A.M./P.M.?
        (dt.datetime(2026, 3, 2, 11, 59, tzinfo=dt.UTC), True),  # 06:59
        (dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC), False),  # 07:00
        (dt.datetime(2026, 3, 3, 0, 59, tzinfo=dt.UTC), False),  # 19:59
        (dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC), True),  # 20:00
    ],
)
def test_start_before_seven_or_from_eight_pm_in_the_districts_zone_is_warned(
    utc: dt.datetime, warned: bool
) -> None:
    assert ("unusual-hour" in codes(simple(utc), now=utc)) is warned


def test_start_in_the_past_or_more_than_twelve_hours_ahead_is_warned() -> None:
    assert "start-in-past" in codes(simple(), now=AT + dt.timedelta(minutes=10))
    assert "start-in-past" not in codes(simple(), now=AT + dt.timedelta(minutes=1))
    assert "start-far-ahead" in codes(simple(), now=AT - dt.timedelta(hours=12, minutes=1))
    assert "start-far-ahead" not in codes(simple(), now=AT - dt.timedelta(hours=11))


def test_non_emergency_campaign_to_most_of_the_district_is_warned() -> None:
    tally = PreflightTally(campaign(), CampaignRules(Purpose.SCHOOL), AT, "en")
    for i in range(10):
        tally.add(contact(i, NY[i % 9] if i < 9 else LA[0]), CONSENT)
    assert "most-of-district" in codes(tally, store_numbers=10)  # 10 of 10
    assert "most-of-district" not in codes(tally, store_numbers=12)  # 83%
    emergency = PreflightTally(
        campaign(Purpose.EMERGENCY),
        CampaignRules(
            Purpose.EMERGENCY, emergency_category=EmergencyCategory.CLOSURE, authorized_by="S"
        ),
        AT,
        "en",
    )
    emergency.add(contact(1, NY[0]), CONSENT)
    assert "most-of-district" not in codes(emergency, store_numbers=1)


def test_changed_list_stale_dnc_and_missing_approval_are_warned() -> None:
    assert "list-changed" in codes(simple(), list_changed=True)
    assert "list-changed" not in codes(simple(), list_changed=None)
    telemarketing = simple(purpose=Purpose.TELEMARKETING)
    assert "dnc-stale" in codes(telemarketing, national_dnc_as_of=dt.date(2026, 1, 1))
    assert "dnc-stale" not in codes(telemarketing, national_dnc_as_of=dt.date(2026, 2, 20))
    assert "dnc-stale" not in codes(simple(), national_dnc_as_of=None)  # school: no DNC rule
    assert "approval-missing" in codes(simple(), approval={"required": True, "approved_by": None})
    assert "approval-missing" not in codes(
        simple(), approval={"required": True, "approved_by": "Principal Lee"}
    )


def test_shared_numbers_and_mostly_blocked_lists_are_warned() -> None:
    found = codes(mixed_list())
    assert {"shared-numbers", "mostly-blocked"} <= found
