"""Benchmark: gate decisions per second *including the store look-up* (issue 3).

Not a test: it prints figures. Run::

    python bench/gate_store.py [--numbers 1000000] [--dir /tmp/dialer-bench] [--seconds 3]

1. Fills a real store (same schema, same key derivation, same blind index and
   sealing as production) with ``--numbers`` numbers: every number has a
   consent (10 % a written telemarketing one as well), 5 % are revoked, 2 % on
   the organisation's DNC list, 10 % on the national list, 0.5 % erased, 20 %
   have 1-3 calls in the last 30 days. The fill uses the plain ``sqlite3``
   module with ``executemany`` in big transactions (fast); the file is reused
   on the next run if it holds the same number of numbers (``--refill`` to
   rebuild).
2. Measures, through the production ``Store`` (aiosqlite) and ``gate.decide``:
   - ``facts_for`` + ``decide``, one number at a time (what a runner does
     right before each attempt);
   - ``facts_for_many`` in batches + ``decide`` for each;
   each on numbers drawn at random from the whole million (cold page cache
   for most of them) and with the gate's time-zone cache both warm (numbers
   seen before) and cold (first sight of a number: phonenumbers parses it).

Target (issue 3): >= 20,000 decisions/s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from dialer.consent import windows
from dialer.consent.crypto import Sealer, create_key_file, load_keys
from dialer.consent.gate import decide
from dialer.consent.model import CampaignRules, Purpose
from dialer.store import rows
from dialer.store.db import ts
from dialer.store.facts import consent_gate_mac
from dialer.store.store import Store

UTC = dt.UTC
#: 15:00 in New York, 12:00 in Los Angeles: inside every default window
NOW = dt.datetime(2026, 5, 12, 19, 0, tzinfo=UTC)
#: area codes across four zones (208 spans two)
AREAS = ("212", "312", "303", "213", "208", "617", "415", "305")
RULES = {
    "school": CampaignRules(Purpose.SCHOOL),
    "telemarketing": CampaignRules(Purpose.TELEMARKETING, national_dnc_as_of=NOW.date()),
}


def number(i: int) -> str:
    """The i-th bench number: valid-looking NANP numbers spread over several zones."""
    area = AREAS[i % len(AREAS)]
    line = i // len(AREAS)
    return f"+1{area}{200 + line // 10_000:03d}{line % 10_000:04d}"


CONSENT_COLUMNS = (
    "id",
    "number_hash",
    "contact_sealed",
    "scope",
    "source",
    "method",
    "obtained_at",
    "disclosure_sha256",
    "evidence_ref",
    "signature_ref",
    "written",
    "batch_id",
    "recorded_at",
    "recorded_by",
    "gate_mac",
)


def consent_row(
    sealer: Sealer,
    consent_id: int,
    number_hash: str,
    contact: str | None,
    telemarketing: bool,
    i: int,
    obtained: str,
) -> tuple[object, ...]:
    """A consents row as the store writes it: sealed contact bound to its row, and
    the row's MAC (the gate honours only consents whose MAC verifies, C19)."""
    values: dict[str, object] = {
        "id": consent_id,
        "number_hash": number_hash,
        "contact_sealed": (
            sealer.seal_field(contact, "consents", "contact_sealed", consent_id)
            if contact
            else None
        ),
        "scope": "telemarketing" if telemarketing else "school",
        "source": "web-form" if telemarketing else "enrollment",
        "method": "web" if telemarketing else "form",
        "obtained_at": obtained,
        "disclosure_sha256": ("1" if telemarketing else "0") * 64,
        "evidence_ref": f"{'web' if telemarketing else 'SIS'}:{i}",
        "signature_ref": f"sig:{i}" if telemarketing else None,
        "written": int(telemarketing),
        "batch_id": "bench",
        "recorded_at": obtained,
        "recorded_by": "bench",
        "gate_mac": consent_gate_mac(
            sealer,
            consent_id,
            number_hash,
            "telemarketing" if telemarketing else "school",
            obtained,
            int(telemarketing),
            obtained,
        ),
    }
    mac = rows.row_mac(sealer, "consents", CONSENT_COLUMNS, values)
    return (*values.values(), mac)


