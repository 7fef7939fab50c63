"""Staff phones as the store returns them (issue 14)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class StaffPhone:
    number: str  # E.164, decrypted in memory only
    label: str
    added_at: dt.datetime
    added_by: str
