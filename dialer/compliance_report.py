"""C20 compliance report (placeholder until the audit report lands)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console

from dialer.store.store import Store


async def audit_report(
    store: Store, since: dt.datetime | None, until: dt.datetime | None
) -> dict[str, Any]:
    chain = await store.verify_audit()
    return {"audit_entries": chain.entries, "since": since, "until": until}


def render_report(data: dict[str, Any], console: Console) -> None:
    console.print(data)
