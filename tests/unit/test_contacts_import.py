"""Streamed contacts import (issue 11 item 2): same rows as before, nothing half-published.

The property test compares the streamed import with the pre-streaming import
(``support.legacy_import``, a frozen copy) on random valid and invalid files:
the same contacts in the same order, the same rejected rows, the same
refusals. The other tests break files in the ways real ones break.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.legacy_import import old_loaded_rows, old_read_contacts
from support.store import CALLER_ID, Clock, open_store

from dialer.consent.windows import _lookup_zones
from dialer.csvfiles import RowErrors
from dialer.errors import CsvError, InputError
from dialer.imports import contacts as contact_import
from dialer.imports import pool
from dialer.masking import mask_text
from dialer.model.campaign import MessageSpec, NewCampaign
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.usecases.contacts import import_contacts

SETTINGS = Settings()

# -- random contact files ---------------------------------------------------------

_GOOD = [
    "(212) 555-0142",
    "212-555-0143",
    "+12125550144",
    "212.555.0145",
    "+1 305 555 0146",
    "1-415-555-0147",
    "+442071838750",
    "+52 55 1234 5678",
    "(208) 555-0148",
    "907 555 0149 ext. 12",
]
_BAD = ["", "555-12", "12", "abc", "+999 1234", "0000000000", "212-555-014", "+1 212 555 01423"]
_TEXT = st.text(alphabet=st.characters(codec="cp1252", exclude_characters="\x00"), max_size=12)
_CELL = st.one_of(_TEXT, st.sampled_from(["Ana", "José", "a,b", 'say "hi"', "two\nlines", " "]))


@st.composite
def contact_files(draw: st.DrawFn) -> tuple[bytes, str]:
    phone = draw(st.sampled_from(["phone", "Phone", "mobile", "Cell", "number"]))
    ident = draw(st.sampled_from([None, "id", "Student ID", "external_id"]))
    lang = draw(st.sampled_from([None, "language", "Lang"]))
    extras = draw(st.lists(st.sampled_from(["student_name", "School", "date"]), unique=True))
    header = [h for h in (ident, phone, lang) if h] + extras
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "good", "good", "bad", "blank", "ragged", "copy"]))
        if kind == "copy" and rows:
            rows.append(list(draw(st.sampled_from(rows))))
            continue
        if kind == "blank":
            rows.append([""] * len(header))
            continue
        row = []
        for name in header:
            if name == phone:
                row.append(draw(st.sampled_from(_GOOD if kind != "bad" else _BAD)))
            elif name == ident:
                row.append(draw(st.sampled_from(["", "s-1", "s-2", "7", "s-3"])))
            elif name == lang:
                row.append(draw(st.sampled_from(["", "es", "EN", "Vietnamese", "zh"])))
            else:
                row.append(draw(_CELL))
        if kind == "ragged":
            row = [*row, "x"] if draw(st.booleans()) else row[:-1]
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # a file cut off anywhere
    return data, encoding


async def _published(store: Store, name: str) -> list[tuple[str, str, str, dict[str, str]]]:
    version = await store.contacts.published(name)
    contacts = await store.contacts.version_contacts(version.id)
    for c in contacts:
        assert c.zones == _lookup_zones(c.number), "C12: zones stored at import"
    assert version.contacts == len(contacts)
    return [(c.external_id, c.number, c.language, c.fields) for c in contacts]


def _leftovers(db: Path) -> tuple[int, int, int]:
    """Rows of unpublished versions: (contacts, number index entries, versions)."""
    with closing(sqlite3.connect(db)) as conn:
        published = "SELECT version_id FROM contact_lists WHERE version_id IS NOT NULL"
        return (
            conn.execute(
                f"SELECT COUNT(*) FROM contacts WHERE version_id NOT IN ({published})"
            ).fetchone()[0],
            conn.execute(
                "SELECT COUNT(*) FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
                f"WHERE c.version_id NOT IN ({published})"
            ).fetchone()[0]
            + conn.execute(
                "SELECT COUNT(*) FROM contact_numbers WHERE contact_id NOT IN "
                "(SELECT id FROM contacts)"
            ).fetchone()[0],
            conn.execute(
                f"SELECT COUNT(*) FROM list_versions WHERE id NOT IN ({published})"
            ).fetchone()[0],
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=contact_files(), strict=st.booleans())
def test_c12_streamed_import_loads_exactly_what_the_old_import_did(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[bytes, str], strict: bool
) -> None:
    data, _encoding = case
    root = tmp_path_factory.mktemp("prop")
    path = root / "export.csv"
    path.write_bytes(data)
    try:
        old, old_errors = old_read_contacts(path, "US", "en")
        refusal = None
        if strict and old_errors:
            refusal = f"{path}: {len(old_errors):,} invalid row(s), nothing loaded:"
        elif not old:
            refusal = f"{path}: no valid rows; nothing loaded"
    except CsvError as exc:
        old, old_errors, refusal = [], [], str(exc)

    async def run() -> None:
        store = await open_store(root, Clock())
        try:
            if refusal is not None:
                with pytest.raises(CsvError) as caught:
                    await import_contacts(SETTINGS, store, path, "l", "t", strict=strict)
                assert str(caught.value).startswith(refusal)
                assert await store.contacts.lists() == []
            else:
                result = await import_contacts(SETTINGS, store, path, "l", "t", strict=strict)
                expected = [
                    (c.external_id, c.number, c.language, c.fields) for c in old_loaded_rows(old)
                ]
                assert await _published(store, "l") == expected
                assert [(e.row, e.reason) for e in result.rejected] == old_errors
                assert result.rejected_count == len(old_errors)
                assert result.duplicates == len(old) - len(expected)
        finally:
            await store.close()
        assert _leftovers(root / "dialer.db") == (0, 0, 0)

    asyncio.run(run())


def _write_rows(path: Path, rows: int, *, start: int = 0) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "phone", "language", "student_name"])
        for i in range(start, start + rows):
            out.writerow([f"s{i}", f"+1212{200 + i // 10000:03d}{i % 10000:04d}", "en", f"N{i}"])
    return path


async def test_parallel_workers_load_the_same_rows_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_rows(tmp_path / "big.csv", 12_000)
    monkeypatch.setattr(contact_import, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(pool, "worker_count", lambda: 2)
    store = await open_store(tmp_path)
    try:
        result = await import_contacts(SETTINGS, store, path, "big", "t")
        assert result.imported == 12_000
        version = await store.contacts.published("big")
        ids = [c.external_id async for c in store.contacts.walk(version.id, page_size=997)]
        assert ids == [f"s{i}" for i in range(12_000)]
    finally:
        await store.close()


async def test_strict_refuses_the_whole_file_and_leaves_nothing(tmp_path: Path) -> None:
    path = _write_rows(tmp_path / "c.csv", 5000)
    with path.open("a") as handle:
        handle.write("s-bad,555-01,en,Bad\n")
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match=r"1 invalid row\(s\), nothing loaded:\n  row 5002"):
            await import_contacts(SETTINGS, store, path, "l", "t", strict=True)
        assert await store.contacts.lists() == []
    finally:
        await store.close()
    assert _leftovers(tmp_path / "dialer.db") == (0, 0, 0)


async def test_a_syntax_error_deep_in_the_file_publishes_nothing(tmp_path: Path) -> None:
    path = _write_rows(tmp_path / "c.csv", 30_000)
    with path.open("a") as handle:
        handle.write('s-x,+12125550100,en,"' + "x" * 200_000 + '"\n')  # over the field limit
    store = await open_store(tmp_path)
    try:
        await import_contacts(SETTINGS, store, _write_rows(tmp_path / "v1.csv", 3), "l", "t")
        with pytest.raises(CsvError, match=r"row 30002: field larger than field limit"):
            await import_contacts(SETTINGS, store, path, "l", "t", replace=True)
        # the list still holds the previous import, whole
        assert [c[0] for c in await _published(store, "l")] == ["s0", "s1", "s2"]
    finally:
        await store.close()
    assert _leftovers(tmp_path / "dialer.db") == (0, 0, 0)


async def test_a_file_cut_off_mid_row_reports_that_row(tmp_path: Path) -> None:
    full = _write_rows(tmp_path / "full.csv", 2000).read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(full[: full.rindex(b",N1999")])  # stops inside the last row
    store = await open_store(tmp_path)
    try:
        result = await import_contacts(SETTINGS, store, cut, "l", "t")
        assert result.imported == 1999
        assert [(e.row, e.reason) for e in result.rejected] == [
            (2001, "has 3 fields, header has 4")
        ]
        with pytest.raises(CsvError, match="1 invalid row"):
            await import_contacts(SETTINGS, store, cut, "strict", "t", strict=True)
    finally:
        await store.close()


async def test_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(10 * 2**30)  # 10 GiB, sparse: nothing is read
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match="file is larger than 512 MiB"):
            await import_contacts(SETTINGS, store, huge, "l", "t")
        assert await store.contacts.lists() == []
    finally:
        await store.close()


async def test_non_files_are_refused_clearly(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match="is a directory"):
            await import_contacts(SETTINGS, store, tmp_path, "l", "t")
        with pytest.raises(CsvError, match="is not a regular file"):
            await import_contacts(SETTINGS, store, Path("/dev/zero"), "l", "t")
        with pytest.raises(CsvError, match="file not found"):
            await import_contacts(SETTINGS, store, tmp_path / "nope.csv", "l", "t")
    finally:
        await store.close()


async def test_many_invalid_rows_keep_a_bounded_list_of_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    with path.open("w") as handle:
        handle.write("id,phone\n")
        handle.writelines(f"s{i},555-{i % 100:02d}\n" for i in range(20_000))
        handle.write("ok,+12125550100\n")
    store = await open_store(tmp_path)
    try:
        result = await import_contacts(SETTINGS, store, path, "l", "t")
        assert result.imported == 1
        assert result.rejected_count == 20_000
        assert len(result.rejected) == 1000
        with pytest.raises(CsvError, match=r"20,000 invalid row\(s\)[\s\S]*and 19,980 more"):
            await import_contacts(SETTINGS, store, path, "s", "t", strict=True)
    finally:
        await store.close()


async def test_replace_makes_a_new_version_and_a_campaign_keeps_its_own(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await import_contacts(SETTINGS, store, _write_rows(tmp_path / "a.csv", 4), "l", "t")
        with pytest.raises(InputError, match="already exists; use --replace"):
            await import_contacts(SETTINGS, store, _write_rows(tmp_path / "b.csv", 2), "l", "t")
        await store.consent.add_caller_id(CALLER_ID, "office", "t")
        first = await store.contacts.published("l")
        await store.campaigns.create(_spec("before", first.list_id), "t")
        await import_contacts(
            SETTINGS, store, _write_rows(tmp_path / "c.csv", 2, start=50), "l", "t", replace=True
        )
        pinned = await store.campaigns.get("before")
        assert pinned.version_id == first.id
        assert [c.external_id for c in await store.contacts.version_contacts(first.id)] == [
            "s0",
            "s1",
            "s2",
            "s3",
        ]
        assert [c[0] for c in await _published(store, "l")] == ["s50", "s51"]
        # a third import retires the second version: no campaign pins it, so it goes
        second = (await store.contacts.published("l")).id
        await import_contacts(
            SETTINGS, store, _write_rows(tmp_path / "d.csv", 1, start=70), "l", "t", replace=True
        )
        with closing(sqlite3.connect(tmp_path / "dialer.db")) as conn:
            kept = [r[0] for r in conn.execute("SELECT id FROM list_versions ORDER BY id")]
            orphans = conn.execute(
                "SELECT COUNT(*) FROM contact_numbers WHERE contact_id NOT IN "
                "(SELECT id FROM contacts)"
            ).fetchone()[0]
        assert second not in kept and first.id in kept
        assert orphans == 0
    finally:
        await store.close()


def _spec(name: str, list_id: int) -> NewCampaign:
    import datetime as dt

    from dialer.consent.model import Purpose

    return NewCampaign(
        name=name,
        purpose=Purpose.SCHOOL,
        list_id=list_id,
        message=MessageSpec("body"),
        caller_id=CALLER_ID,
        window_start=dt.time(8),
        window_end=dt.time(20),
        max_attempts=1,
        retry_delay=60,
        category=None,
        authorized_by=None,
    )


async def test_repeated_rows_are_loaded_once_and_samples_name_live_contacts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "id,phone,language\n"
        "s1,+12125550101,en\n"
        "s2,+12125550102,es\n"
        "s1,(212) 555-0101,vi\n"  # the same contact and number again: dropped
        "s3,+12125550101,vi\n"  # a sibling on the same number: kept
    )
    store = await open_store(tmp_path)
    try:
        result = await import_contacts(SETTINGS, store, path, "l", "t")
        assert (result.imported, result.duplicates) == (3, 1)
        version = await store.contacts.published("l")
        assert version.languages == {"en": 1, "es": 1, "vi": 1}
        samples = {c.language: c.external_id for c in await store.contacts.samples(version)}
        assert samples == {"en": "s1", "es": "s2", "vi": "s3"}
    finally:
        await store.close()


async def test_an_import_killed_midway_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        version = await store.contacts.begin_version(
            "l", replace=False, operator="t", source_name="x"
        )
        with closing(sqlite3.connect(tmp_path / "dialer.db")) as conn:
            conn.execute("UPDATE list_versions SET loader_pid = 999999999 WHERE id = ?", (version,))
            conn.execute(
                "INSERT INTO contacts (id, version_id, external_id, number_hash, number_sealed, "
                "zones, language, created_at) VALUES (?, ?, 'x', 'h', x'00', '', 'en', 'now')",
                ((version << 32) + 2, version),
            )
            conn.commit()
        assert await store.contacts.lists() == []  # never visible
        await import_contacts(SETTINGS, store, _write_rows(tmp_path / "a.csv", 2), "l", "t")
        assert [c[0] for c in await _published(store, "l")] == ["s0", "s1"]
    finally:
        await store.close()
    assert _leftovers(tmp_path / "dialer.db") == (0, 0, 0)


def test_encoding_scan_matches_whole_file_decoding(tmp_path: Path) -> None:
    from dialer.csvfiles import _scan

    # a UTF-8 sequence split across the 1 MiB scan blocks, then a cp1252-only byte
    body = ("a" * (2**20 - 1) + "é\n").encode("utf-8")
    (tmp_path / "u.csv").write_bytes(body)
    assert _scan(tmp_path / "u.csv") == ("utf-8-sig", False)
    (tmp_path / "w.csv").write_bytes(body + "ü".encode("cp1252"))
    assert _scan(tmp_path / "w.csv") == ("cp1252", False)
    (tmp_path / "x.csv").write_bytes(body + b"\x81\xff")
    with pytest.raises(CsvError, match="not a text file"):
        _scan(tmp_path / "x.csv")


def test_a_million_invalid_rows_still_read_as_a_count_after_masking() -> None:
    """Every message is masked (C18); a 7-digit count must not read like a phone number
    (the 1M-invalid-row benchmark printed '***0000 invalid row(s)')."""
    errors = RowErrors()
    for row in range(2, 1_000_002):
        errors.add(row, "not a phone number")
    assert len(errors.kept) == 1000
    said = mask_text(f"x.csv: {errors.count:,} invalid row(s)\n{errors.summary()}")
    assert "1,000,000 invalid row(s)" in said
    assert said.endswith("... and 999,980 more")