def fill(db_path: Path, key_path: Path, count: int) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    key_path.unlink(missing_ok=True)
    create_key_file(key_path)

    async def create_schema() -> None:
        store = await Store.open(db_path, key_path)
        await store.close()

    asyncio.run(create_schema())
    sealer = Sealer(load_keys(key_path))
    rng = random.Random(7)
    started = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO contact_lists (id, name, created_at) VALUES (1, 'bench', ?)", (ts(NOW),)
    )
    conn.execute(
        "INSERT INTO campaigns (id, name, purpose, list_id, message, caller_id_hash, "
        "caller_id_sealed, window_start, window_end, max_attempts, retry_delay, created_at, "
        "created_by) VALUES (1, 'bench', 'school', 1, '{}', ?, ?, '08:00', '21:00', 1, 300, ?, "
        "'bench')",
        (
            sealer.index("+12125550100"),
            sealer.seal_field("+12125550100", "campaigns", "caller_id_sealed", 1),
            ts(NOW),
        ),
    )
    conn.execute("COMMIT")
    chunk = 100_000
    obtained = ts(NOW - dt.timedelta(days=400))
    ids = iter(range(1, 10 * count + 2))

    def next_id() -> int:
        return next(ids)

    for start in range(0, count, chunk):
        consents, revocations, dnc, national, erased, attempts = [], [], [], [], [], []
        for i in range(start, min(start + chunk, count)):
            h = sealer.index(number(i))
            consents.append(consent_row(sealer, next_id(), h, f"contact {i}", False, i, obtained))
            roll = rng.random()
            if roll < 0.10:
                consents.append(consent_row(sealer, next_id(), h, None, True, i, obtained))
            if rng.random() < 0.05:
                revocations.append(
                    (
                        h,
                        "keypad",
                        ts(NOW - dt.timedelta(days=rng.randint(1, 300))),
                        ts(NOW),
                        None,
                        "bench",
                    )
                )
            if rng.random() < 0.02:
                dnc.append((h, obtained, "bench"))
            if rng.random() < 0.10:
                national.append((h,))
            if rng.random() < 0.005:
                erased.append((h, "erased", obtained))
            if rng.random() < 0.20:
                for k in range(rng.randint(1, 3)):
                    at = ts(NOW - dt.timedelta(hours=rng.randint(1, 24 * 29)))
                    attempts.append(
                        (f"{i}-{k}", 1, i, h, k + 1, "school", at, 1, "allowed", "", 1, "done")
                    )
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO consents ({', '.join(CONSENT_COLUMNS)}, mac) "
            f"VALUES ({', '.join('?' * (len(CONSENT_COLUMNS) + 1))})",
            consents,
        )
        conn.executemany(
            "INSERT INTO revocations (number_hash, channel, received_at, recorded_at, "
            "source_ref, recorded_by) VALUES (?, ?, ?, ?, ?, ?)",
            revocations,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO dnc_company (number_hash, added_at, source) VALUES (?, ?, ?)",
            dnc,
        )
        conn.executemany("INSERT OR IGNORE INTO dnc_national (number_hash) VALUES (?)", national)
        conn.executemany(
            "INSERT OR IGNORE INTO suppressions (number_hash, reason, created_at) VALUES (?, ?, ?)",
            erased,
        )
        conn.executemany(
            "INSERT INTO attempts (id, campaign_id, contact_id, number_hash, attempt_no, "
            "purpose, decided_at, allowed, reason, detail, with_consent, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            attempts,
        )
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('bench_numbers', ?)",
            (str(min(start + chunk, count)),),
        )
        conn.execute("COMMIT")
        print(
            f"  filled {min(start + chunk, count):>9,} numbers "
            f"({time.perf_counter() - started:5.1f} s)",
            flush=True,
        )
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def filled_count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'bench_numbers'").fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    return int(row[0]) if row else 0


