"""Account use-cases: the one place ``dialer users ...`` and the web console's
admin pages add, list and disable users, and where a login is decided.

A login is refused with the same message whether the account is unknown,
disabled or the password is wrong (no way to learn account names), and the
check takes the same time (``passwords.verify_password``). Attempts are
limited per account and per address (``dialer.ratelimit``): past the limit
even the right password is refused until the window passes, so guessing is
slow, and every refusal is audited with its reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dialer.accounts.passwords import hash_password, needs_rehash, verify_password
from dialer.accounts.roles import Role
from dialer.errors import InputError
from dialer.model.user import User
from dialer.ratelimit import Limiter
from dialer.store.store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

#: failed logins per account, and attempts per address, in LOGIN_WINDOW_S
DEFAULT_LOGIN_FAILURES_PER_ACCOUNT = 5
DEFAULT_LOGIN_ATTEMPTS_PER_ADDRESS = 20
DEFAULT_LOGIN_WINDOW_S = 15 * 60


class LoginRefused(InputError):
    """Wrong name or password, a disabled account, or too many attempts."""

    exit_code = 2

    def __init__(self, message: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class LoginLimits:
    per_account: Limiter
    per_address: Limiter

    @classmethod
    def default(cls) -> LoginLimits:
        return cls(
            Limiter(DEFAULT_LOGIN_FAILURES_PER_ACCOUNT, DEFAULT_LOGIN_WINDOW_S),
            Limiter(DEFAULT_LOGIN_ATTEMPTS_PER_ADDRESS, DEFAULT_LOGIN_WINDOW_S),
        )


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with "
            "a letter or digit",
            field="name",
        )
    return name


async def add_user(store: Store, name: str, role: Role, password: str, *, by: str) -> User:
    check_name(name)
    return await store.users.add(name, role, hash_password(password), by)


async def list_users(store: Store) -> list[User]:
    return await store.users.all()


async def disable_user(store: Store, name: str, *, by: str) -> User:
    """Disable an account; its sessions end at once. The last active admin stays."""
    user = await store.users.get(name)
    if user.active and user.role is Role.ADMIN and await store.users.count_admins() <= 1:
        raise InputError(
            f"{name!r} is the last active admin; add another admin before disabling this one"
        )
    return await store.users.disable(name, by)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def authenticate(
    store: Store, name: str, password: str, address: str, limits: LoginLimits
) -> User:
    """The user, or ``LoginRefused`` (audited) naming no reason an attacker could use."""
    account_key = name.strip().lower()
    wait = max(limits.per_account.retry_after(account_key), limits.per_address.retry_after(address))
    limits.per_address.hit(address)
    if wait > 0:
        await store.users.record_login(name[:64], address, ok=False, reason="rate-limited")
        raise LoginRefused(
            f"too many login attempts; try again in {_minutes(wait)}", retry_after_s=wait
        )
    user = await store.users.find(name) if _NAME.match(name) else None
    if not verify_password(user.password_hash if user else None, password) or user is None:
        limits.per_account.hit(account_key)
        await store.users.record_login(
            name[:64], address, ok=False, reason="unknown user" if user is None else "bad password"
        )
        raise LoginRefused("wrong user name or password")
    if not user.active:
        limits.per_account.hit(account_key)
        await store.users.record_login(name, address, ok=False, reason="disabled")
        raise LoginRefused("wrong user name or password")
    limits.per_account.reset(account_key)
    if needs_rehash(user.password_hash):
        await store.users.set_password_hash(user, hash_password(password))
    await store.users.record_login(name, address, ok=True)
    return user
