"""Loading a contact list from a student-information-system export."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dialer.csvfiles import RowError, read_contacts
from dialer.errors import CsvError, InputError
from dialer.settings import Settings
from dialer.store.store import Store

#: how many refused rows a refusal message lists (the rest are counted)
SHOWN_ROW_ERRORS = 20


@dataclass(frozen=True)
class ContactImport:
    list_name: str
    imported: int
    rejected: list[RowError]
    #: contacts per language (en, es ...), of the rows loaded
    languages: dict[str, int]


async def import_contacts(
    settings: Settings,
    store: Store,
    file: Path,
    list_name: str,
    operator: str,
    *,
    replace: bool = False,
    strict: bool = False,
    shown_name: str = "",
) -> ContactImport:
    """Load ``file`` into the list ``list_name`` in one transaction.

    Invalid rows are skipped and returned with their row number and reason; with
    ``strict`` any invalid row refuses the whole file. ``shown_name``: how errors
    name the file (an upload's original name); default its path.
    """
    if not list_name.strip():
        raise InputError("the contact list needs a name", field="list")
    try:
        parsed = read_contacts(
            file, settings.organisation.default_region, settings.audio.default_language
        )
    except CsvError as exc:
        raise _renamed(exc, file, shown_name) from None
    shown = shown_name or str(file)
    if strict and parsed.errors:
        lines = "\n".join(f"  row {e.row}: {e.reason}" for e in parsed.errors[:SHOWN_ROW_ERRORS])
        raise CsvError(
            f"{shown}: {len(parsed.errors)} invalid row(s), nothing loaded:\n{lines}", field="file"
        )
    if not parsed.records:
        raise CsvError(f"{shown}: no valid rows; nothing loaded", field="file")
    await store.contacts.import_list(list_name, parsed.records, replace=replace, operator=operator)
    languages = Counter(c.language for c in parsed.records)
    return ContactImport(list_name, len(parsed.records), parsed.errors, dict(languages))


def _renamed(exc: CsvError, file: Path, shown_name: str) -> CsvError:
    if not shown_name:
        exc.field = exc.field or "file"
        return exc
    return CsvError(str(exc).replace(str(file), shown_name), field="file")
