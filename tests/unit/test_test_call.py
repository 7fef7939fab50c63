"""Test call (issue 14 item 2) without Asterisk: which contact is heard, and the plan.

The plan is the contact's real play plan (``MessagePlanner.plan``, real audio,
real TTS for a template) with only the answers to 9 and 8 swapped for the
test-call prompts in the contact's language. The live path is
tests/integration/test_test_call_live.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from support.store import key_file

from dialer.audio import prompts
from dialer.campaign.messages import MessagePlanner
from dialer.campaign.testcall import choose_contact, plan_for_test_call
from dialer.consent.model import Purpose
from dialer.errors import InputError, NotFoundError
from dialer.model.campaign import Campaign, MessageSpec
from dialer.model.contact import Contact
from dialer.settings import settings_from_dict
from dialer.store.store import Store

FIELDS = {"student_name": "Ana", "school": "Lincoln", "date": "2026-03-02"}


def _campaign(body: str) -> Campaign:
    return Campaign(
        id=1, name="absent", purpose=Purpose.SCHOOL, list_id=1, list_name="grade5",
        message=MessageSpec(body), caller_id="+12125550100",
        window_start=dt.time(8), window_end=dt.time(21), max_attempts=1, retry_delay=300,
    )  # fmt: skip


CONTACTS = [
    Contact(1, "s-1", "+12125550101", "en", {"school": "Lincoln"}),  # no name, no date
    Contact(2, "s-2", "+12125550102", "es", FIELDS),
    Contact(3, "s-3", "+12125550103", "en", FIELDS),
]


def test_the_contact_is_the_one_asked_for_or_the_first_who_hears_the_whole_message() -> None:
    template = _campaign("template:attendance-absence")
    assert choose_contact(CONTACTS, template, "", "en").external_id == "s-2"
    assert choose_contact(CONTACTS, template, "s-3", "en").external_id == "s-3"
    assert choose_contact(CONTACTS, _campaign("closure"), "", "en").external_id == "s-1"
    with pytest.raises(NotFoundError, match="no contact 's-9' in list 'grade5'"):
        choose_contact(CONTACTS, template, "s-9", "en")
    with pytest.raises(InputError, match="'s-1' has no value for date, student_name"):
        choose_contact(CONTACTS, template, "s-1", "en")
    with pytest.raises(InputError, match="no contact who would hear its message"):
        choose_contact(CONTACTS[:1], template, "", "en")


def test_the_plan_is_the_contacts_own_with_the_test_calls_answers(tmp_path: Path) -> None:
    settings = settings_from_dict(
        {
            "organisation": {"callback_number": "+12125550111", "hotline_number": "+12125550199"},
            "audio": {"sounds_dir": str(tmp_path / "sounds")},
            "store": {"path": str(tmp_path / "dialer.db"), "key_file": str(key_file(tmp_path))},
        },
        base_dir=tmp_path,
    )

    async def plans() -> list[tuple[object, object]]:
        store = await Store.open(settings.store.path, settings.store.key_file)
        try:
            planner = MessagePlanner(settings, store)
            campaign = _campaign("template:attendance-absence")
            out = []
            for contact in (CONTACTS[1], CONTACTS[2]):
                real = await planner.plan(campaign, contact)
                out.append((real, plan_for_test_call(planner, real)))
            return out
        finally:
            await store.close()

    for real, test in asyncio.run(plans()):
        assert list(test.segments) == list(real.segments)  # exactly what they would hear
        assert list(test.voicemail) == list(real.voicemail)
        assert test.language == real.language
        assert test.optout_confirmation.endswith(f"/{real.language}/{prompts.TEST_CALL_OPTOUT}")
        assert test.wrong_number_confirmation.endswith(
            f"/{real.language}/{prompts.TEST_CALL_WRONG_NUMBER}"
        )
        assert test.optout_confirmation != real.optout_confirmation
