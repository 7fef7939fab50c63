"""Keys, the keyed blind index and encryption at rest (C17, C18, C19).

One 32-byte master key lives in a 0600 key file made by ``dialer init``.
Independent subkeys are derived from it with HKDF, so a leak of one use does
not weaken the others:

- ``index``: HMAC-SHA256 of the E.164 number, the only form in which a number
  is looked up or joined on (a "blind index"). It is also the suppression
  entry that survives erasure (C17): without the key nobody can tell which
  number it stands for, with it a re-imported number still matches.
- ``seal``: AES-256-GCM for the values we must be able to read back (the
  number to dial, a contact's fields). A fresh 96-bit nonce per value, and the
  value's place (table, column, row id) as associated data: a ciphertext moved
  to another row or column no longer opens (``seal_field``).
- ``audit``: the HMAC key of the audit chain and of its recorded head (C19), so
  an attacker who can edit the database file cannot recompute a valid chain.
- ``row``: the HMAC key of each consent, revocation, suppression, DNC and
  override row and of the ledger that counts them (C19: data rows, not only
  the log, are tamper-evident).
- ``fingerprint``: the key's fingerprint stored in its database, so a command
  started with another database's key stops before it reads or writes anything.

Key rotation (``dialer key rotate``) replaces the master key. Numbers erased
earlier (C17) survive only as keyed hashes, so the new index cannot be computed
from the plaintext: the index is *layered* instead. The key file keeps the
index subkeys of the keys rotated away ("retired-index" lines, oldest first);
a number's index is HMAC(current, HMAC(retired..., number)), and rotation
re-indexes stored hashes as HMAC(new, old). A retired index subkey alone
reveals nothing: every stored hash has the current key's layer on top.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dialer.errors import ConfigError, StoreError
from dialer.settings import read_secret_file, write_secret_file

_KEY_BYTES = 32
_NONCE_BYTES = 12
#: row MACs are HMAC-SHA256 truncated to 128 bits (32 hex digits), NIST SP 800-107
_ROW_MAC_BYTES = 16
_RETIRED = "retired-index"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dialer/" + purpose).derive(
        master
    )


@dataclass(frozen=True)
class Keys:
    index: bytes
    seal: bytes
    audit: bytes
    row: bytes
    fingerprint: bytes
    #: index subkeys of master keys rotated away, oldest first (see module docstring)
    retired_index: tuple[bytes, ...] = field(default=())

    @classmethod
    def from_master(cls, master: bytes, retired_index: Sequence[bytes] = ()) -> Keys:
        if len(master) != _KEY_BYTES:
            raise ConfigError(f"store key must be {_KEY_BYTES} bytes, got {len(master)}")
        return cls(
            index=_derive(master, b"index"),
            seal=_derive(master, b"seal"),
            audit=_derive(master, b"audit"),
            row=_derive(master, b"row"),
            fingerprint=_derive(master, b"fingerprint"),
            retired_index=tuple(retired_index),
        )


@dataclass(frozen=True)
class KeyMaterial:
    """What a key file holds: the master key and the retired index subkeys."""

    master: bytes
    retired_index: tuple[bytes, ...] = ()

    def keys(self) -> Keys:
        return Keys.from_master(self.master, self.retired_index)

    @classmethod
    def generate(cls, retired_index: Sequence[bytes] = ()) -> KeyMaterial:
        return cls(os.urandom(_KEY_BYTES), tuple(retired_index))

    def text(self) -> str:
        lines = [base64.b64encode(self.master).decode()]
        lines += [f"{_RETIRED} {base64.b64encode(k).decode()}" for k in self.retired_index]
        return "\n".join(lines) + "\n"


def create_key_file(path: Path, material: KeyMaterial | None = None) -> KeyMaterial:
    """Write a new random master key (or ``material``), 0600 from the first byte (C18)."""
    if path.exists():
        raise ConfigError(f"key file {path} already exists; refusing to overwrite it")
    material = material or KeyMaterial.generate()
    write_secret_file(path, material.text())
    return material


def read_key_file(path: Path) -> KeyMaterial:
    text = read_secret_file(path, "store.key_file")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        master = base64.b64decode(lines[0], validate=True)
        retired: list[bytes] = []
        for number, line in enumerate(lines[1:], start=2):
            label, _, value = line.partition(" ")
            if label != _RETIRED:
                raise ConfigError(f"key file {path} line {number} is not understood")
            retired.append(base64.b64decode(value.strip(), validate=True))
    except ValueError as exc:
        raise ConfigError(f"key file {path} is not valid base64") from exc
    material = KeyMaterial(master, tuple(retired))
    material.keys()  # checks the length
    return material


def load_keys(path: Path) -> Keys:
    return read_key_file(path).keys()


def field_context(table: str, column: str, row_id: object) -> bytes:
    """The associated data binding a sealed value to its place (contract 4)."""
    return f"dialer\x1f{table}\x1f{column}\x1f{row_id}".encode()


class Sealer:
    """Blind index, authenticated encryption and MACs with the store's keys."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._aead = AESGCM(keys.seal)
        # oldest layer first; the current key's layer is always the last (outermost)
        self._index_chain = (*keys.retired_index, keys.index)

    @property
    def keys(self) -> Keys:
        return self._keys

    def index(self, e164: str) -> str:
        """Keyed hash used for every lookup of a number (never the number itself)."""
        # hmac.digest: the one-shot C path, ~3x faster than building an HMAC object
        if len(self._index_chain) == 1:
            return hmac.digest(self._keys.index, e164.encode(), "sha256").hex()
        value = e164.encode()
        for key in self._index_chain:
            value = hmac.digest(key, value, "sha256").hex().encode()
        return value.decode()

    def reindex(self, old_hash: str) -> str:
        """The hash ``old_hash`` (made by the previous key) has under this key: the
        new outermost layer (key rotation, without the plaintext)."""
        return hmac.digest(self._keys.index, old_hash.encode(), "sha256").hex()

    def seal(self, plaintext: str, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context or None)

    def open(self, sealed: bytes, context: bytes = b"") -> str:
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context or None
            ).decode()
        except (InvalidTag, ValueError) as exc:  # ValueError: too short to hold a nonce
            raise StoreError(
                "cannot decrypt a stored value: the key file does not match this database, "
                "or the value was moved or changed"
            ) from exc

    def seal_field(self, plaintext: str, table: str, column: str, row_id: object) -> bytes:
        """Seal a column value, bound to (table, column, row id) (contract 4)."""
        return self.seal(plaintext, field_context(table, column, row_id))

    def open_field(self, sealed: bytes, table: str, column: str, row_id: object) -> str:
        try:
            return self.open(sealed, field_context(table, column, row_id))
        except StoreError as exc:
            raise StoreError(
                f"cannot decrypt {table}.{column} of row {row_id}: the value was moved or "
                "changed, or the key file does not match this database"
            ) from exc

    def name_key(self, purpose: str) -> bytes:
        """A key for naming files after personal data (TTS renders of names, C18):
        without the store key nobody can test a guessed name against a file name."""
        return hmac.digest(self._keys.index, b"dialer/file-names/" + purpose.encode(), "sha256")

    def audit_mac(self, data: bytes) -> str:
        return hmac.digest(self._keys.audit, data, "sha256").hex()

    def row_mac(self, data: bytes) -> str:
        return hmac.digest(self._keys.row, data, "sha256")[:_ROW_MAC_BYTES].hex()

    def ledger_mac(self, data: bytes) -> str:
        return hmac.digest(self._keys.row, b"ledger\x1f" + data, "sha256").hex()

    def fingerprint(self, database_id: str) -> str:
        """This key's fingerprint for the database named ``database_id`` (item: the
        key belongs to its database). One-way: it reveals nothing about the key."""
        return hmac.digest(self._keys.fingerprint, database_id.encode(), "sha256").hex()
