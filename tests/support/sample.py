"""Sample data for the demo and the integration tests.

Calling windows are real (C12): a school campaign may only reach numbers whose
local time is between 08:00 and 21:00. So that the demo and CI work at any
hour, the sample numbers come from a region where it is daytime *now*; the
sandbox routes a number by its last digit (see tests/support/phones.py), so
the region does not change which simulated phone answers.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers

#: (E.164 prefix that leaves two free digits, its time zone)
REGIONS: tuple[tuple[str, str], ...] = (
    ("+121255501", "America/New_York"),
    ("+121355501", "America/Los_Angeles"),
    ("+4420794601", "Europe/London"),
    ("+813123401", "Asia/Tokyo"),
    ("+612912301", "Australia/Sydney"),
    ("+65655501", "Asia/Singapore"),
)

#: what each sandbox phone (last digit) does, for the demo's legend
PHONE_BEHAVIOUR = {
    1: "SIPp phone: answers, presses 9",
    2: "SIPp phone: answers, listens",
    3: "SIPp phone: busy (486)",
    4: "SIPp phone: rings, never answers",
    5: "dialplan phone: answers, presses 9",
    6: "dialplan phone: answers, listens",
    7: "unallocated number",
    8: "SIPp phone: answers, presses 8 (wrong person)",
    9: "dialplan phone: busy",
    0: "congestion",
}


def daytime_prefix(now: dt.datetime | None = None, earliest: int = 9, latest: int = 19) -> str:
    """A number prefix whose local time is comfortably inside the calling window."""
    moment = now or dt.datetime.now(dt.UTC)
    for prefix, zone in REGIONS:
        if earliest <= moment.astimezone(ZoneInfo(zone)).hour < latest:
            return prefix
    raise RuntimeError("no sample region is in daytime now")  # cannot happen: zones span the day


def sample_number(prefix: str, serial: int, phone: int) -> str:
    """A valid number ending in ``phone`` (the sandbox phone it reaches)."""
    number = f"{prefix}{serial % 10}{phone}"
    if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
        raise ValueError(f"sample number {number} is not valid")
    return number


def write_contacts(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_consents(path: Path, numbers: list[str], scope: str = "school") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "phone",
                "scope",
                "source",
                "method",
                "obtained_at",
                "disclosure",
                "evidence_ref",
                "contact",
            ]
        )
        for i, number in enumerate(numbers):
            writer.writerow(
                [
                    number,
                    scope,
                    "enrollment",
                    "enrollment form 2026-27",
                    "2026-08-15T09:30:00Z",
                    "By giving this number you agree to automated school calls.",
                    f"SIS:enrollment/{1000 + i}",
                    f"parent of student {1000 + i}",
                ]
            )
    return path
