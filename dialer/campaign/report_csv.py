"""The per-contact campaign report as CSV for spreadsheets: the one function
``dialer campaign report NAME --csv`` and the web console's download both use.

Numbers are masked (C18) unless an operator asks for them (``--reveal`` on the
CLI, an admin's explicit reveal in the console); that export is recorded in
the audit log with who asked, which campaign and how many rows (C19). Every
cell that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or CR: OWASP's CSV injection list) is prefixed with ``'``, so
a contact field like ``=HYPERLINK(...)`` stays text.

``write_report_csv`` streams (issue 11): rows are written as the report reads
them, so a million-contact campaign's CSV starts at once in bounded memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from dialer.campaign.report import ReportTotals, campaign_report, report_rows
from dialer.store.store import Store

CSV_COLUMNS = (
    "contact",
    "number",
    "outcome",
    "attempts",
    "gate",
    "detail",
    "language",
    "call_id",
    # issue 12: the contacts one household call covered, and whose call covered this one
    "household",
    "covered_by",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: which report rows go into the file (the console's filters); None keeps all
RowFilter = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class CsvExport:
    text: str
    rows: int
    revealed: bool


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # a masked number starts with "+": keep it readable, but never a formula
    return f"'{text}" if text.startswith(FORMULA_START) else text


def csv_values(row: dict[str, Any]) -> list[str]:
    return [csv_cell(_flat(row.get(col))) for col in CSV_COLUMNS]


def _flat(value: Any) -> Any:
    return " ".join(str(v) for v in value) if isinstance(value, list) else value


def report_rows_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(csv_values(row))
    return out.getvalue()


async def write_report_csv(
    store: Store, name: str, out: TextIO, *, reveal_by: str | None = None
) -> int:
    """Write the CSV to ``out`` as it is read (issue 11); returns the rows.
    ``reveal_by`` (who asks) exports plaintext numbers: audited before the first
    row is written (no unaudited plaintext export), with the list's size."""
    campaign = await store.campaigns.get(name)
    if reveal_by is not None:
        version = await store.contacts.version(campaign.version_id)
        await store.lifecycle.record_reveal(name, reveal_by, version.contacts)
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = 0
    async for row in report_rows(store, campaign, ReportTotals(), reveal=reveal_by is not None):
        writer.writerow(csv_values(row))
        rows += 1
    out.flush()
    return rows


async def export_report_csv(
    store: Store, name: str, *, reveal_by: str | None = None, keep: RowFilter | None = None
) -> CsvExport:
    """The CSV of campaign ``name``; ``reveal_by`` (who asks) exports plaintext
    numbers and is audited before the text exists (no unaudited plaintext export)."""
    report = await campaign_report(store, name, reveal=reveal_by is not None)
    rows = [row for row in report["per_contact"] if keep is None or keep(row)]
    if reveal_by is not None:
        await store.lifecycle.record_reveal(name, reveal_by, len(rows))
    return CsvExport(report_rows_csv(rows), len(rows), reveal_by is not None)


async def campaign_report_csv(store: Store, name: str, *, reveal_by: str | None = None) -> str:
    """The whole campaign's CSV text (``dialer campaign report NAME --csv``)."""
    return (await export_report_csv(store, name, reveal_by=reveal_by)).text
