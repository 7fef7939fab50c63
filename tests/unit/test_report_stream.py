"""Streamed campaign reports (issue 11 item 3): pages in dialling order, same report.

The report walks the pinned list version a page at a time; these tests check
that the streamed JSON is exactly the report object, page boundaries included,
and that the CSV keeps numbers masked and spreadsheet formulas out (C18).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

from support.store import campaign, open_store

from dialer.campaign.report import (
    ReportTotals,
    campaign_report,
    report_json_chunks,
    report_rows,
)
from dialer.campaign.report_csv import CSV_COLUMNS, csv_cell, csv_values
from dialer.consent.model import Decision, Purpose, Reason
from dialer.model.contact import NewContact
from dialer.model.outcome import Outcome

CONTACTS = 2345


def _lang(i: int) -> str:
    return "es" if i % 3 else "en"


async def _setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = await open_store(tmp_path)
    people = [
        NewContact(
            f"s{i}", f"+1212{200 + i // 1000:03d}{i % 1000:04d}", "es" if i % 3 else "en", {}
        )
        for i in range(CONTACTS)
    ]
    await store.contacts.import_list("families", people, replace=False, operator="t")
    camp = await campaign(store, "c", Purpose.EMERGENCY)
    contacts = await store.contacts.version_contacts(camp.version_id)
    plan = {
        0: [Outcome.BUSY, Outcome.COMPLETED],
        999: [Outcome.OPTED_OUT],  # the last contact of the first page
        1000: [Outcome.NO_ANSWER],  # the first of the second
        1500: [None],  # blocked by the gate
        CONTACTS - 1: [Outcome.FAILED],
    }
    for index, outcomes in plan.items():
        contact = contacts[index]
        for no, outcome in enumerate(outcomes, start=1):
            call_id = uuid.uuid4().hex
            allowed = outcome is not None
            await store.campaigns.record_decision(
                call_id=call_id,
                campaign=camp,
                contact_id=contact.id,
                number=contact.number,
                attempt_no=no,
                decision=Decision(
                    allowed, Reason.ALLOWED if allowed else Reason.REVOKED, "d", False
                ),
                with_consent=False,
                language="en",
            )
            if outcome is not None:
                await store.campaigns.finish(call_id, outcome, hangup_cause=17)
    return store, camp, contacts


async def test_streamed_json_is_the_whole_report_across_pages(tmp_path: Path) -> None:
    store, _camp, contacts = await _setup(tmp_path)
    try:
        whole = await campaign_report(store, "c")
        streamed = json.loads("".join([c async for c in report_json_chunks(store, "c")]))
    finally:
        await store.close()
    assert streamed == whole
    assert [r["contact"] for r in whole["per_contact"]] == [c.external_id for c in contacts]
    assert whole["contacts"] == CONTACTS
    assert whole["calls_placed"] == 5
    assert whole["outcomes"] == {
        "completed": 1,
        "opted-out": 1,
        "no-answer": 1,
        "blocked": 1,
        "failed": 1,
        "pending": CONTACTS - 5,
    }
    assert whole["blocked_by_reason"] == {"revoked": 1}
    first = whole["per_contact"][0]
    assert (first["outcome"], first["attempts"]) == ("completed", 2)
    # Spanish speakers whose call was played in English count as fallbacks
    assert whole["language_fallbacks"] == sum(
        1 for i in (0, 999, 1000, 1500, CONTACTS - 1) if i % 3
    )


async def test_small_pages_give_the_same_rows(tmp_path: Path) -> None:
    store, camp, _contacts = await _setup(tmp_path)
    try:
        big = [r async for r in report_rows(store, camp, ReportTotals())]
        small = [r async for r in report_rows(store, camp, ReportTotals(), page_size=7)]
    finally:
        await store.close()
    assert small == big


async def test_c18_csv_rows_are_masked_and_never_formulas(tmp_path: Path) -> None:
    store, camp, contacts = await _setup(tmp_path)
    try:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        async for row in report_rows(store, camp, ReportTotals()):
            writer.writerow(csv_values(row))
    finally:
        await store.close()
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == CONTACTS
    assert rows[0]["number"].startswith("'+1") and "*" in rows[0]["number"]
    assert all(contacts[0].number not in line for line in out.getvalue().splitlines())
    assert csv_cell("=HYPERLINK()") == "'=HYPERLINK()"
