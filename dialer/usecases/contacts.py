"""Loading a contact list from a student-information-system export.

The file is streamed into a new version of the list (``dialer.imports.contacts``,
issue 11): memory stays flat whatever its size, and nothing is visible until
the whole file went through.
"""

from __future__ import annotations

from pathlib import Path

from dialer.errors import CsvError, InputError
from dialer.imports.contacts import ContactImport, stream_contacts
from dialer.settings import Settings
from dialer.store.store import Store

__all__ = ["ContactImport", "import_contacts"]


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
    mapping: str = "",
    dry_run: bool = False,
) -> ContactImport:
    """Load ``file`` into the list ``list_name``: all its valid rows, or nothing.

    Invalid rows are skipped and returned with their row number and reason (the
    first 1,000; ``rejected_count`` counts all); with ``strict`` any invalid row
    refuses the whole file. ``shown_name``: how errors name the file (an
    upload's original name); default its path. ``mapping``: the name of a saved
    column mapping for a flat SIS export (issue 12). ``dry_run``: only work out
    what the import would change in the list (added, changed, removed).
    """
    if not list_name.strip():
        raise InputError("the contact list needs a name", field="list")
    columns = await store.mappings.get(mapping) if mapping else None
    try:
        return await stream_contacts(
            settings,
            store,
            file,
            list_name,
            operator,
            replace=replace,
            strict=strict,
            shown_name=shown_name,
            mapping=columns,
            dry_run=dry_run,
        )
    except CsvError as exc:
        raise _renamed(exc, file, shown_name) from None


def _renamed(exc: CsvError, file: Path, shown_name: str) -> CsvError:
    if not shown_name:
        exc.field = exc.field or "file"
        return exc
    return CsvError(str(exc).replace(str(file), shown_name), field="file")
