"""Streamed consent import (issue 11 item 2, C3): all rows or none, never one long lock.

A consent export is checked whole before anything is written, staged in short
chunks the gate does not read, and published in one short transaction. These
tests break it at each step and look at what the gate and the table hold.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from support.store import Clock, counts, open_store

from dialer.errors import CsvError, StoreError
from dialer.settings import Settings
from dialer.store import consent as consent_module
from dialer.usecases.consent import import_consents

SETTINGS = Settings()
HEADER = "phone,scope,source,method,obtained_at,disclosure,evidence_ref,contact\n"


def _export(path: Path, rows: int, bad_at: set[int] = frozenset()) -> Path:  # type: ignore[assignment]
    with path.open("w") as handle:
        handle.write(HEADER)
        for i in range(rows):
            when = "2026-13-40" if i in bad_at else "2026-01-15T10:00:00Z"
            handle.write(
                f"+1212{200 + i // 10000:03d}{i % 10000:04d},school,enrollment,form,{when},"
                f"We may call you,SIS:{i},Parent {i}\n"
            )
    return path


def _batches(db: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(db)) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT batch_id, state FROM consent_batches")]


async def test_c3_an_export_is_published_whole(tmp_path: Path) -> None:
    path = _export(tmp_path / "consents.csv", 4500)
    store = await open_store(tmp_path, Clock(dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC)))
    try:
        assert await import_consents(SETTINGS, store, path, "staff") == 4500
        facts = await store.consent.facts_for("+12122004499")
        assert len(facts.consents) == 1
        assert (await store.verify_audit()).entries == 4500 + 1  # and the publication
    finally:
        await store.close()
    assert [state for _, state in _batches(tmp_path / "dialer.db")] == ["published"]


async def test_c3_one_bad_row_at_the_end_and_nothing_is_written(tmp_path: Path) -> None:
    path = _export(tmp_path / "consents.csv", 3000, bad_at={2999})
    store = await open_store(tmp_path, Clock(dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC)))
    try:
        before = counts(store.db.path)
        with pytest.raises(CsvError, match=r"1 bad row\(s\), nothing imported:\n  row 3001"):
            await import_consents(SETTINGS, store, path, "staff")
        assert counts(store.db.path) == before
    finally:
        await store.close()
    assert _batches(tmp_path / "dialer.db") == []


async def test_c3_a_failure_while_staging_removes_what_was_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _export(tmp_path / "consents.csv", 3500)
    store = await open_store(tmp_path, Clock(dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC)))
    real_stage = consent_module.ConsentStore.stage
    seen: list[int] = []

    async def stage_then_fail(self, batch_id, values, recorded_by):  # type: ignore[no-untyped-def]
        seen.append(len(values))
        if len(seen) == 3:  # the disk fills up on the third chunk
            raise StoreError("disk full")
        await real_stage(self, batch_id, values, recorded_by)
        # staged rows exist, but the gate does not see them (C3: none until all)
        assert (await self.facts_for("+12122000000")).consents == ()

    monkeypatch.setattr(consent_module.ConsentStore, "stage", stage_then_fail)
    try:
        with pytest.raises(StoreError, match="disk full"):
            await import_consents(SETTINGS, store, path, "staff")
        assert counts(store.db.path)["consents"] == 0
        # the chain records the rows staged, then each chunk removed again (with the rows)
        report = await store.verify_audit()
        assert report.entries == 2000 + 2
    finally:
        await store.close()
    assert seen[:2] == [consent_module.STAGE_ROWS] * 2
    assert _batches(tmp_path / "dialer.db") == []


async def test_c3_a_batch_left_by_a_killed_import_is_removed_by_the_next(tmp_path: Path) -> None:
    store = await open_store(tmp_path, Clock(dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC)))
    try:
        await store.consent.begin_batch("dead:1", "dead.csv", "staff")
        with closing(sqlite3.connect(tmp_path / "dialer.db")) as conn:
            conn.execute("UPDATE consent_batches SET loader_pid = 999999999")
            conn.commit()
        assert await store.consent.stale_batches() == ["dead:1"]
        path = _export(tmp_path / "consents.csv", 10)
        assert await import_consents(SETTINGS, store, path, "staff") == 10
    finally:
        await store.close()
    assert [state for _, state in _batches(tmp_path / "dialer.db")] == ["published"]
