"""Bad input and a dead or misconfigured Asterisk: one clear message, non-zero exit
within seconds, nothing half-written (the real CLI, store and sandbox Asterisk)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest
from support.sample import daytime_prefix, sample_number, write_contacts
from support.sandbox import Sandbox
from support.workspace import Workspace, free_port, make_workspace

pytestmark = pytest.mark.integration


def _count(ws: Workspace, table: str) -> int:
    store = ws.store()

    async def count() -> int:
        try:
            row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
            return int(row[0]) if row else 0
        finally:
            await store.close()

    return asyncio.run(count())


@pytest.fixture
def ready(tmp_path: Path, sandbox: Sandbox) -> Workspace:
    ws = make_workspace(tmp_path, sandbox)
    ws.school_campaign({"a": sample_number(daytime_prefix(), 0, 6)})
    return ws


def _set(ws: Workspace, section: str, key: str, value: str) -> None:
    lines = [ln for ln in ws.config.read_text().splitlines() if not ln.startswith(f"{key} =")]
    at = lines.index(f"[{section}]") + 1
    ws.config.write_text("\n".join([*lines[:at], f"{key} = {value}", *lines[at:]]) + "\n")


def test_missing_csv(ready: Workspace, tmp_path: Path) -> None:
    result = ready.dialer("contacts", "import", str(tmp_path / "nope.csv"), "--list", "x")
    assert result.exit_code == 2
    assert "nope.csv: file not found" in result.output


def test_unreadable_csv(ready: Workspace, tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(os.urandom(2048) + b"\x00" * 10)
    result = ready.dialer("contacts", "import", str(binary), "--list", "x")
    assert result.exit_code == 2
    assert "photo.csv" in result.output
    folder = ready.dialer("contacts", "import", str(tmp_path), "--list", "x")
    assert folder.exit_code == 2 and "is a directory" in folder.output
    assert _count(ready, "contact_lists") == 1


def test_csv_without_phone_column(ready: Workspace, tmp_path: Path) -> None:
    path = write_contacts(tmp_path / "no-phone.csv", [{"name": "a", "email": "a@example.org"}])
    result = ready.dialer("contacts", "import", str(path), "--list", "x")
    assert result.exit_code == 2
    assert "no phone column" in result.output and "no-phone.csv" in result.output
    assert _count(ready, "contacts") == 1


def _timed_run(ws: Workspace) -> tuple[int, str, float]:
    started = time.monotonic()
    result = ws.dialer("campaign", "run", "c")
    return result.exit_code, result.output, time.monotonic() - started


def test_unreachable_ami(ready: Workspace) -> None:
    _set(ready, "asterisk", "ami_port", str(free_port()))
    code, output, seconds = _timed_run(ready)
    assert code == 7
    assert "cannot reach Asterisk AMI" in output
    assert seconds < 10
    assert _count(ready, "attempts") == 0


def test_wrong_ami_credentials(ready: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "wrong.secret"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not-the-secret\n")
    os.close(fd)
    _set(ready, "asterisk", "ami_secret_file", f'"{secret}"')
    code, output, seconds = _timed_run(ready)
    assert code == 7
    assert "AMI login refused" in output
    assert "not-the-secret" not in output
    assert seconds < 10
    assert _count(ready, "attempts") == 0


def test_secret_file_readable_by_others_is_refused(ready: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "loose.secret"
    secret.write_text("whatever\n")
    secret.chmod(0o644)
    _set(ready, "asterisk", "ami_secret_file", f'"{secret}"')
    code, output, _ = _timed_run(ready)
    assert code == 3
    assert "0600" in output and "loose.secret" in output


def test_fastagi_port_in_use(ready: Workspace) -> None:
    port = ready.settings().agi.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        code, output, seconds = _timed_run(ready)
    assert code == 7
    assert f"127.0.0.1:{port} is already in use" in output
    assert seconds < 10
    assert _count(ready, "attempts") == 0


def test_bad_settings_file_names_the_setting(ready: Workspace) -> None:
    _set(ready, "engine", "max_concurrent", '"lots"')
    result = ready.dialer("campaign", "run", "c")
    assert result.exit_code == 3
    assert "engine.max_concurrent must be int" in result.output


def test_doctor_checks_everything_and_names_what_fails(ready: Workspace) -> None:
    healthy = ready.dialer("doctor")
    assert healthy.exit_code == 0, healthy.output
    for check in ("settings", "store and key", "AMI login", "FastAGI port free", "sounds folder"):
        assert f"ok   {check}" in healthy.output
    _set(ready, "asterisk", "ami_port", str(free_port()))
    broken = ready.dialer("doctor")
    assert broken.exit_code == 1
    assert "FAIL AMI login: cannot reach Asterisk AMI" in broken.output
