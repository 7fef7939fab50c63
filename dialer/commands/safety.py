"""``dialer campaign preflight`` and ``campaign approve``: know before you send (issue 14).

``show_preflight`` prints the summary ``campaign start`` shows before it asks
for confirmation; ``confirm_start`` is that question (only on a terminal;
``--yes`` skips the prompt, never the checks).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from dialer.campaign.approval import approve_campaign
from dialer.campaign.preflight_check import parse_start, run_preflight
from dialer.campaign.testcall import TestCallResult, place_test_call
from dialer.commands.common import console, open_store, operator, print_json, run_async, settings


def preflight(
    name: str,
    at: str = typer.Option(
        "", "--at", help="Start time to evaluate: '2026-12-03 07:00' (organisation's zone)"
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON"),
) -> None:
    """What a campaign would do at its start time, without dialling anything.

    Counts (contacts, numbers), blocked by reason at the start time, who is outside
    their calling window and when it opens, expected duration, languages, message
    length and C8-C11 results, the rendered template texts, and warnings.

    Example: dialer campaign preflight snow-day --at "2026-12-03 06:30"
    """

    async def body() -> dict[str, Any]:
        cfg = settings()
        async with open_store(cfg) as store:
            start = parse_start(at, cfg.organisation.timezone, store.clock()) if at else None
            return await run_preflight(cfg, store, name, at=start)

    report = run_async(body)
    if json_out:
        print_json(report)
    else:
        show_preflight(report)


def approve(
    name: str,
    operator_name: str = typer.Option(
        "", "--operator", help="Who approves (default: your login name); not the creator"
    ),
) -> None:
    """Approve a campaign as the second operator (setting campaigns.approval; audited).

    Example: dialer campaign approve book-fair --operator "Principal Lee"
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            approval, status = await approve_campaign(store, cfg, name, operator_name or operator())
        note = "" if status.required else " (not required by the setting, recorded anyway)"
        console.print(
            f"campaign {name!r} approved by {approval.approved_by} "
            f"(created by {status.created_by}){note}"
        )

    run_async(body)


