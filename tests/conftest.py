"""Shared fixtures.

``sandbox``: the real Asterisk 22 sandbox (scripts/asterisk-sandbox), started
once per session if it is not already running, and left running afterwards so
the next run is fast (set DIALER_SANDBOX_STOP=1 to stop it at the end).

``phones``: the SIPp simulated phones 1, 2, 3, 4 and 8 (tests/support/phones.py),
started once per session and stopped at its end.

Test helpers live in tests/support/ and are imported as ``support.<module>``
(pytest puts this directory on sys.path for its conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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


@pytest.fixture(scope="session")
def phones(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phones]:
    group = Phones(tmp_path_factory.mktemp("sipp-phones"))
    group.start()
    yield group
    group.stop()
