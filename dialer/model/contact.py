"""Contacts of a list: as imported, and as the store returns them (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NewContact:
    external_id: str
    number: str  # E.164
    language: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Contact:
    id: int
    external_id: str
    number: str  # E.164, decrypted in memory only
    language: str
    fields: dict[str, str] = field(default_factory=dict)
    needs_review: bool = False
