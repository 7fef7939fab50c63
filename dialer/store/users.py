"""Web console accounts, their sessions and submitted forms (SQL only; the rules
are in ``dialer.accounts``).

Every change to an account, every login (and refused login) and every logout
is an audit entry naming the user (C19), so "who did this from the browser"
has the same tamper-evident answer as "who did this from the terminal".
Sessions are stored by the SHA-256 of their token: the cookie's token opens a
session, a copy of the database does not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dialer.accounts.roles import Role
from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.user import Session, User
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts

_USER_COLUMNS = (
    "u.id, u.name, u.role, u.password_hash, u.created_at, u.created_by, u.disabled_at, "
    "u.last_login_at"
)


def _user(r: Any) -> User:
    return User(
        id=int(r[0]),
        name=str(r[1]),
        role=Role(r[2]),
        password_hash=str(r[3]),
        created_at=parse_ts(r[4]),
        created_by=str(r[5]),
        disabled_at=parse_ts(r[6]) if r[6] else None,
        last_login_at=parse_ts(r[7]) if r[7] else None,
    )


class UserStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    # -- accounts -----------------------------------------------------------------

    async def add(self, name: str, role: Role, password_hash: str, created_by: str) -> User:
        now = self.clock()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)) as cur:
                if await cur.fetchone():
                    raise InputError(f"a user named {name!r} already exists", field="name")
            await conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, role.value, password_hash, ts(now), created_by),
            )
            await audit.append(
                conn,
                self.sealer,
                "user-added",
                {"user": name, "role": role.value, "by": created_by},
                now,
            )
        return await self.get(name)

    async def get(self, name: str) -> User:
        user = await self.find(name)
        if user is None:
            raise NotFoundError(f"no user named {name!r}")
        return user

    async def find(self, name: str) -> User | None:
        row = await self.db.fetchone(
            f"SELECT {_USER_COLUMNS} FROM users u WHERE u.name = ?", (name,)
        )
        return _user(row) if row else None

    async def all(self) -> list[User]:
        rows = await self.db.fetchall(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.name")
        return [_user(r) for r in rows]

    async def count_admins(self) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"
        )
        return int(row[0]) if row else 0

    async def disable(self, name: str, by: str) -> User:
        """Disable an account and end its sessions at once (same transaction)."""
        user = await self.get(name)
        if not user.active:
            raise InputError(f"user {name!r} is already disabled")
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE users SET disabled_at = ? WHERE id = ?", (ts(now), user.id))
            await conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user.id,))
            await audit.append(conn, self.sealer, "user-disabled", {"user": name, "by": by}, now)
        return await self.get(name)

    async def set_password_hash(self, user: User, password_hash: str) -> None:
        """Re-hash with current parameters after a successful login (not audited: no
        change of who may log in)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user.id)
            )

    async def record_login(self, name: str, address: str, *, ok: bool, reason: str = "") -> None:
        """Audit a login attempt; a successful one also stamps ``last_login_at``."""
        now = self.clock()
        async with self.db.transaction() as conn:
            if ok:
                await conn.execute(
                    "UPDATE users SET last_login_at = ? WHERE name = ?", (ts(now), name)
                )
            payload = {"user": name, "address": address}
            if reason:
                payload["reason"] = reason
            await audit.append(
                conn, self.sealer, "web-login" if ok else "web-login-refused", payload, now
            )

    async def record_action(self, user: str, action: str, details: dict[str, Any]) -> None:
        """Audit a console action that changes nothing the store audits itself
        (a report download, a preview, a logout)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await audit.append(
                conn, self.sealer, "web-action", {"user": user, "action": action, **details}, now
            )

    # -- sessions -------------------------------------------------------------------

    async def create_session(self, token_sha256: str, user: User, csrf_token: str) -> None:
        now = ts(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO web_sessions (token_sha256, user_id, csrf_token, created_at, "
                "last_seen_at) VALUES (?, ?, ?, ?, ?)",
                (token_sha256, user.id, csrf_token, now, now),
            )

    async def session(self, token_sha256: str) -> Session | None:
        row = await self.db.fetchone(
            f"SELECT s.token_sha256, s.csrf_token, s.created_at, s.last_seen_at, {_USER_COLUMNS} "
            "FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ?",
            (token_sha256,),
        )
        if row is None:
            return None
        return Session(
            token_sha256=str(row[0]),
            csrf_token=str(row[1]),
            created_at=parse_ts(row[2]),
            last_seen_at=parse_ts(row[3]),
            user=_user(row[4:]),
        )

    async def touch_session(self, token_sha256: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE web_sessions SET last_seen_at = ? WHERE token_sha256 = ?",
                (ts(self.clock()), token_sha256),
            )

    async def end_session(self, token_sha256: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE token_sha256 = ?", (token_sha256,))

    async def end_sessions_before(
        self, created_before: dt.datetime, idle_before: dt.datetime
    ) -> int:
        """Drop expired sessions (absolute or idle limit passed)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM web_sessions WHERE created_at < ? OR last_seen_at < ?",
                (ts(created_before), ts(idle_before)),
            )
            return cursor.rowcount

    # -- forms ------------------------------------------------------------------------

    async def claim_form(self, nonce: str, user_id: int) -> str | None:
        """Mark a form as submitted. None the first time; the second time, the
        ``result_url`` of the first submission (possibly '')."""
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO web_form_submissions (nonce, user_id, submitted_at) VALUES (?, ?, ?) "
                "ON CONFLICT (nonce) DO NOTHING",
                (nonce, user_id, ts(now)),
            )
            if cursor.rowcount == 1:
                # forms older than a day cannot come back: keep the table small
                await conn.execute(
                    "DELETE FROM web_form_submissions WHERE submitted_at < ?",
                    (ts(now - dt.timedelta(days=1)),),
                )
                return None
            async with conn.execute(
                "SELECT result_url FROM web_form_submissions WHERE nonce = ?", (nonce,)
            ) as cur:
                row = await cur.fetchone()
        return str(row[0]) if row else ""

    async def release_form(self, nonce: str) -> None:
        """The action failed (nothing written): the same form may be sent again, fixed."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM web_form_submissions WHERE nonce = ?", (nonce,))

    async def form_result(self, nonce: str, url: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE web_form_submissions SET result_url = ? WHERE nonce = ?", (url, nonce)
            )
