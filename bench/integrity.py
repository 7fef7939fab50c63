"""Benchmark: ``audit verify`` and the start-up integrity check on a store with
1,000,000 consent rows (issue 7, item 3; targets: start-up check <= 2 s, full
verify <= 60 s).

Not a test: it prints figures. Run (takes the sandbox lock: minutes of CPU)::

    flock /tmp/dialer-sandbox.lock .venv/bin/python bench/integrity.py [--consents 1000000]

Builds, once (cached in --dir, rebuilt with --rebuild), a real store through
the store's own functions, so every row has its MAC and its audit entry: the
consents in export-sized batches (``import_batch``), 2 % of the numbers
revoked (``insert_journaled``, the journal replay path: one transaction), a
company DNC list, wrong-party suppressions, caller IDs and a national DNC copy
of 200,000 numbers. Then times:

- the start-up check (``Store.check_integrity``: what ``dialer serve`` and
  ``campaign run`` run before dialling), best of 3 and first (cold) run;
- the full verify (``Store.verify_audit``: ``dialer audit verify``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import shutil
import time
from pathlib import Path

from dialer.consent.crypto import create_key_file
from dialer.consent.model import ConsentSource, Purpose
from dialer.model.consents import ConsentInput
from dialer.store.db import ts
from dialer.store.journal import JournalEntry
from dialer.store.store import Store

NOW = dt.datetime(2026, 8, 20, 12, 0, tzinfo=dt.UTC)
BATCH = 100_000
DISCLOSURE = "By giving this number you agree to prerecorded school calls. Press 9 to stop."


def number(i: int) -> str:
    """A distinct, well-formed E.164 number per index (area codes 201-989)."""
    return f"+1{201 + i % 700}{200 + (i // 700) % 700}{i // 490_000:04d}"


def consent(i: int) -> ConsentInput:
    written = i % 10 == 0
    return ConsentInput(
        number=number(i),
        scope=Purpose.TELEMARKETING if written else Purpose.SCHOOL,
        source=ConsentSource.ENROLLMENT,
        method="enrollment form 2025-26",
        obtained_at=NOW - dt.timedelta(days=1 + i % 700),
        disclosure=DISCLOSURE,
        evidence_ref=f"SIS:form/{i}",
        contact_ref=f"Parent of student {i}",
        signature_ref=f"esign:{i}" if written else "",
        written=written,
    )


async def build(db: Path, key: Path, consents: int) -> float:
    started = time.perf_counter()
    store = await Store.open(db, key, clock=lambda: NOW)
    try:
        for first in range(0, consents, BATCH):
            batch = [consent(i) for i in range(first, min(first + BATCH, consents))]
            await store.consent.import_batch(batch, "bench", f"bench-{first}")
            print(f"  {first + len(batch):,} consents", flush=True)
        revoked = [
            JournalEntry(
                id=f"j{i}",
                number_hash=store.sealer.index(number(i)),
                channel="sms",
                received_at=ts(NOW),
                journaled_at=ts(NOW),
                source_ref=f"SM-{i}",
            )
            for i in range(0, consents, 50)
        ]
        await store.consent.insert_journaled(revoked)
        for i in range(1, 1001):
            await store.consent.add_company_dnc(number(i * 37), "letter")
        for i in range(1, 201):
            await store.consent.suppress_wrong_party(number(i * 53), f"call:{i}")
        for i in range(5):
            await store.consent.add_caller_id(f"+1212555010{i}", f"line {i}", "bench")
        await store.consent.import_national_dnc(
            (number(i * 5 + 3) for i in range(200_000)), NOW.date(), "national.csv"
        )
    finally:
        await store.close()
    return time.perf_counter() - started


async def measure(db: Path, key: Path) -> None:
    store = await Store.open(db, key, clock=lambda: NOW)
    try:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = await store.check_integrity()
            times.append(time.perf_counter() - started)
        print(
            f"start-up check: {times[0]:.2f} s first, {min(times):.2f} s best of 3 "
            f"(target <= 2 s): {report.rows_counted:,} consents counted, "
            f"{report.rows_checked:,} blocking rows MAC-verified, "
            f"{report.national_entries:,} national DNC numbers digested, "
            f"audit head of {report.audit_entries:,} entries"
        )
        started = time.perf_counter()
        full = await store.verify_audit()
        verify_s = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"full verify (dialer audit verify): {verify_s:.1f} s (target <= 60 s): "
            f"{full.entries:,} audit entries, {full.rows_checked:,} rows both ways, "
            f"{full.national_entries:,} national DNC numbers; peak RSS {peak:,.0f} MiB (includes "
            "the memory-mapped database file)"
        )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consents", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dialer-bench-integrity"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    work = args.dir / str(args.consents)
    db, key = work / "dialer.db", work / "dialer.key"
    if args.rebuild or not db.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        create_key_file(key)
        print(f"building {db} with {args.consents:,} consents ...", flush=True)
        built = asyncio.run(build(db, key, args.consents))
        print(f"built in {built:.0f} s ({db.stat().st_size / 2**20:,.0f} MiB)")
    asyncio.run(measure(db, key))


if __name__ == "__main__":
    main()
