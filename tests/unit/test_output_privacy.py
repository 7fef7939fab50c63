"""Files and output carry no more than they must (issue 8 item 3; C18).

The real command line (typer's CliRunner on ``dialer.cli.app``) over a real
installation made by ``dialer init`` in ``tmp_path``; file modes are read from
the real files with the process umask at the usual 022.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialer.cli import app
from dialer.settings import load_settings
from dialer.store.journal import journal_path
from dialer.store.store import Store

RUNNER = CliRunner()
REPO = Path(__file__).resolve().parents[2]
WHEN = "2026-08-15T09:30:00Z"
#: a district whose SIS uses the parent's phone number as the contact id
NUMBER = "+12125550142"
DIGITS = "2125550142"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def dialer(config: Path, *args: str, code: int = 0) -> str:
    result = RUNNER.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
    assert "Traceback" not in result.output
    return result.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_c18_database_wal_shm_and_journal_are_0600(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    dialer(config, "init")
    cfg = load_settings(config)

    async def while_open() -> dict[str, int]:
        store = await Store.open(cfg.store.path, cfg.store.key_file)
        try:
            await store.consent.add_company_dnc(NUMBER, "staff")  # the WAL has content
            db = cfg.store.path
            files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), journal_path(db)]
            return {p.name: mode(p) for p in files}
        finally:
            await store.close()

    modes = asyncio.run(while_open())
    assert modes == dict.fromkeys(modes, 0o600), modes
    assert len(modes) == 4


def test_c18_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    dialer(config, "init")
    db = load_settings(config).store.path
    os.chmod(db, 0o644)  # what earlier versions created
    dialer(config, "consent", "show", NUMBER)
    assert mode(db) == 0o600


def _workspace(tmp_path: Path) -> Path:
    config = tmp_path / "dialer.toml"
    dialer(
        config,
        "init",
        "--org",
        "Springfield [bold]Schools[/]",
        "--callback",
        "+12125550111",
        "--hotline",
        "+12125550199",
    )
    consent = tmp_path / "consent.csv"
    consent.write_text(
        "phone,scope,source,method,obtained_at,disclosure,evidence_ref,contact\n"
        f"{NUMBER},school,enrollment,form,{WHEN},We may call you.,SIS:{DIGITS},Parent\n",
        encoding="utf-8",
    )
    dialer(config, "consent", "import", str(consent))
    contacts = tmp_path / "contacts [final].csv"
    contacts.write_text(
        f"id,phone,student_name\n{DIGITS},{NUMBER},Ana\nbad,555-CALL-NOW,Bo\n", encoding="utf-8"
    )
    dialer(config, "contacts", "import", str(contacts), "--list", "families")
    dialer(
        config,
        "recordings",
        "add",
        str(REPO / "recordings/samples/en/example-body.wav"),
        "--name",
        "notice",
    )
    dialer(config, "callerid", "add", "+12125550100", "--label", "office [/] [red]main")
    dialer(
        config,
        "campaign",
        "create",
        "conf",
        "--purpose",
        "school",
        "--list",
        "families",
        "--message",
        "notice",
        "--caller-id",
        "+12125550100",
    )
    return config


def test_c18_json_and_tables_mask_numbers_the_same_way(tmp_path: Path) -> None:
    config = _workspace(tmp_path)
    for args in (
        ("campaign", "report", "conf"),
        ("consent", "show", NUMBER),
        ("contacts", "lists"),
    ):
        table = dialer(config, *args)
        as_json = dialer(config, *args, "--json")
        json.loads(as_json)
        for out in (table, as_json):
            assert DIGITS[:6] not in out, f"{args}: a number is readable:\n{out}"
    report = json.loads(dialer(config, "campaign", "report", "conf", "--json"))
    contact = report["per_contact"][0]["contact"]
    assert contact.endswith("0142") and DIGITS not in contact  # masked, still recognisable
    # the organisation's own caller IDs stay readable in both forms (not personal data)
    ids = json.loads(dialer(config, "callerid", "list", "--json"))
    assert ids[0]["number"] == "+12125550100"
    assert "+12125550100" in dialer(config, "callerid", "list")


def test_rich_markup_in_user_data_is_printed_literally(tmp_path: Path) -> None:
    config = _workspace(tmp_path)  # a label with "[/]" and "[red]" was accepted above
    table = dialer(config, "callerid", "list")
    assert "[/]" in table and "[red]main" in table
    result = RUNNER.invoke(
        app, ["--config", str(config), "callerid", "add", "+12125550101", "--label", "[/]"]
    )
    assert result.exit_code == 0 and "([/])" in result.output
    contacts = tmp_path / "contacts [final].csv"
    out = dialer(config, "contacts", "import", str(contacts), "--list", "[/bold]x")
    flat = out.replace("\n", "")  # rich wraps long lines at the terminal width
    assert "contacts [final].csv" in flat and "'[/bold]x'" in flat


def test_c18_csv_export_file_is_0600_and_masked(tmp_path: Path) -> None:
    config = _workspace(tmp_path)
    out = tmp_path / "report.csv"
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o644)  # a file left by an earlier export: tightened, not kept readable
    dialer(config, "campaign", "report", "conf", "--csv", "--out", str(out))
    assert mode(out) == 0o600
    text = out.read_text(encoding="utf-8")
    assert "0142" in text and DIGITS not in text
    fresh = tmp_path / "fresh.csv"
    dialer(config, "campaign", "report", "conf", "--csv", "--out", str(fresh))
    assert mode(fresh) == 0o600


def test_no_rich_markup_is_left_in_the_commands() -> None:
    """The console prints text literally (markup off): a "[bold]" left in code would
    show up as is. Styles go through rich Text; this keeps new code honest."""
    import re

    markup = re.compile(r"\[/?(?:bold|red|green|yellow|dim|cyan|italic)[^\]]*\]|\[/\]")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("dialer/commands", "dialer/compliance_report")
        for path in (REPO / folder).rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if markup.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, offenders


def test_c18_key_rotation_drops_the_spoken_name_cache(tmp_path: Path) -> None:
    """TTS file names are keyed by the store key: after a rotation the old renders
    could never be found again, so they must not stay on disk (personal audio)."""
    config = tmp_path / "dialer.toml"
    dialer(config, "init")
    cache = load_settings(config).audio.sounds_dir / "tts" / "en"
    cache.mkdir(parents=True)
    (cache / "0123abcd.wav").write_bytes(b"RIFF")
    dialer(config, "key", "rotate")
    assert not (cache / "0123abcd.wav").exists()
