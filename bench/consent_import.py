"""Benchmark: importing a 100,000-row consent export end to end (issue 3).

Not a test: it prints figures. Run::

    python bench/consent_import.py [--rows 100000] [--dir /tmp/dialer-bench]

Generates a consent CSV in the documented format (samples/consent-export.csv:
national-format numbers as SIS exports write them, 10 % written
telemarketing consents with signatures, a contact name on every row), then
times, on a fresh store file with a real key:

- ``read_consents``: decode, sniff, parse, normalise every number with
  phonenumbers, validate every record (C3);
- ``import_batch``: blind index, AES-GCM of the contact, one transaction with
  ``executemany`` and one audit entry per consent (C19);

and checks the result (row count, audit chain verifies). Target: <= 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import random
import time
from pathlib import Path

import phonenumbers

from dialer.consent.crypto import create_key_file
from dialer.csvfiles import read_consents
from dialer.store.store import Store

UTC = dt.UTC
NOW = dt.datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
AREAS = ("212", "312", "303", "213", "208", "617", "415", "305")
DISCLOSURE = (
    "By giving this number you agree that the district may call it with prerecorded "
    "messages about school matters. You can stop these calls at any time by pressing 9."
)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(5)
    seen: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "phone",
                "scope",
                "source",
                "method",
                "obtained_at",
                "disclosure",
                "evidence_ref",
                "contact",
                "written",
                "signature_ref",
            ]
        )
        while len(seen) < rows:
            area = rng.choice(AREAS)
            national = f"{area}{rng.randint(201, 989)}{rng.randint(0, 9999):04d}"
            if national in seen or not phonenumbers.is_valid_number(
                phonenumbers.parse("+1" + national)
            ):
                continue
            seen.add(national)
            i = len(seen)
            telemarketing = rng.random() < 0.10
            obtained = NOW - dt.timedelta(days=rng.randint(1, 700), seconds=rng.randint(0, 86399))
            out.writerow(
                [
                    f"({national[:3]}) {national[3:6]}-{national[6:]}",
                    "telemarketing" if telemarketing else "school",
                    "web-form" if telemarketing else "enrollment",
                    "web sign-up" if telemarketing else "enrollment form 2025-26",
                    obtained.isoformat().replace("+00:00", "Z"),
                    DISCLOSURE,
                    f"SIS:form/{i}",
                    f"Parent of student {i}",
                    "yes" if telemarketing else "",
                    f"esign:{i}" if telemarketing else "",
                ]
            )


async def run(path: Path, workdir: Path) -> None:
    db_path, key_path = workdir / "import.db", workdir / "import.key"
    store = await Store.open(db_path, key_path, clock=lambda: NOW)
    try:
        started = time.perf_counter()
        parsed = read_consents(path, "US", NOW, zone="UTC")
        read_s = time.perf_counter() - started
        assert not parsed.errors, parsed.errors[:3]
        started_import = time.perf_counter()
        count = await store.consent.import_batch(parsed.records, "bench", batch_id="bench")
        import_s = time.perf_counter() - started_import
        total = read_s + import_s
        rows = await store.db.fetchone("SELECT COUNT(*) FROM consents")
        chain = await store.verify_audit()
    finally:
        await store.close()
    assert rows is not None and int(rows[0]) == count == len(parsed.records)
    print(
        f"{count:,} consent rows: read_consents {read_s:.2f} s, import_batch {import_s:.2f} s, "
        f"total {total:.2f} s ({count / total:,.0f} rows/s; target <= 15 s)"
    )
    print(f"audit chain verifies: {chain.entries:,} entries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dialer-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"consents-{args.rows}.csv"
    if not path.exists():
        generate(path, args.rows)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.dir / 'import.db'}{suffix}").unlink(missing_ok=True)
    (args.dir / "import.key").unlink(missing_ok=True)
    create_key_file(args.dir / "import.key")
    asyncio.run(run(path, args.dir))


if __name__ == "__main__":
    main()
