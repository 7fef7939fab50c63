"""Bad input through the real command line (issue 7: a tampered database, a wrong
key, a missing key, a truncated audit log): one clear message naming what failed
and where, a non-zero exit, nothing dialled, nothing written (C19; the key
belongs to its database).

``campaign run`` stops in ``Engine.start`` before it contacts Asterisk, so no
Asterisk is needed to prove that nothing is dialled: no attempt row exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from support.store import counts, raw
from typer.testing import CliRunner

from dialer.cli import app
from dialer.consent.crypto import create_key_file
from dialer.settings import write_secret_file

RUNNER = CliRunner()
REPO = Path(__file__).resolve().parents[2]
NUMBER = "+12125550142"


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "dialer.toml"
        self.db = root / "dialer.db"
        self.key = root / "dialer.key"

    def __call__(self, *args: str, code: int = 0) -> str:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args])
        assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
        return result.output


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path)
    write_secret_file(tmp_path / "secrets" / "ami.secret", "not-used\n")
    out = runner("init", "--org", "Springfield Public Schools")
    assert "key fingerprint" in out
    for args in (
        (
            "consent",
            "grant",
            NUMBER,
            "--purpose",
            "school",
            "--source",
            "staff",
            "--method",
            "phone call",
            "--evidence",
            "ticket-1",
            "--disclosure",
            "We may call you.",
            "--contact",
            "parent",
        ),
        ("consent", "revoke", NUMBER, "--channel", "email", "--ref", "ticket-2"),
        ("callerid", "add", "+12125550100", "--label", "office"),
    ):
        runner(*args)
    return runner


def _write_probe(cli: Cli, code: int) -> str:
    return cli(
        "consent", "grant", "+12125550143", "--purpose", "school", "--source", "staff",
        "--method", "phone call", "--evidence", "ticket-9", "--disclosure", "We may call.",
        "--contact", "parent",
        code=code,
    )  # fmt: skip


def test_c19_cli_tampered_database_refuses_to_dial_and_to_write(cli: Cli) -> None:
    with closing(raw(cli.db)) as conn:
        conn.execute("DROP TRIGGER revocations_append_only")
        conn.execute("DELETE FROM revocations")
    before = counts(cli.db)
    out = cli("campaign", "run", "any", code=6)
    assert "refusing to dial" in out and "revocations" in out
    assert "dialer audit verify" in out
    out = _write_probe(cli, 6)
    assert "refusing to write" in out
    out = cli("audit", "verify", code=6)
    assert "row 1 of table revocations, recorded by audit entry" in out
    assert counts(cli.db) == before  # nothing dialled (no attempt), nothing written


def test_c19_serve_refuses_a_tampered_store_before_dialling_anything(cli: Cli) -> None:
    """``dialer serve`` (a real process; no Asterisk needed: the check comes first)."""
    with cli.config.open("a", encoding="utf-8") as f:
        f.write("\n[http]\nport = 0\n")
    with closing(raw(cli.db)) as conn:
        conn.execute("DROP TRIGGER revocations_append_only")
        conn.execute("DELETE FROM revocations")
    before = counts(cli.db)
    serve = subprocess.run(
        [sys.executable, "-m", "dialer", "--config", str(cli.config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert serve.returncode == 6, serve.stderr
    assert "refusing to dial" in serve.stderr and "revocations" in serve.stderr
    assert "dialer audit verify" in serve.stderr
    assert "Traceback" not in serve.stderr
    assert counts(cli.db) == before


def test_c19_cli_truncated_audit_log_is_named(cli: Cli) -> None:
    with closing(raw(cli.db)) as conn:
        conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    out = cli("audit", "verify", code=6)
    assert "audit chain broken after entry" in out
    out = cli("campaign", "run", "any", code=6)
    assert "refusing to dial" in out and "audit log" in out


def test_key_wrong_key_is_refused_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    create_key_file(other / "dialer.key")
    os.replace(other / "dialer.key", cli.key)
    data = cli.db.read_bytes()
    out = _write_probe(cli, 3)
    assert f"the key file {cli.key} does not belong to database {cli.db}" in out
    assert "restore the key from backup" in out
    out = cli("campaign", "run", "any", code=3)
    assert "does not belong to database" in out
    assert cli.db.read_bytes() == data


def test_key_missing_key_is_named_and_init_never_makes_a_new_one(cli: Cli) -> None:
    cli.key.unlink()
    out = cli("consent", "show", NUMBER, code=3)
    assert f"the key file {cli.key} is missing" in out and "restore the key from backup" in out
    out = cli("init", code=3)
    assert "exists but its key file" in out and "never makes a new key" in out
    assert not cli.key.exists()
