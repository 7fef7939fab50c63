"""The contacts import as it was before streaming (frozen reference for tests).

Issue 11 replaced the whole-file reader and the one-transaction import with a
streamed pipeline; its property test checks the new import loads exactly the
rows, and reports exactly the errors, this code did. This is a verbatim copy
of ``dialer/csvfiles.py``'s contact path and of ``ContactStore.import_list``'s
de-duplication as of commit 4397856, kept only as the test's oracle.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import CsvError, DialerError
from dialer.numbers import normalise

PHONE_COLUMNS = ("phone", "phone_number", "number", "telephone", "mobile", "cell")
ID_COLUMNS = ("id", "contact_id", "student_id", "external_id")
LANGUAGE_COLUMNS = ("language", "lang", "preferred_language")
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class OldContact:
    external_id: str
    number: str
    language: str
    fields: dict[str, str]


def _open_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CsvError(f"{path}: file is larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CsvError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise CsvError(f"{path}: is a directory, not a CSV file") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
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
                yield line, dict(zip(names, map(str.strip, values), strict=True))
        except csv.Error as exc:
            raise CsvError(f"{path}: row {line + 1}: {exc}") from exc

    return names, rows()


def _pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in names), None)


def old_read_contacts(
    path: Path, default_region: str, default_language: str
) -> tuple[list[OldContact], list[tuple[int, str]]]:
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
    records: list[OldContact] = []
    errors: list[tuple[int, str]] = []
    count = 0
    for line, row in rows:
        count += 1
        if "__error__" in row:
            errors.append((line, row["__error__"]))
            continue
        try:
            number = normalise(row[phone], default_region)
        except DialerError as exc:
            errors.append((line, str(exc)))
            continue
        language = (row.get(lang, "") if lang else "").lower() or default_language
        records.append(
            OldContact(
                external_id=row[ident] if ident and row[ident] else f"row-{line}",
                number=number,
                language=language[:2],
                fields={n: row[n] for n in extra if row[n]},
            )
        )
    if count == 0:
        raise CsvError(f"{path}: no data rows after the header")
    return records, errors


def old_loaded_rows(records: list[OldContact]) -> list[OldContact]:
    """What ``INSERT ... ON CONFLICT (list_id, external_id, number_hash) DO NOTHING``
    kept: the first row of each (id, number), in file order."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for record in records:
        key = (record.external_id, record.number)
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept
