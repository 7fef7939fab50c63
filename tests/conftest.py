"""Shared fixtures.

``sandbox``: the real Asterisk 22 sandbox (scripts/asterisk-sandbox), started
once per session if it is not already running, and left running afterwards so
the next run is fast (set DIALER_SANDBOX_STOP=1 to stop it at the end).

``phones``: the SIPp simulated phones 1, 2, 3, 4, 8, 63 and 91 (tests/support/phones.py),
started once per session and stopped at its end.

Test helpers live in tests/support/ and are imported as ``support.<module>``
(pytest puts this directory on sys.path for its conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from support.phones import Phones
from support.sandbox import Sandbox, can_run, ensure_sandbox, stop_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    reason = can_run()
    if reason:
        # Integration tests are part of CI and must never be skipped there.
        if os.environ.get("CI"):
            pytest.fail(f"integration tests cannot run: {reason}")
        pytest.skip(reason)
    box = ensure_sandbox()
    yield box
    if os.environ.get("DIALER_SANDBOX_STOP") == "1":
        stop_sandbox()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (browser tests open pages in it).

    Not per session: Playwright's sync API keeps an event loop running in the
    test thread while it is open, and every later test that runs a ``dialer``
    command (``asyncio.run``) would fail with "cannot be called from a running
    event loop"."""
    from playwright.sync_api import sync_playwright
    from support.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def sandbox2(sandbox: Sandbox) -> Iterator[Sandbox]:
    """A second sandbox Asterisk (``--instance 2``: AMI 5138, SIP 5160), for tests
    with several PBXs; stopped at the end of the session."""
    box = ensure_sandbox(2)
    yield box
    stop_sandbox(2)


@pytest.fixture(scope="session")
def phones(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phones]:
    group = Phones(tmp_path_factory.mktemp("sipp-phones"))
    group.start()
    yield group
    group.stop()
