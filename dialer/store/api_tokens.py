"""API tokens (SQL only; the rules are in ``dialer.accounts.tokens``).

A token is stored by its SHA-256 only: a token is 256 random bits, so a fast
hash is enough (no password stretching needed) and a copy of the database
cannot be used to call the API. Creating and revoking a token are audit
entries naming the user and who did it (C19); a disabled account's tokens stop
working at once (the look-up joins the account and checks it is active).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.model.api_token import ApiToken
from dialer.model.user import User
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts
from dialer.store.users import _USER_COLUMNS, _user

#: last_used_at is written at most this often (one write per minute, not per request)
TOUCH_EVERY = dt.timedelta(seconds=60)


def _token(r: Any) -> ApiToken:
    return ApiToken(
        id=int(r[0]),
        user=str(r[1]),
        label=str(r[2]),
        created_at=parse_ts(r[3]),
        created_by=str(r[4]),
        last_used_at=parse_ts(r[5]) if r[5] else None,
        revoked_at=parse_ts(r[6]) if r[6] else None,
    )


class ApiTokenStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def add(self, user: User, token_sha256: str, label: str, created_by: str) -> ApiToken:
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO api_tokens (token_sha256, user_id, label, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_sha256, user.id, label, ts(now), created_by),
            )
            token_id = cursor.lastrowid
            await audit.append(
                conn,
                self.sealer,
                "api-token-created",
                {"user": user.name, "token": token_id, "label": label, "by": created_by},
                now,
            )
        [token] = [t for t in await self.of_user(user.name) if t.id == token_id]
        return token

    async def of_user(self, name: str) -> list[ApiToken]:
        rows = await self.db.fetchall(
            "SELECT t.id, u.name, t.label, t.created_at, t.created_by, t.last_used_at, "
            "t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE u.name = ? ORDER BY t.id",
            (name,),
        )
        return [_token(r) for r in rows]

    async def all(self) -> list[ApiToken]:
        """Every token of every user, oldest first (revoked ones too: the record)."""
        rows = await self.db.fetchall(
            "SELECT t.id, u.name, t.label, t.created_at, t.created_by, t.last_used_at, "
            "t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
        )
        return [_token(r) for r in rows]

    async def user_for(self, token_sha256: str, created_after: dt.datetime) -> User | None:
        """The active account a live token belongs to, or None; stamps its use.

        ``created_after``: tokens created at or before it have expired
        (``web.api_token_days``; ``ts`` text orders like time).
        """
        row = await self.db.fetchone(
            f"SELECT t.id, t.last_used_at, {_USER_COLUMNS} FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id "
            "WHERE t.token_sha256 = ? AND t.revoked_at IS NULL AND t.created_at > ?",
            (token_sha256, ts(created_after)),
        )
        if row is None:
            return None
        user = _user(row[2:])
        if not user.active:
            return None
        now = self.clock()
        if row[1] is None or now - parse_ts(row[1]) > TOUCH_EVERY:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (ts(now), int(row[0]))
                )
        return user

    async def revoke_all(self, user: User, by: str) -> int:
        """Revoke every live token of ``user`` (audited); returns how many."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                (ts(now), user.id),
            )
            count = cursor.rowcount
            if count:
                await audit.append(
                    conn,
                    self.sealer,
                    "api-tokens-revoked",
                    {"user": user.name, "tokens": count, "by": by},
                    now,
                )
        return count