async def measure(label: str, seconds: float, step: Callable[[], Awaitable[int]]) -> float:
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        done += await step()
    rate = done / (time.perf_counter() - started)
    print(f"{rate:>12,.0f} decisions/s  {label}", flush=True)
    return rate


async def run(db_path: Path, key_path: Path, count: int, seconds: float) -> dict[str, float]:
    store = await Store.open(db_path, key_path, clock=lambda: NOW)
    rng = random.Random(11)
    results: dict[str, float] = {}
    reasons: dict[str, int] = {}
    rules = RULES["school"]

    def pick(n: int) -> list[str]:
        return [number(rng.randrange(count)) for _ in range(n)]

    try:
        # warm-up: SQLite page cache for the indices, and a pool of numbers whose
        # time zones the gate has already resolved (a retry, or a pre-warmed list)
        warm = pick(20_000)
        await store.consent.facts_for_many(warm[:500])
        for n in warm:
            windows.resolved_zones(n, rules.fallback_timezone)

        async def single_warm() -> int:
            for n in rng.sample(warm, 200):
                facts = await store.consent.facts_for(n)
                d = decide(n, facts, rules, NOW)
                reasons[d.reason.value] = reasons.get(d.reason.value, 0) + 1
            return 200

        async def single_cold() -> int:
            for n in pick(200):
                facts = await store.consent.facts_for(n)
                decide(n, facts, rules, NOW)
            return 200

        def batch(size: int, cold: bool) -> Callable[[], Awaitable[int]]:
            async def step() -> int:
                numbers = pick(size) if cold else rng.sample(warm, size)
                facts = await store.consent.facts_for_many(numbers)
                for n in numbers:
                    decide(n, facts[n], rules, NOW)
                return size

            return step

        async def lookup_only() -> int:
            for n in rng.sample(warm, 200):
                await store.consent.facts_for(n)
            return 200

        async def lookup_only_batch() -> int:
            await store.consent.facts_for_many(rng.sample(warm, 500))
            return 500

        results["facts_for (single) + decide, zones warm"] = await measure(
            "facts_for (single) + decide, zones warm", seconds, single_warm
        )
        results["facts_for (single) + decide, zones cold"] = await measure(
            "facts_for (single) + decide, zones cold", seconds, single_cold
        )
        for size in (50, 200, 500):
            for cold in (False, True):
                label = (
                    f"facts_for_many (batch {size}) + decide, zones {'cold' if cold else 'warm'}"
                )
                results[label] = await measure(label, seconds, batch(size, cold))
        results["facts_for (single) only"] = await measure(
            "facts_for (single), look-up only", seconds, lookup_only
        )
        results["facts_for_many (500) only"] = await measure(
            "facts_for_many (batch 500), look-up only", seconds, lookup_only_batch
        )
        print(
            "  reasons seen (single, warm):",
            ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
        )
    finally:
        await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dialer-bench"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--refill", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db_path, key_path = args.dir / "gate.db", args.dir / "gate.key"
    if args.refill or filled_count(db_path) != args.numbers or not key_path.exists():
        print(f"filling {db_path} with {args.numbers:,} numbers ...", flush=True)
        started = time.perf_counter()
        fill(db_path, key_path, args.numbers)
        print(
            f"  fill took {time.perf_counter() - started:.1f} s, "
            f"file {os.path.getsize(db_path) / 2**20:,.0f} MiB",
            flush=True,
        )
    print(
        f"store: {args.numbers:,} numbers; python {sys.version.split()[0]}; {os.cpu_count()} CPUs"
    )
    asyncio.run(run(db_path, key_path, args.numbers, args.seconds))


if __name__ == "__main__":
    main()
