"""Reading the CSV exports staff bring (SIS contact exports, consent exports).

Pure parsing: rows in, typed records and row errors out; the store writes them
in one transaction afterwards. Row numbers are the file's line numbers as a
spreadsheet shows them (header = row 1), so staff can find the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from dialer.consent.model import ConsentSource, Purpose
from dialer.errors import CsvError, DialerError
from dialer.model.consents import ConsentInput
from dialer.model.contact import NewContact
from dialer.numbers import normalise

T = TypeVar("T")

PHONE_COLUMNS = ("phone", "phone_number", "number", "telephone", "mobile", "cell")
ID_COLUMNS = ("id", "contact_id", "student_id", "external_id")
LANGUAGE_COLUMNS = ("language", "lang", "preferred_language")

MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


@dataclass(frozen=True)
class Parsed(Generic[T]):
    records: list[T]
    errors: list[RowError]
    rows: int


def _open_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CsvError(f"{path}: file is larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise CsvError(f"{path}: is a directory, not a CSV file") from exc
    except PermissionError as exc:
        raise CsvError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")  # many SIS exports are Windows-1252
        except UnicodeDecodeError as exc:
            raise CsvError(f"{path}: not a text file (neither UTF-8 nor Windows-1252)") from exc
    if "\x00" in text:
        raise CsvError(f"{path}: contains NUL bytes; this is not a CSV file")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvError(f"{path}: file is empty (no header row)") from exc
    except csv.Error as exc:
        raise CsvError(f"{path}: row 1: {exc}") from exc
    names = [h.strip().lower().replace(" ", "_") for h in header]
    if len(set(names)) != len(names):
        raise CsvError(f"{path}: row 1: duplicate column names")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        line = 1
        try:
            width = len(names)
            for values in reader:
                line += 1
                if not "".join(values).strip():
                    continue
                if len(values) != width:
                    yield line, {"__error__": f"has {len(values)} fields, header has {width}"}
                    continue
                # dict(zip(map)) is ~3x faster than a comprehension (100,000-row exports)
                yield line, dict(zip(names, map(str.strip, values), strict=True))
        except csv.Error as exc:
            raise CsvError(f"{path}: row {line + 1}: {exc}") from exc

    return names, rows()


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


def _parse(
    path: Path,
    names: list[str],
    rows: Iterator[tuple[int, dict[str, str]]],
    build: Callable[[int, dict[str, str]], T],
) -> Parsed[T]:
    records: list[T] = []
    errors: list[RowError] = []
    count = 0
    for line, row in rows:
        count += 1
        if "__error__" in row:
            errors.append(RowError(line, row["__error__"]))
            continue
        try:
            records.append(build(line, row))
        except DialerError as exc:
            errors.append(RowError(line, str(exc)))
    if count == 0:
        raise CsvError(f"{path}: no data rows after the header")
    return Parsed(records, errors, count)


def read_contacts(path: Path, default_region: str, default_language: str) -> Parsed[NewContact]:
    """Contacts: a phone column (phone, number, mobile...), optional id and language;
    every other column becomes a per-contact field for message templates."""
    names, rows = _open_rows(path)
    phone = _pick(names, PHONE_COLUMNS)
    if phone is None:
        raise CsvError(
            f"{path}: no phone column; expected one of: {', '.join(PHONE_COLUMNS)} "
            f"(found: {', '.join(names)})"
        )
    ident = _pick(names, ID_COLUMNS)
    lang = _pick(names, LANGUAGE_COLUMNS)
    extra = [n for n in names if n not in (phone, ident, lang)]

    def build(line: int, row: dict[str, str]) -> NewContact:
        number = normalise(row[phone], default_region)
        language = (row.get(lang, "") if lang else "").lower() or default_language
        return NewContact(
            external_id=row[ident] if ident and row[ident] else f"row-{line}",
            number=number,
            language=language[:2],
            fields={n: row[n] for n in extra if row[n]},
        )

    return _parse(path, names, rows, build)


CONSENT_COLUMNS = {
    "phone": "the phone number (any format; E.164 preferred)",
    "scope": "purpose the consent covers: school, informational or telemarketing",
    "source": "enrollment, web-form, staff, keypad or import",
    "method": "how it was obtained, e.g. 'enrollment form 2026-27'",
    "obtained_at": "when, ISO 8601 with time zone (2026-08-15T09:30:00Z) or a date (UTC)",
    "disclosure": "the disclosure text shown, or its SHA-256",
    "evidence_ref": "where the evidence is kept, e.g. 'SIS:form/4411'",
    "contact": "who gave the consent: name or id (stored encrypted); rows without it "
    "are refused unless --no-contact is given (C3)",
    "written": "optional: yes for prior express written consent",
    "signature_ref": "required when written=yes",
}
_REQUIRED_CONSENT = (
    "phone",
    "scope",
    "source",
    "method",
    "obtained_at",
    "disclosure",
    "evidence_ref",
)


def _parse_time(text: str) -> dt.datetime:
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CsvError(f"obtained_at {text!r} is not an ISO 8601 date/time") from exc
    if moment.tzinfo is None:
        raise CsvError(f"obtained_at {text!r} needs a time zone (e.g. Z or -05:00)")
    return moment.astimezone(dt.UTC)


_SCOPES = {p.value: p for p in Purpose}
_SOURCES = {s.value: s for s in ConsentSource}


def read_consents(
    path: Path, default_region: str, now: dt.datetime, *, no_contact: bool = False
) -> Parsed[ConsentInput]:
    """Consent exports (C3): see ``CONSENT_COLUMNS`` for the documented format.
    ``no_contact``: rows without a contact are accepted (and recorded as such)."""
    names, rows = _open_rows(path)
    missing = [c for c in _REQUIRED_CONSENT if c not in names]
    if missing:
        raise CsvError(f"{path}: missing column(s): {', '.join(missing)}")

    # an export lists a number once per scope or per child: parse each text once
    number = lru_cache(maxsize=65536)(normalise)

    def build(line: int, row: dict[str, str]) -> ConsentInput:
        scope = _SCOPES.get(row["scope"].lower())
        if scope is None:
            raise CsvError(f"scope {row['scope']!r} is not school/informational/telemarketing")
        source = _SOURCES.get(row["source"].lower())
        if source is None:
            choices = ", ".join(s.value for s in ConsentSource)
            raise CsvError(f"source {row['source']!r} is not one of {choices}")
        record = ConsentInput(
            number=number(row["phone"], default_region),
            scope=scope,
            source=source,
            method=row["method"],
            obtained_at=_parse_time(row["obtained_at"]),
            disclosure=row["disclosure"],
            evidence_ref=row["evidence_ref"],
            contact_ref=row.get("contact") or "",
            signature_ref=row.get("signature_ref", ""),
            written=row.get("written", "").lower() in ("yes", "y", "true", "1"),
            no_contact=no_contact and not (row.get("contact") or "").strip(),
        )
        record.validate(now)
        return record

    return _parse(path, names, rows, build)


def read_numbers(path: Path, default_region: str) -> Parsed[str]:
    """A do-not-call list: one number per line, or a CSV with a phone column."""
    names, rows = _open_rows(path)
    phone = _pick(names, PHONE_COLUMNS)
    if phone is None:
        raise CsvError(f"{path}: no phone column; expected one of: {', '.join(PHONE_COLUMNS)}")
    return _parse(path, names, rows, lambda _line, row: normalise(row[phone], default_region))
