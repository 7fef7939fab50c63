"""Write a realistic district contact export of N rows (for bench/contacts_scale.py).

    .venv/bin/python bench/contacts_list.py 1000000 /tmp/contacts-1m.csv

Columns as SIS exports have them: student_id, phone (the formats staff type:
``(212) 555-0142``, ``212-555-0142``, ``+12125550142``, ``212.555.0142``),
language (en, es, vi, zh, ar), student_name, school, grade, date. Numbers
spread over area codes of every US time zone, so zone look-ups are not one
cached answer; one row in ten repeats a sibling's phone (shared guardian), one
in a thousand is invalid. Deterministic (seeded): runs compare.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

#: area codes in Eastern, Central, Mountain, Pacific, Alaska, Hawaii and a
#: code spanning two zones (208: Boise and Coeur d'Alene)
AREA_CODES = (212, 305, 404, 617, 312, 214, 713, 303, 602, 208, 415, 206, 503, 907, 808)
FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "+1{a}{b}{c}", "{a}.{b}.{c}")
LANGUAGES = ("en",) * 6 + ("es",) * 3 + ("vi", "zh", "ar")
FIRST = ("Ana", "Ben", "Cy", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jun", "Kai", "Lea")
LAST = ("Lopez", "Nguyen", "Smith", "Chen", "Haddad", "Okafor", "Garcia", "Kim", "Brown")
SCHOOLS = ("Lincoln Elementary", "Roosevelt Middle", "Jefferson High", "Adams K-8")


def phone(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    # exchange 2xx-9xx (valid NANP), line 0000-9999
    exchange = rng.randint(200, 999)
    line = rng.randint(0, 9999)
    return rng.choice(FORMATS).format(a=area, b=f"{exchange:03d}", c=f"{line:04d}")


def write(rows: int, path: Path, seed: int = 11) -> Path:
    rng = random.Random(seed)
    previous = phone(rng)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["student_id", "phone", "language", "student_name", "school", "grade", "date"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.1:
                number = previous  # a sibling: same guardian's phone
            elif roll < 0.101:
                number = f"555-{rng.randint(0, 99):02d}"  # a typo: too short
            else:
                number = phone(rng)
            previous = number
            out.writerow(
                [
                    f"S{100000 + i}",
                    number,
                    rng.choice(LANGUAGES),
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    rng.choice(SCHOOLS),
                    str(rng.randint(0, 12)),
                    "2026-11-23",
                ]
            )
    return path


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"contacts-{rows}.csv")
    write(rows, path)
    print(f"{rows:,} rows written to {path} ({path.stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
