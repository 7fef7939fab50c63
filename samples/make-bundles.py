"""Zip the sample OneRoster folders into the bundles a SIS delivers.

    python3 samples/make-bundles.py      # writes samples/oneroster-1.1.zip, -1.2.zip

The folders are the source (readable, reviewed); the zips are what staff load:
``dialer contacts import samples/oneroster-1.2.zip --list families``.
Deterministic: the same folders give byte-identical zips.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for member in sorted(folder.glob("*.csv")):
            info = zipfile.ZipInfo(member.name, date_time=(2026, 9, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, member.read_bytes())
    return target


def main() -> None:
    for version in ("1.1", "1.2"):
        made = make(HERE / f"oneroster-{version}", HERE / f"oneroster-{version}.zip")
        print(f"wrote {made}")


if __name__ == "__main__":
    main()
