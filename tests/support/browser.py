"""One real Chromium for the whole test session (Playwright driving Debian's
``chromium`` package: Playwright cannot download its own browsers here).

Screenshots go to ``test-artifacts/screenshots/`` (or $DIALER_TEST_ARTIFACTS):
each page the browser tests visit is saved there to be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("DIALER_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
