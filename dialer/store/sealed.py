"""The registry of sealed and blind-index columns (contract 4: proof owns the crypto).

Every AES-GCM value in the database is bound to its place: the associated data
is (table, column, row id) (``Sealer.seal_field``), so a ciphertext copied to
another row or column does not open. Every keyed hash of a number (a blind
index) is listed too. Key rotation (``dialer.store.rotation``) walks both
lists: it re-seals every sealed column and re-indexes every blind-index column
in one transaction. A table that adds a sealed or blind-index column registers
it here, in this module, next to the others (a test compares this registry with
the schema: an unregistered ``*_sealed`` or ``*number_hash`` column fails it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    #: the column whose value is the row id in the associated data
    id_column: str


@dataclass(frozen=True)
class IndexColumn:
    """A column holding ``Sealer.index`` of a number (or NULL)."""

    table: str
    column: str


SEALED_COLUMNS: dict[tuple[str, str], SealedColumn] = {}
INDEX_COLUMNS: dict[tuple[str, str], IndexColumn] = {}


def sealed_column(table: str, column: str, id_column: str) -> SealedColumn:
    if (table, column) in SEALED_COLUMNS:
        raise ValueError(f"{table}.{column} is already registered as sealed")
    entry = SealedColumn(table, column, id_column)
    SEALED_COLUMNS[(table, column)] = entry
    return entry


def index_column(table: str, column: str) -> IndexColumn:
    if (table, column) in INDEX_COLUMNS:
        raise ValueError(f"{table}.{column} is already registered as a blind index")
    entry = IndexColumn(table, column)
    INDEX_COLUMNS[(table, column)] = entry
    return entry


CONSENT_CONTACT = sealed_column("consents", "contact_sealed", "id")
CALLER_ID_NUMBER = sealed_column("caller_ids", "number_sealed", "number_hash")
CONTACT_NUMBER = sealed_column("contacts", "number_sealed", "id")
CONTACT_FIELDS = sealed_column("contacts", "fields_sealed", "id")
CAMPAIGN_CALLER_ID = sealed_column("campaigns", "caller_id_sealed", "id")
#: issue 14: staff phones, the only numbers test calls and recording calls ring
STAFF_PHONE_NUMBER = sealed_column("staff_phones", "number_sealed", "number_hash")

for _table, _column in (
    ("consents", "number_hash"),
    ("revocations", "number_hash"),
    ("dnc_company", "number_hash"),
    ("dnc_national", "number_hash"),
    ("suppressions", "number_hash"),
    ("caller_ids", "number_hash"),
    ("contacts", "number_hash"),
    # which contacts have a number, in number order (issue 11)
    ("contact_numbers", "number_hash"),
    ("campaigns", "caller_id_hash"),
    ("attempts", "number_hash"),
    # ``Sealer.index`` of a contact list's digest (preflight): re-indexed like a number
    ("campaign_list_fingerprints", "fingerprint"),
    ("staff_phones", "number_hash"),
):
    index_column(_table, _column)
