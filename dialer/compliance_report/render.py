"""The C20 report for people: rich tables, violations in red."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

_STATUS_STYLE = {
    "ok": "green",
    "violation": "bold red",
    "unverified": "bold yellow",
    "evidence": "cyan",
}
#: the dial-time rules (``dialtime.RULES``) as the "must be zero" table names them
_RULE_TITLES = {
    "caller-id": "calls from a caller ID not on the allowlist (C14)",
    "erased": "calls to an erased number (C17)",
    "wrong-party": "calls to a number suppressed as wrong party (C16)",
    "revoked-emergency": "emergency calls to a revoked number without override (C6)",
    "override-claimed": "calls marked as overridden without an override (C6)",
    "company-dnc": "calls to the organisation's DNC list (C4)",
    "national-dnc": "telemarketing calls to the national DNC list (C15)",
}


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    return table


def _fmt(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items() if k != "call_ids")


def render_report(data: dict[str, Any], console: Console) -> None:
    """The report for people: a few rich tables, violations in red."""
    period = data["period"]
    console.print(
        Text.assemble(
            ("Compliance report", "bold"),
            f" {period['since'] or 'beginning'} to {period['until'] or 'now'} "
            f"(generated {data['generated_at']})",
        )
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
                (
                    "hotline opt-outs without a verified caller ID (dialer contacts review)",
                    rev.get("hotline_unattested", 0),
                ),
            ],
        )
    )
    window, consent = data["calls_outside_window"], data["calls_without_required_consent"]
    chain = data["audit_chain"]
    caps = data["frequency_caps"]
    rows: list[tuple[Any, ...]] = [
        (
            "calls outside the window (C12)",
            window["count"],
            window["checked"],
            window["unverifiable"],
            " ".join(window["call_ids"] + window.get("unverifiable_call_ids", [])),
        ),
        (
            "calls without required consent",
            consent["count"],
            consent["checked"],
            consent["unverifiable"],
            " ".join(consent["call_ids"] + consent.get("unverifiable_call_ids", [])),
        ),
        (
            "calls over a frequency cap (C13)",
            caps["count"],
            caps["checked"],
            0,
            " ".join(caps["call_ids"]),
        ),
    ]
    for rule, figures in data["dial_time"]["rules"].items():
        rows.append(
            (
                _RULE_TITLES.get(rule, rule),
                figures["violations"],
                figures["checked"],
                figures["unverifiable"],
                " ".join(figures["call_ids"] + figures["unverifiable_call_ids"]),
            )
        )
    console.print(
        _table("Must be zero", ["check", "count", "checked", "not checkable", "call ids"], rows)
    )
    console.print(
        Text.assemble(
            "audit chain: ",
            ("intact", "green") if chain["ok"] else ("BROKEN", "bold red"),
            f", {chain['entries']} entries" if chain["ok"] else f": {chain['error']}",
        )
    )
    table = Table(title="Requirements", title_justify="left", show_lines=False)
    for column in ("req", "title", "status", "evidence", "tests"):
        table.add_column(column, overflow="fold")
    for r in data["requirements"]:
        style = _STATUS_STYLE[r["status"]]
        table.add_row(
            r["id"],
            r["title"],
            Text(r["status"], style=style),
            Text.assemble(r["evidence"], "\n", (_fmt(r["figures"]), "dim")),
            r["tests"],
        )
    console.print(table)
    # "no violations" only when every rule was checked for every placed call (C20)
    broken = any(r["status"] == "violation" for r in data["requirements"]) or not chain["ok"]
    if data["ok"]:
        verdict = Text.assemble(
            ("no violations found", "green"), " (every rule checked for every placed call)"
        )
    elif broken:
        verdict = Text("VIOLATIONS FOUND", style="bold red")
    else:
        verdict = Text.assemble(
            ("NOT VERIFIED", "bold yellow"),
            ": some calls could not be checked against "
            f"{', '.join(data['unverified'])} (see 'not checkable'): a finding, not a pass",
        )
    console.print(Text.assemble("verdict: ", verdict))
