"""Benchmark: ``dialer campaign preflight`` on a large list (issue 14). Prints figures.

Run::

    python bench/preflight.py [--contacts 100000] [--dir /tmp/dialer-bench-preflight]

Builds a real installation with the production commands (``dialer init``,
``consent import``, ``contacts import``, ``recordings add``, ``campaign
create``): a list of ``--contacts`` contacts over New York, Chicago, Denver
and Los Angeles numbers, one in ten sharing a sibling's number, one in five
Spanish-speaking, 2 % without a ``student_name``, 90 % with consent, 0.1 % revoked;
a personalised school campaign (``template:attendance-absence``). Then times
``run_preflight`` (the function behind the command and the web page) at a start
time when Los Angeles is still outside its window, and prints the figures it
found beside the time it took.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import shutil
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dialer.campaign.preflight_check import run_preflight  # noqa: E402
from dialer.cli import app  # noqa: E402
from dialer.settings import load_settings  # noqa: E402
from dialer.store.store import Store  # noqa: E402

AREAS = ("212", "312", "303", "213")
RUNNER = CliRunner()


def dialer(config: Path, *args: str) -> None:
    result = RUNNER.invoke(app, ["--config", str(config), *args])
    if result.exit_code != 0:
        sys.exit(f"dialer {' '.join(args)} failed:\n{result.output}")


def number(i: int) -> str:
    """The i-th bench number: distinct, valid NANP numbers over four time zones."""
    return f"+1{AREAS[i % len(AREAS)]}{200 + (i // 10000) % 800:03d}{i % 10000:04d}"


def build(folder: Path, contacts: int) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = folder / "dialer.toml"
    dialer(config, "init", "--callback", "+12125550111", "--hotline", "+12125550199")
    numbers = [number(i) for i in range(contacts)]
    with (folder / "consent.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "scope", "source", "method", "obtained_at", "disclosure",
                    "evidence_ref", "contact"])  # fmt: skip
        for i, n in enumerate(numbers):
            if i % 10:
                w.writerow([n, "school", "enrollment", "form", "2026-08-15T09:30:00Z",
                            "We may call you.", f"SIS:{i}", f"parent {i}"])  # fmt: skip
    with (folder / "contacts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "phone", "language", "student_name", "school", "date"])
        for i in range(contacts):
            phone = numbers[i - 1] if i % 10 == 5 else numbers[i]  # a sibling's number
            name = "" if i % 50 == 7 else f"Student {i % 300}"
            w.writerow([f"s-{i}", phone, "es" if i % 5 == 0 else "en", name,
                        f"School {i % 12}", "2026-12-03"])  # fmt: skip
    started = time.monotonic()
    dialer(config, "consent", "import", str(folder / "consent.csv"))
    dialer(config, "contacts", "import", str(folder / "contacts.csv"), "--list", "all")
    for i in range(3, contacts, 1000):
        dialer(config, "consent", "revoke", numbers[i], "--channel", "email", "--ref", "t")
    dialer(config, "callerid", "add", "+12125550100", "--label", "office")
    dialer(
        config, "campaign", "create", "absent", "--purpose", "school", "--list", "all",
        "--message", "template:attendance-absence", "--caller-id", "+12125550100",
    )  # fmt: skip
    print(f"set-up ({contacts} contacts, production commands): {time.monotonic() - started:.1f} s")
    return config


async def measure(config: Path) -> None:
    cfg = load_settings(config)
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        # 10:30 in New York, 07:30 in Los Angeles (outside its window), a week ahead
        day = dt.date.today() + dt.timedelta(days=7)
        at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=ZoneInfo("America/New_York"))
        for label in ("first run", "second run"):
            started = time.monotonic()
            report = await run_preflight(cfg, store, "absent", at=at.astimezone(dt.UTC))
            took = time.monotonic() - started
            c = report["contacts"]
            print(
                f"{label}: {took:.2f} s for {c['in_list']} contacts "
                f"({c['in_list'] / took:,.0f} contacts/s): {c['allowed_at_start']} allowed, "
                f"blocked {report['blocked']}, {report['numbers']['to_call']} numbers, "
                f"{report['templates']['distinct_texts']} distinct texts, "
                f"{len(report['warnings'])} warnings"
            )
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dialer-bench-preflight"))
    args = parser.parse_args()
    config = build(args.dir, args.contacts)
    asyncio.run(measure(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
