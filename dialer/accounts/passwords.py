"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile) and the password policy.

Only the encoded hash is stored (it carries its own salt and parameters, so
hashes made with older parameters still verify and are re-hashed at the next
login). A password never reaches a log or an error message.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dialer.errors import InputError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

_HASHER = PasswordHasher()

#: a hash of a random password: verifying against it when the account does not
#: exist costs the same time as a real check, so timing tells no account names
_DUMMY_HASH = _HASHER.hash("no such account: constant-time dummy")


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"the password must have at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )


def hash_password(password: str) -> str:
    check_policy(password)
    return _HASHER.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing account takes the same time."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _HASHER.check_needs_rehash(encoded)
