"""An API token of a web console account (no I/O; the token itself is never kept)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiToken:
    id: int
    user: str
    label: str
    created_at: dt.datetime
    created_by: str
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expires_at(self, days: int) -> dt.datetime:
        """When it stops working under ``web.api_token_days`` = ``days``."""
        return self.created_at + dt.timedelta(days=days)

    def state(self, now: dt.datetime, days: int) -> str:
        """revoked, expired or active (what ``dialer users tokens`` shows)."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at(days) else "active"
