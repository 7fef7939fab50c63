"""Item 7: the CSV report: masked numbers (C18), formula injection escaped,
plaintext only by an operator's --reveal, which is audited (C19)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from support.store import NUMBERS, campaign, open_store, raw

from dialer.campaign.report_csv import campaign_report_csv, csv_cell, report_rows_csv


def test_formula_cells_are_escaped() -> None:
    for bad in ('=HYPERLINK("x")', "+1******0123", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("Ada") == "Ada" and csv_cell(None) == "" and csv_cell(3) == "3"
    text = report_rows_csv([{"contact": "=cmd|' /C calc'!A0", "number": "+1******0123"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0].startswith("'=") and rows[1][1] == "'+1******0123"


async def test_c18_masked_by_default_and_reveal_is_audited(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await campaign(store, "c")
        masked = await campaign_report_csv(store, "c")
        assert NUMBERS[0] not in masked and NUMBERS[0][-4:] in masked
        with raw(tmp_path / "dialer.db") as conn:
            query = "SELECT COUNT(*) FROM audit WHERE kind='report-reveal'"
            assert conn.execute(query).fetchone()[0] == 0
        revealed = await campaign_report_csv(store, "c", reveal_by="ruiz")
        assert f"'{NUMBERS[0]}" in revealed  # plaintext, still escaped against formulas
        with raw(tmp_path / "dialer.db") as conn:
            [(payload,)] = conn.execute("SELECT payload FROM audit WHERE kind='report-reveal'")
        assert '"by":"ruiz"' in payload and '"rows":1' in payload
        await store.verify_audit()
    finally:
        await store.close()
