"""Flat SIS exports and saved column mappings (issue 12 items 1, 3, 5).

The shipped sample (samples/sis-flat-export.csv) has three siblings sharing
their mother's phones, a father whose link is restricted, an emergency-only
grandmother, a work number with an extension and a number a spreadsheet
rounded; the tests load it as staff would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.store import open_store

from dialer.errors import CsvError, NotFoundError, NumberError
from dialer.imports.sis import read_phone
from dialer.model.contact import ColumnMapping
from dialer.settings import Settings
from dialer.usecases.contacts import import_contacts

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "sis-flat-export.csv"
MAPPING = REPO / "samples" / "sis-flat-mapping.json"
SETTINGS = Settings()


async def test_a_flat_export_gives_one_contact_per_guardian_phone(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        result = await import_contacts(SETTINGS, store, SAMPLE, "families", "staff")
        version = await store.contacts.published("families")
        contacts = await store.contacts.version_contacts(version.id)
    finally:
        await store.close()
    rows = [(c.external_id, c.guardian_id, c.phone_kind, c.phone_rank, c.number) for c in contacts]
    assert rows == [
        ("S-1001", "Maria Lopez", "home", 1, "+12125550121"),
        ("S-1001", "Maria Lopez", "mobile", 2, "+12125550131"),
        ("S-1002", "Maria Lopez", "home", 1, "+12125550121"),
        ("S-1002", "Maria Lopez", "mobile", 2, "+12125550131"),
        ("S-1003", "Maria Lopez", "home", 1, "+12125550121"),
        ("S-1003", "Maria Lopez", "mobile", 2, "+12125550131"),
        # the father shares the home phone: it is his first phone too (his
        # --phones order); a campaign still calls the number once (issue 12)
        ("S-1003", "Jorge Lopez", "home", 1, "+12125550121"),
        ("S-1003", "Jorge Lopez", "work", 2, "+12125550142"),
        ("S-1004", "Sun Kim", "mobile", 1, "+12125550152"),
        ("S-1005", "Grace Brown", "home", 1, "+12125550172"),
    ]
    assert result.restricted == 1  # Paul Kim: "No Contact" -- never loaded, never called
    assert result.duplicates == 0
    by_row = {(c.external_id, c.guardian_id, c.phone_kind): c for c in contacts}
    assert by_row[("S-1003", "Jorge Lopez", "work")].fields["extension"] == "204"
    assert by_row[("S-1005", "Grace Brown", "home")].purposes == ("emergency",)
    assert by_row[("S-1001", "Maria Lopez", "home")].language == "es"  # "Spanish"
    assert by_row[("S-1001", "Maria Lopez", "home")].fields["relationship"] == "Mother"
    assert [(e.row, e.reason) for e in result.rejected] == [
        (
            9,
            "home phone: 2.12555E+09 is a number a spreadsheet rounded (scientific notation); "
            "export the phone column as text",
        )
    ]


async def test_a_saved_mapping_reads_an_export_with_other_headers(tmp_path: Path) -> None:
    renamed = tmp_path / "export.csv"
    text = SAMPLE.read_text(encoding="utf-8")
    renamed.write_text(
        text.replace("Student Number", "Pupil Ref").replace("Cell Phone", "Portable"),
        encoding="cp1252",
    )
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match=r"row 1: no column for student_id"):
            await import_contacts(SETTINGS, store, renamed, "l", "staff")
        mapping = ColumnMapping.from_json(json.loads(MAPPING.read_text()))
        fields = {**mapping.fields, "student_id": "Pupil Ref"}
        phones = tuple((k, "portable" if k == "mobile" else c) for k, c in mapping.phones)
        await store.mappings.save("ours", ColumnMapping(fields, phones), "staff", replace=False)
        result = await import_contacts(SETTINGS, store, renamed, "l", "staff", mapping="ours")
        assert result.imported == 10
        with pytest.raises(NotFoundError, match="no column mapping named 'theirs'"):
            await import_contacts(SETTINGS, store, renamed, "m", "staff", mapping="theirs")
        broken = ColumnMapping({"student_id": "Nope"}, (("home", "home_phone"),))
        await store.mappings.save("broken", broken, "staff", replace=False)
        with pytest.raises(
            CsvError, match=r"row 1: the mapping names column 'nope' for student_id"
        ):
            await import_contacts(SETTINGS, store, renamed, "n", "staff", mapping="broken")
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("2.02555E+09", "scientific notation"),
        ("2025550123.0", "stored as a decimal number"),
        ("612345678", "lost its leading 0"),
    ],
)
def test_spreadsheet_damage_is_named(cell: str, message: str) -> None:
    region = "IT" if cell == "612345678" else "US"
    with pytest.raises(NumberError, match=message):
        read_phone(cell, region)


def test_an_extension_is_kept_not_dialled() -> None:
    assert read_phone("(212) 555-0142 ext. 204", "US") == (
        "+12125550142",
        ("America/New_York",),
        "204",
    )
