"""CSV exports: encodings, delimiters, row numbers, clear refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dialer.consent.model import Purpose
from dialer.csvfiles import read_consents, read_contacts
from dialer.errors import CsvError

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def _file(tmp_path: Path, text: str | bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_contacts_semicolons_cp1252_and_extra_fields(tmp_path: Path) -> None:
    text = "Student ID;Mobile;Language;Student Name\n7;(202) 555-0123;ES;Jos\xe9\n"
    parsed = read_contacts(_file(tmp_path, text.encode("cp1252")), "US", "en")
    (contact,) = parsed.records
    assert contact.number == "+12025550123"
    assert contact.external_id == "7"
    assert contact.language == "es"
    assert contact.fields == {"student_name": "José"}


def test_contact_row_errors_carry_spreadsheet_row_numbers(tmp_path: Path) -> None:
    text = "phone,name\n+12025550123,a\n\n12,b\n+12025550124,c,extra\n"
    parsed = read_contacts(_file(tmp_path, text), "US", "en")
    assert [r.number for r in parsed.records] == ["+12025550123"]
    assert [e.row for e in parsed.errors] == [4, 5]
    assert parsed.errors[0].reason.startswith("impossible phone number")
    assert parsed.errors[1].reason == "has 3 fields, header has 2"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("phone\n", "no data rows"),
        ("name,email\na,b\n", "no phone column"),
        ("phone,phone\n1,2\n", "duplicate column names"),
        (b"\x00\x01\x02binary", "NUL bytes"),
    ],
)
def test_malformed_contact_files_are_refused(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    with pytest.raises(CsvError, match=message):
        read_contacts(_file(tmp_path, content), "US", "en")


CONSENT_HEADER = "phone,scope,source,method,obtained_at,disclosure,evidence_ref,contact\n"


def test_c3_consent_rows_parse_with_provenance(tmp_path: Path) -> None:
    text = (
        CONSENT_HEADER
        + "+12025550123,school,enrollment,form,2026-08-15T09:30:00Z,text,SIS:1,parent\n"
    )
    (record,) = read_consents(_file(tmp_path, text), "US", NOW, zone="UTC").records
    assert record.scope is Purpose.SCHOOL
    assert record.obtained_at == dt.datetime(2026, 8, 15, 9, 30, tzinfo=dt.UTC)
    assert len(record.disclosure_sha256()) == 64


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("+12025550123,school,enrollment,form,2026-08-15T09:30:00,text,SIS:1", "time zone"),
        ("+12025550123,sales,enrollment,form,2026-08-15,text,SIS:1", "scope"),
        ("+12025550123,school,rumour,form,2026-08-15,text,SIS:1", "source"),
        ("+12025550123,school,enrollment,form,2026-08-15,,SIS:1", "missing disclosure"),
        ("+12025550123,school,enrollment,form,2026-08-15,text,", "evidence reference"),
        ("+12025550123,telemarketing,web-form,form,2026-08-15,text,W:1", "written"),
        ("+12025550123,school,enrollment,form,2027-08-15,text,SIS:1", "future"),
    ],
)
def test_c3_incomplete_consent_rows_are_reported(tmp_path: Path, row: str, reason: str) -> None:
    path = _file(tmp_path, CONSENT_HEADER + row + ",parent\n")
    parsed = read_consents(path, "US", NOW, zone="UTC")
    assert parsed.records == []
    assert parsed.errors[0].row == 2
    assert reason in parsed.errors[0].reason


def test_c3_consent_without_contact_only_with_no_contact(tmp_path: Path) -> None:
    """C3 (issue 7): a record that names nobody is refused unless staff say so."""
    row = "+12025550123,school,keypad,keypad opt-in,2026-08-15T09:30:00Z,text,call:1,\n"
    path = _file(tmp_path, CONSENT_HEADER + row)
    refused = read_consents(path, "US", NOW, zone="UTC")
    assert refused.records == [] and "missing contact" in refused.errors[0].reason
    assert "--no-contact" in refused.errors[0].reason
    (record,) = read_consents(path, "US", NOW, zone="UTC", no_contact=True).records
    assert record.no_contact and record.contact_ref == ""


def test_consent_file_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match="missing column"):
        read_consents(_file(tmp_path, "phone,scope\n1,school\n"), "US", NOW, zone="UTC")


@pytest.mark.parametrize(
    ("zone", "utc"),
    [
        ("America/Chicago", dt.datetime(2026, 8, 15, 5, 0, tzinfo=dt.UTC)),  # CDT, UTC-5
        ("America/New_York", dt.datetime(2026, 8, 15, 4, 0, tzinfo=dt.UTC)),  # EDT, UTC-4
        ("Pacific/Honolulu", dt.datetime(2026, 8, 15, 10, 0, tzinfo=dt.UTC)),
        ("UTC", dt.datetime(2026, 8, 15, 0, 0, tzinfo=dt.UTC)),
    ],
)
def test_c3_date_only_obtained_at_is_the_day_in_the_organisations_zone(
    tmp_path: Path, zone: str, utc: dt.datetime
) -> None:
    """A form signed on 15 August in Chicago was not signed at 19:00 on the 14th
    (UTC midnight read as Chicago time); the start of the local day, never later."""
    row = "+12025550123,school,enrollment,form,2026-08-15,text,SIS:1,parent\n"
    (record,) = read_consents(_file(tmp_path, CONSENT_HEADER + row), "US", NOW, zone=zone).records
    assert record.obtained_at == utc
