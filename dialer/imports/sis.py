"""Flat SIS exports: one row per student-guardian pair, several phones (issue 12).

The exports of common student-information and notification systems look like::

    student_id,student_name,guardian_name,relationship,home_phone,mobile_phone,work_phone,language

Each row gives up to one contact per phone: the student (``external_id``),
who answers (the guardian), the SIS label (home, mobile, work) and the
guardian's order of phones (the mapping's order: first = primary). A row
marked restricted ("no contact", custody restriction) is never loaded, so it
can never be called about that student. Staff whose SIS names the columns
differently save a mapping by name (``dialer contacts mapping add``).

Numbers are read with the care exports need: a spreadsheet turns
``2025550123`` into ``2.02555E+09`` or ``2025550123.0`` and drops a leading
zero; such cells are refused with that explanation. An extension
(``x123``) is kept with the contact, never dialled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from dialer.errors import CsvError, DialerError, NumberError
from dialer.masking import mask_text
from dialer.model.contact import ColumnMapping, NewContact
from dialer.numbers import normalise_with_zones

#: what each mapped field may be called in an export (normalised header names)
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "student_id": ("student_id", "studentid", "student_number", "student_sis_id", "id"),
    "student_name": ("student_name", "student", "student_full_name"),
    "guardian_id": ("guardian_id", "parent_id", "contact_id", "guardian_sis_id"),
    "guardian_name": ("guardian_name", "guardian", "parent_name", "contact_name"),
    "relationship": ("relationship", "relation", "guardian_relationship"),
    "language": ("language", "home_language", "preferred_language", "lang"),
    "restricted": ("restricted", "no_contact", "custody_restriction", "do_not_contact"),
    "custodial": ("custodial", "custody", "has_custody"),
    "lives_with": ("lives_with", "lives_with_student", "resides_with"),
    "emergency_only": ("emergency_only", "emergency_calls_only"),
}
#: phone columns and their SIS label, in the default order of priority
DEFAULT_PHONES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("home", ("home_phone", "home", "phone_home")),
    ("mobile", ("mobile_phone", "cell_phone", "mobile", "cell", "phone_mobile")),
    ("work", ("work_phone", "work", "phone_work", "business_phone")),
)
#: the fields a flat export must have mapped
REQUIRED = ("student_id",)
_TRUE = frozenset({"yes", "y", "true", "1", "x"})
_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+")
_DECIMAL_ZERO = re.compile(r"\+?[0-9]{7,}\.0+")


def looks_like_flat_sis(names: list[str], plain_phone_columns: tuple[str, ...]) -> bool:
    """A flat SIS export: labelled phone columns (home_phone, mobile_phone...) with a
    student id, or without any plain phone column (then a mapping must say more)."""
    has_student = any(n in names for n in DEFAULT_COLUMNS["student_id"][:-1])
    has_labelled = any(n in names for _, options in DEFAULT_PHONES for n in options[:2])
    has_plain = any(n in names for n in plain_phone_columns)
    return has_labelled and (has_student or not has_plain)


#: language names SIS exports write, as the codes prompts and recordings use
LANGUAGE_NAMES = {
    "english": "en",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "vietnamese": "vi",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "zh",
    "arabic": "ar",
    "french": "fr",
    "haitian creole": "ht",
    "portuguese": "pt",
    "russian": "ru",
    "korean": "ko",
    "somali": "so",
    "tagalog": "tl",
}


def language_code(text: str, default_language: str) -> str:
    """``es`` for ``Spanish``, ``es-MX`` or ``es``; the default when empty."""
    name = text.strip().lower()
    if not name:
        return default_language
    return LANGUAGE_NAMES.get(name, name[:2])


@dataclass(frozen=True)
class SisColumns:
    """A flat export's header resolved against a mapping (picklable for workers)."""

    fields: tuple[tuple[str, int], ...]
    phones: tuple[tuple[str, int], ...]
    extra: tuple[tuple[str, int], ...]

    @classmethod
    def resolve(
        cls, names: list[str], path: str, mapping: ColumnMapping | None = None
    ) -> SisColumns:
        index = {n: i for i, n in enumerate(names)}
        chosen: dict[str, int] = {}
        for name, options in DEFAULT_COLUMNS.items():
            wanted = (mapping.fields.get(name),) if mapping and name in mapping.fields else options
            for option in wanted:
                if option is not None and option in index:
                    chosen[name] = index[option]
                    break
            else:
                if mapping and name in mapping.fields:
                    raise CsvError(
                        f"{path}: row 1: the mapping names column {mapping.fields[name]!r} "
                        f"for {name}, but the file has no such column "
                        f"(found: {', '.join(names)})"
                    )
        phones: list[tuple[str, int]] = []
        if mapping and mapping.phones:
            for kind, column in mapping.phones:
                if column not in index:
                    raise CsvError(
                        f"{path}: row 1: the mapping names column {column!r} for the {kind} "
                        f"phone, but the file has no such column (found: {', '.join(names)})"
                    )
                phones.append((kind, index[column]))
        else:
            for kind, options in DEFAULT_PHONES:
                found = next((index[o] for o in options if o in index), None)
                if found is not None:
                    phones.append((kind, found))
        missing = [name for name in REQUIRED if name not in chosen]
        if missing or not phones:
            what = ", ".join(missing + ([] if phones else ["a phone column"]))
            raise CsvError(
                f"{path}: row 1: no column for {what} (found: {', '.join(names)}); "
                "save a mapping for this export with 'dialer contacts mapping add'"
            )
        used = set(chosen.values()) | {i for _, i in phones}
        return cls(
            fields=tuple(chosen.items()),
            phones=tuple(phones),
            extra=tuple((n, i) for i, n in enumerate(names) if i not in used),
        )

    def targets(
        self, line: int, values: list[str], region: str, default_language: str
    ) -> tuple[list[NewContact], list[str], bool]:
        """The row's contacts, the problems of its phone cells, and whether it was
        skipped as restricted. Raises ``InputError`` when the row has no student."""
        got = {name: values[i] for name, i in self.fields}
        student = got.get("student_id", "")
        if not student:
            raise CsvError("no student id")
        if got.get("restricted", "").lower() in _TRUE:
            return [], [], True
        language = language_code(got.get("language", ""), default_language)
        guardian = got.get("guardian_id", "") or got.get("guardian_name", "")
        purposes = ("emergency",) if got.get("emergency_only", "").lower() in _TRUE else ()
        details = {
            name: got[name]
            for name in ("student_name", "guardian_name", "relationship", "custodial", "lives_with")
            if got.get(name)
        }
        details.update({name: values[i] for name, i in self.extra if values[i]})
        contacts: list[NewContact] = []
        problems: list[str] = []
        rank = 0
        for kind, i in self.phones:
            raw = values[i]
            if not raw:
                continue
            try:
                number, zones, extension = read_phone(raw, region)
            except DialerError as exc:
                problems.append(f"{kind} phone: {exc}")
                continue
            rank += 1
            fields = dict(details)
            if extension:
                fields["extension"] = extension
            contacts.append(
                NewContact(
                    external_id=student,
                    number=number,
                    language=language,
                    fields=fields,
                    zones=zones,
                    guardian_id=guardian,
                    phone_kind=kind,
                    phone_rank=rank,
                    purposes=purposes,
                )
            )
        if not contacts and not problems:
            problems.append("no phone number")
        return contacts, problems, False


def read_phone(raw: str, region: str) -> tuple[str, tuple[str, ...], str]:
    """(E.164, zones, extension) of one phone cell, with spreadsheet damage explained."""
    text = raw.strip()
    if _SCIENTIFIC.fullmatch(text):
        raise NumberError(
            f"{mask_text(text)} is a number a spreadsheet rounded (scientific notation); "
            "export the phone column as text"
        )
    if _DECIMAL_ZERO.fullmatch(text):
        raise NumberError(
            f"{mask_text(text)} was stored as a decimal number by a spreadsheet; "
            "export the phone column as text"
        )
    extension = ""
    try:
        parsed = phonenumbers.parse(text, region)
        extension = parsed.extension or ""
    except phonenumbers.NumberParseException:
        pass
    try:
        number, zones = normalise_with_zones(text, region)
    except NumberError:
        if text.isdigit() and not text.startswith("0"):
            try:
                normalise_with_zones("0" + text, region)
            except NumberError:
                pass
            else:
                raise NumberError(
                    f"{mask_text(text)} lost its leading 0 (a spreadsheet drops it); "
                    "export the phone column as text"
                ) from None
        raise
    return number, zones, extension