def test_call(
    name: str,
    to: str = typer.Option(..., "--to", help="A staff phone (dialer staff-phone add)"),
    as_contact: str = typer.Option(
        "", "--as-contact", help="Hear it as this contact (id column); default the first"
    ),
    voicemail: bool = typer.Option(False, help="The answering-machine version"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Ring your own (staff) phone with exactly what a contact would hear: their language,
    their personalised fields, the campaign's caller ID. Pressing 9 or 8 says what would
    have happened and changes nothing; the test call is audited and is not a campaign call.

    Example: dialer campaign test-call snow-day --to +12175550142 --as-contact s-101
    """

    async def body() -> TestCallResult:
        cfg = settings()
        async with open_store(cfg) as store:
            return await place_test_call(
                cfg,
                store,
                name,
                to,
                operator=operator(),
                as_contact=as_contact,
                voicemail=voicemail,
            )

    result = run_async(body)
    if json_out:
        print_json(
            {
                "campaign": result.campaign,
                "contact": result.contact,
                "language": result.language,
                "voicemail": result.voicemail,
                "outcome": result.outcome.value,
                "digits": result.digits,
                "note": result.note,
                "counted_as_campaign_call": False,
            }
        )
    else:
        version = "voicemail version" if result.voicemail else "message"
        console.print(
            f"test call for {result.campaign!r} as contact {result.contact} "
            f"({result.language}, {version}): {result.summary}"
        )


def show_preflight(report: dict[str, Any]) -> None:
    """The preflight for people: short sections, warnings last and in colour."""
    c, n = report["contacts"], report["numbers"]
    start = report["start_at"]
    # console markup is off (user data is printed literally): styles via Text
    console.print(
        Text.assemble(
            (f"Preflight: {report['campaign']}", "bold"),
            f" ({report['purpose']}, list {report['list']!r}), start {start['local']} "
            f"({start['utc'][11:16]} UTC), window {report['window']} callee's local time",
        )
    )
    households = report["households"]
    console.print(
        f"  contacts: {c['in_list']} in the list, {c['finished_already']} finished already, "
        f"{c['to_call']} to call: {c['allowed_at_start']} allowed at the start, "
        f"{c['blocked_at_start']} blocked"
    )
    console.print(
        f"  numbers: {n['to_call']} distinct ({n['allowed_at_start']} allowed at the start); "
        f"households (calls, one per number): "
        f"{households if households is not None else 'not counted'}"
    )
    if report["blocked"]:
        console.print("  blocked at the start, by reason:")
        for reason, count in report["blocked"].items():
            console.print(f"    {reason:<26} {count}")
    for zone in report["outside_window"]:
        opens = zone["opens_at"]["local"] if zone["opens_at"] else "not within 8 days"
        console.print(
            f"  outside the window: {zone['contacts']} in {' + '.join(zone['zones'])}, "
            f"opens {opens} ({'; '.join(zone['opens_local'])})"
        )
    d = report["duration"]
    retries = f", plus retries (up to {d['max_attempts']} calls each)"
    if not d["calls"]:
        console.print("  expected duration: nothing to call at the start time")
    else:
        console.print(
            f"  expected duration: {_minutes(d['expected_seconds'])} for {d['calls']} calls "
            f"(~{d['seconds_per_call']:.0f} s each; {d['calls_per_second']:g} calls/s, "
            f"{d['max_concurrent']} at once; pace set by {d['limited_by']})"
            + (retries if d["max_attempts"] > 1 else "")
        )
    for lang in report["languages"]:
        fallback = f"; falls back: {'; '.join(lang['fallbacks'])}" if lang["fallbacks"] else ""
        console.print(
            f"  language {lang['language']}: {_contacts(lang['contacts'])}, hear "
            f"{lang['hears'] or '?'}{fallback}"
        )
    for msg in report["message"]:
        results = " ".join(
            f"{code} {'ok' if v['ok'] else 'FAILED'}" for code, v in msg["checks"].items()
        )
        console.print(
            f"  message ({msg['language']}): live {_secs(msg['live_seconds'])}, voicemail "
            f"{_secs(msg['voicemail_seconds'])}; {results}"
        )
        for code, v in msg["checks"].items():
            if not v["ok"]:
                console.print(Text(f"    {code}: {v['detail']}", style="red"))
    templates = report["templates"]
    if templates:
        console.print(
            f"  template {templates['template']!r}: {templates['distinct_texts']} distinct "
            f"text(s), {templates['contacts_missing_fields']} contact(s) missing a field"
        )
        for text in templates["texts"][:20]:
            console.print(
                f"    [{text['id']}] {text['contacts']} x ({text['language']}) {text['text']}"
            )
        hidden = len(templates["texts"]) - 20 + templates["texts_not_listed"]
        if hidden > 0:
            console.print(f"    ... and {hidden} more (see --json)")
    approval = report["approval"]
    if approval:
        state = (
            f"approved by {approval['approved_by']}"
            if approval["approved_by"]
            else ("required, not yet given" if approval["required"] else "not required")
        )
        console.print(f"  second-person approval ({approval['setting']}): {state}")
    if report["warnings"]:
        console.print(Text("Warnings:", style="bold yellow"))
        for warning in report["warnings"]:
            console.print(Text(f"  ! {warning['message']}", style="yellow"))
    else:
        console.print(Text("No warnings.", style="green"))


def confirm_start(report: dict[str, Any], *, yes: bool) -> bool:
    """Show the preflight; on a terminal ask before starting (``--yes`` skips the question)."""
    show_preflight(report)
    if yes or not console.is_terminal:
        return True
    return typer.confirm(f"Start campaign {report['campaign']!r}?", default=False)


def _contacts(n: int) -> str:
    return f"{n} contact{'' if n == 1 else 's'}"


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def _secs(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "n/a (no contact has every field)"
