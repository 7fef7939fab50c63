"""``dialer campaign report NAME --csv``: the per-contact report for spreadsheets.

Numbers are masked (C18) unless an operator asks for them with ``--reveal``;
that export is recorded in the audit log (who, which campaign, how many rows,
C19). Every cell that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, tab or CR: OWASP's CSV injection list) is prefixed
with ``'``, so a contact field like ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from dialer.campaign.report import campaign_report
from dialer.store.store import Store

CSV_COLUMNS = ("contact", "number", "outcome", "attempts", "gate", "detail", "language", "call_id")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def report_rows_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row.get(col)) for col in CSV_COLUMNS])
    return out.getvalue()


async def campaign_report_csv(store: Store, name: str, *, reveal_by: str | None = None) -> str:
    """The CSV text; ``reveal_by`` (the operator) exports plaintext numbers, audited."""
    report = await campaign_report(store, name, reveal=reveal_by is not None)
    if reveal_by is not None:
        await store.lifecycle.record_reveal(name, reveal_by, len(report["per_contact"]))
    return report_rows_csv(report["per_contact"])
