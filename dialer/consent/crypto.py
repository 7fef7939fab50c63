"""Keys, the keyed blind index and encryption at rest (C17, C18, C19).

One 32-byte master key lives in a 0600 key file made by ``dialer init``. Three
independent subkeys are derived from it with HKDF, so a leak of one use does
not weaken the others:

- ``index``: HMAC-SHA256 of the E.164 number, the only form in which a number
  is looked up or joined on (a "blind index"). It is also the suppression
  entry that survives erasure (C17): without the key nobody can tell which
  number it stands for, with it a re-imported number still matches.
- ``seal``: AES-256-GCM for the values we must be able to read back (the
  number to dial, a contact's fields). A fresh 96-bit nonce per value.
- ``audit``: the HMAC key of the audit chain (C19), so an attacker who can edit
  the database file cannot recompute a valid chain.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dialer.errors import ConfigError, StoreError
from dialer.settings import read_secret_file, write_secret_file

_KEY_BYTES = 32
_NONCE_BYTES = 12


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dialer/" + purpose).derive(
        master
    )


@dataclass(frozen=True)
class Keys:
    index: bytes
    seal: bytes
    audit: bytes

    @classmethod
    def from_master(cls, master: bytes) -> Keys:
        if len(master) != _KEY_BYTES:
            raise ConfigError(f"store key must be {_KEY_BYTES} bytes, got {len(master)}")
        return cls(
            index=_derive(master, b"index"),
            seal=_derive(master, b"seal"),
            audit=_derive(master, b"audit"),
        )


def create_key_file(path: Path) -> None:
    """Write a new random master key, 0600 from the first byte (C18)."""
    if path.exists():
        raise ConfigError(f"key file {path} already exists; refusing to overwrite it")
    write_secret_file(path, base64.b64encode(os.urandom(_KEY_BYTES)).decode() + "\n")


def load_keys(path: Path) -> Keys:
    text = read_secret_file(path, "store.key_file")
    try:
        master = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ConfigError(f"key file {path} is not valid base64") from exc
    return Keys.from_master(master)


class Sealer:
    """Blind index and authenticated encryption with the store's keys."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._aead = AESGCM(keys.seal)

    def index(self, e164: str) -> str:
        """Keyed hash used for every lookup of a number (never the number itself)."""
        # hmac.digest: the one-shot C path, ~3x faster than building an HMAC object
        return hmac.digest(self._keys.index, e164.encode(), "sha256").hex()

    def seal(self, plaintext: str, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context or None)

    def open(self, sealed: bytes, context: bytes = b"") -> str:
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context or None
            ).decode()
        except InvalidTag as exc:
            raise StoreError(
                "cannot decrypt a stored value: the key file does not match this database"
            ) from exc

    def audit_mac(self, data: bytes) -> str:
        return hmac.digest(self._keys.audit, data, "sha256").hex()
