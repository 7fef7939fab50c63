"""Micro benchmark of the pure consent gate (not a test).

Run: ``python bench/gate_pure.py [seconds]``. Prints decisions per second on one
core for a typical case (school campaign, live consent, a few recent calls,
default caps, inside the window) and for a few other shapes. Target: the
typical case >= 150,000 decisions/s.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from dialer.consent.gate import decide
from dialer.consent.model import (
    CallFact,
    CampaignRules,
    ConsentFact,
    EmergencyCategory,
    NumberFacts,
    Purpose,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 5, 12, 15, 30, tzinfo=UTC)  # 11:30 in New York
NUMBERS = [f"+1212555{n:04d}" for n in range(1000)]  # fictional-range numbers, one zone


def _facts(purpose: Purpose, written: bool = False) -> NumberFacts:
    return NumberFacts(
        consents=(ConsentFact(purpose, NOW - dt.timedelta(days=200), written),),
        recent_calls=tuple(
            CallFact(NOW - dt.timedelta(days=d), Purpose.SCHOOL) for d in (1, 5, 12)
        ),
    )


CASES: dict[str, tuple[NumberFacts, CampaignRules]] = {
    "school, consent, 3 recent calls (typical)": (
        _facts(Purpose.SCHOOL),
        CampaignRules(Purpose.SCHOOL),
    ),
    "telemarketing, written consent": (
        _facts(Purpose.TELEMARKETING, written=True),
        CampaignRules(Purpose.TELEMARKETING, national_dnc_as_of=NOW.date()),
    ),
    "emergency, no consent (caps counted)": (
        NumberFacts(),
        CampaignRules(
            Purpose.EMERGENCY,
            emergency_category=EmergencyCategory.CLOSURE,
            authorized_by="Superintendent",
        ),
    ),
    "school, revoked (blocked early)": (
        NumberFacts(revoked_at=NOW - dt.timedelta(days=1)),
        CampaignRules(Purpose.SCHOOL),
    ),
}


def run(seconds: float) -> dict[str, float]:
    results = {}
    for name, (facts, rules) in CASES.items():
        for n in NUMBERS:  # warm the per-number zone cache, as a running campaign has
            decide(n, facts, rules, NOW)
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for n in NUMBERS:
                decide(n, facts, rules, NOW)
            count += len(NUMBERS)
        results[name] = count / (time.perf_counter() - start)
    return results


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    for name, rate in run(seconds).items():
        print(f"{rate:>12,.0f} decisions/s  {name}")


if __name__ == "__main__":
    main()
