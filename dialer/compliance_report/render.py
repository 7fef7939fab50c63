"""The C20 report for people: rich tables, violations in red."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

_STATUS_STYLE = {"ok": "green", "violation": "bold red", "evidence": "cyan"}


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _fmt(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items() if k != "call_ids")


def render_report(data: dict[str, Any], console: Console) -> None:
    """The report for people: a few rich tables, violations in red."""
    period = data["period"]
    console.print(
        f"[bold]Compliance report[/] {period['since'] or 'beginning'} to "
        f"{period['until'] or 'now'} (generated {data['generated_at']})"
    )
    console.print(
        _table(
            "Calls placed by purpose", ["purpose", "calls"], data["calls_placed_by_purpose"].items()
        )
    )
    console.print(
        _table(
            "Calls blocked by reason",
            ["reason", "calls"],
            data["calls_blocked_by_reason"].items() or [("(none)", 0)],
        )
    )
    rev = data["revocations"]
    console.print(_table("Revocations by channel", ["channel", "count"], rev["by_channel"].items()))
    nxt = rev["next_attempt"]
    delay = rev["seconds_received_to_recorded"]
    console.print(
        _table(
            "Time from revocation to effect",
            ["figure", "value"],
            [
                ("received -> recorded, max s", delay["max"]),
                ("received -> recorded, median s", delay["median"]),
                ("next attempt blocked", nxt["blocked"]),
                (
                    "next attempt allowed by emergency override",
                    nxt["allowed_by_emergency_override"],
                ),
                ("next attempt allowed after new consent", nxt["allowed_after_new_consent"]),
                ("next attempt allowed IN VIOLATION (must be 0)", nxt["allowed_in_violation"]),
                (
                    "calls placed before the revocation was recorded",
                    rev["calls_between_received_and_recorded"],
                ),
            ],
        )
    )
    window, consent = data["calls_outside_window"], data["calls_without_required_consent"]
    chain = data["audit_chain"]
    console.print(
        _table(
            "Must be zero",
            ["check", "count", "checked", "call ids"],
            [
                (
                    "calls outside the window (C12)",
                    window["count"],
                    window["checked"],
                    " ".join(window["call_ids"]),
                ),
                (
                    "calls without required consent",
                    consent["count"],
                    consent["checked"],
                    " ".join(consent["call_ids"]),
                ),
                (
                    "calls over a frequency cap (C13)",
                    data["frequency_caps"]["count"],
                    data["frequency_caps"]["checked"],
                    " ".join(data["frequency_caps"]["call_ids"]),
                ),
            ],
        )
    )
    console.print(
        f"audit chain: {'[green]intact[/]' if chain['ok'] else '[bold red]BROKEN[/]'}"
        + (f", {chain['entries']} entries" if chain["ok"] else f": {chain['error']}")
    )
    table = Table(title="Requirements", title_justify="left", show_lines=False)
    for column in ("req", "title", "status", "evidence", "tests"):
        table.add_column(column, overflow="fold")
    for r in data["requirements"]:
        style = _STATUS_STYLE[r["status"]]
        table.add_row(
            r["id"],
            r["title"],
            f"[{style}]{r['status']}[/]",
            f"{r['evidence']}\n[dim]{_fmt(r['figures'])}[/]",
            r["tests"],
        )
    console.print(table)
    verdict = "[green]no violations found[/]" if data["ok"] else "[bold red]VIOLATIONS FOUND[/]"
    console.print(f"verdict: {verdict}")
