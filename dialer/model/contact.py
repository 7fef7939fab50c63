"""Contacts of a list: as imported, and as the store returns them (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NewContact:
    external_id: str
    number: str  # E.164
    language: str
    fields: dict[str, str]
    #: phonenumbers' time zones of the number, resolved at import (C12)
    zones: tuple[str, ...] = ()
    #: issue 12: who answers this number about ``external_id`` (the student):
    #: the guardian's SIS id ('' on plain lists), the SIS phone label (home,
    #: mobile, work), the guardian's order of phones (1 = primary), and the
    #: purposes the number may be called for (empty: all)
    guardian_id: str = ""
    phone_kind: str = ""
    phone_rank: int = 1
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    id: int
    external_id: str
    number: str  # E.164, decrypted in memory only
    language: str
    fields: dict[str, str] = field(default_factory=dict)
    needs_review: bool = False
    #: phonenumbers' time zones of the number, stored at import (C12); empty for
    #: contacts loaded before zones were stored: the gate resolves them then
    zones: tuple[str, ...] = ()
    #: issue 12, as in NewContact
    guardian_id: str = ""
    phone_kind: str = ""
    phone_rank: int = 1
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListVersion:
    """One immutable version of a contact list (issue 11): what a campaign pins."""

    id: int
    list_id: int
    list_name: str
    state: str  # loading | published | retired
    contacts: int
    #: contacts per language, and the first contact of each (message validation)
    languages: dict[str, int] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """Which header of a flat SIS export holds what (issue 12): field -> header,
    and the phones as (SIS label, header) in the guardian's order of priority."""

    fields: dict[str, str] = field(default_factory=dict)
    phones: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"fields": self.fields, "phones": [list(p) for p in self.phones]}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ColumnMapping:
        fields = data.get("fields") or {}
        phones = data.get("phones") or []
        if not isinstance(fields, dict) or not isinstance(phones, list):
            raise ValueError("a column mapping holds 'fields' (object) and 'phones' (list)")
        return cls(
            {str(k): header_name(str(v)) for k, v in fields.items()},
            tuple((str(kind), header_name(str(column))) for kind, column in phones),
        )


def header_name(header: str) -> str:
    """A CSV header as the readers compare it: trimmed, lower case, _ for spaces."""
    return header.strip().lower().replace(" ", "_")
