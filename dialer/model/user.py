"""A web console account and a logged-in session (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dialer.accounts.roles import Role


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    password_hash: str
    created_at: dt.datetime
    created_by: str
    disabled_at: dt.datetime | None
    last_login_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    token_sha256: str
    user: User
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
