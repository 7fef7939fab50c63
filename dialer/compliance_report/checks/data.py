"""Data requirements: wrong party (C16), erasure (C17), data protection (C18)
and the tamper-evident audit log (C19)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from dialer.compliance_report.checks.registry import (
    Context,
    Requirement,
    check,
    dial_rule,
    requirement,
)
from dialer.errors import StoreError

#: C18 plaintext scan: at most this many numbers are looked for, in files up to this size
SCAN_MAX_NUMBERS = 5000
SCAN_MAX_BYTES = 256 * 2**20
_DIGIT_RUN = re.compile(rb"\d{7,}")


@check("C16", "Wrong party")
async def c16_wrong_party(ctx: Context) -> Requirement:
    evidence = ctx.store.evidence
    rule = dial_rule(ctx, "wrong-party")
    return requirement(
        "C16",
        "wrong-number keypress or repeated unallocated result suppresses the number; "
        "no call to a number suppressed for review",
        {
            "wrong_party_suppressions": await evidence.wrong_party_suppressions(),
            "contacts_for_review": await evidence.contacts_for_review(),
            "blocked_wrong_party": ctx.blocked_by["wrong-party"],
            "calls_to_wrong_party_numbers": rule["violations"],
            "call_ids": rule["call_ids"],
        },
        rule["violations"],
        rule["unverifiable"],
    )


@check("C17", "Erasure")
async def c17_erasure(ctx: Context) -> Requirement:
    rule = dial_rule(ctx, "erased")
    return requirement(
        "C17",
        "erasure removes personal data, keeps a keyed-hash suppression; no call to an "
        "erased number",
        {
            "erasures_in_period": ctx.kinds["erasure"],
            "erased_suppressions": len(ctx.erased),
            "blocked_erased": ctx.blocked_by["erased"],
            "calls_to_erased_numbers": rule["violations"],
            "call_ids": rule["call_ids"],
        },
        rule["violations"],
        rule["unverifiable"],
    )


def _scan(paths: list[Path], numbers: set[bytes]) -> dict[str, Any]:
    scanned = found = 0
    for path in paths:
        try:
            if path.stat().st_size > SCAN_MAX_BYTES:
                return {"scanned_bytes": scanned, "numbers": len(numbers), "found": None}
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot read {path} for the C18 check: {exc.strerror}") from exc
        scanned += len(data)
        found += sum(1 for m in _DIGIT_RUN.finditer(data) if m.group() in numbers)
    return {"scanned_bytes": scanned, "numbers": len(numbers), "found": found}


@check("C18", "Data protection")
async def c18_plaintext_scan(ctx: Context) -> Requirement:
    """Smoke check: no known number (contacts, caller IDs) in the raw database file
    or its WAL as a run of digits. The store's own C18 test is the proof."""
    numbers: set[bytes] = set()
    for number in await ctx.store.evidence.known_numbers(SCAN_MAX_NUMBERS):
        digits = number.lstrip("+").encode()
        numbers.update({digits, digits[-10:]})
    scan = await asyncio.to_thread(_scan, ctx.store.evidence.database_files(), numbers)
    return requirement(
        "C18",
        "no plaintext number in the database file or its WAL (digit-run scan)",
        scan,
        None if scan["found"] is None else scan["found"],
    )


@check("C19", "Tamper-evident audit")
async def c19_audit_chain(ctx: Context) -> Requirement:
    chain = ctx.data["audit_chain"]
    kept = ctx.data["gate_facts"]
    return requirement(
        "C19",
        "hash-chained audit log, its sealed head and every bound data row verified; "
        "the facts kept with each attempt verify against their MAC",
        {
            "entries": chain["entries"],
            "entries_in_period": sum(ctx.kinds.values()),
            "attempt_facts_failing_mac": kept["failing_mac"],
            "call_ids": kept["call_ids"],
        },
        (0 if chain["ok"] else 1) + kept["failing_mac"],
    )
