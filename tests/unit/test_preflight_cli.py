"""``dialer campaign preflight|approve`` through the real command line (issue 14).

typer's CliRunner on ``dialer.cli.app`` with a settings file and key made by
``dialer init``, a real SQLite store, real recordings (converted by ffmpeg) and
real TTS (espeak-ng) for the organisation's name. Nothing here dials: the
preflight must work with no Asterisk at all.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.sample import write_consents, write_contacts
from support.store import audit_kinds, raw
from typer.testing import CliRunner

from dialer.cli import app

REPO = Path(__file__).resolve().parents[2]
RUNNER = CliRunner()
CALLER_ID = "+12125550100"
NY = [f"+1212555{n:04d}" for n in range(101, 110)]
LA = [f"+1213555{n:04d}" for n in range(101, 110)]


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "dialer.toml"

    def __call__(self, *args: str, code: int = 0) -> str:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args])
        assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
        return result.output

    def json(self, *args: str) -> dict[str, object]:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args, "--json"])
        assert result.exit_code == 0, result.output
        data: dict[str, object] = json.loads(result.stdout)
        return data


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    run(
        "init",
        "--org",
        "Springfield Public Schools",
        "--callback",
        "+12125550111",  # C11: not the caller ID (the dialer's own line)
        "--hotline",
        "+12125550199",
    )
    run("callerid", "add", CALLER_ID, "--label", "office")
    run("recordings", "add", str(REPO / "recordings/samples/en/example-body.wav"), "--name", "m")
    return run


def load(cli: Cli, rows: list[dict[str, str]], consented: list[str]) -> None:
    cli("consent", "import", str(write_consents(cli.root / "consent.csv", consented)))
    cli("contacts", "import", str(write_contacts(cli.root / "c.csv", rows)), "--list", "grade5")


def tomorrow_at(hour: int, minute: int = 0) -> str:
    """'YYYY-MM-DD HH:MM' tomorrow in New York (the organisation's zone)."""
    day = dt.datetime.now(ZoneInfo("America/New_York")).date() + dt.timedelta(days=1)
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def test_preflight_figures_for_a_list_with_blocked_out_of_window_and_duplicate_entries(
    cli: Cli,
) -> None:
    rows = [
        {"id": "s-1", "phone": NY[0], "language": "en"},
        {"id": "s-2", "phone": NY[1], "language": "es"},  # no Spanish recording: falls back
        {"id": "s-3", "phone": NY[1], "language": "es"},  # sibling, same number
        {"id": "s-4", "phone": NY[2], "language": "en"},  # revoked below
        {"id": "s-5", "phone": NY[3], "language": "en"},  # no consent
        {"id": "s-6", "phone": NY[4], "language": "en"},  # organisation's DNC
        {"id": "s-7", "phone": LA[0], "language": "en"},  # 07:30 in Los Angeles
        {"id": "s-8", "phone": LA[1], "language": "en"},
    ]
    load(cli, rows, [NY[0], NY[1], NY[2], NY[4], LA[0], LA[1]])
    cli("consent", "revoke", NY[2], "--channel", "email", "--ref", "ticket-1")
    cli("dnc", "add", NY[4])
    cli(
        "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID,
    )  # fmt: skip
    before = audit_kinds(cli.root / "dialer.db")

    report = cli.json("campaign", "preflight", "conf", "--at", tomorrow_at(10, 30))

    assert report["contacts"] == {
        "in_list": 8,
        "finished_already": 0,
        "to_call": 8,
        "allowed_at_start": 3,
        "blocked_at_start": 5,
    }
    assert report["numbers"] == {
        "to_call": 7,
        "allowed_at_start": 2,
        "shared_by_several_contacts": 1,
    }
    assert report["households"] == 7  # issue 12: the siblings' number is one call
    assert report["blocked"] == {
        "outside-window": 2,
        "dnc-company": 1,
        "no-consent": 1,
        "revoked": 1,
    }
    [zone] = report["outside_window"]  # type: ignore[misc]
    assert zone["zones"] == ["America/Los_Angeles"] and zone["contacts"] == 2
    assert zone["opens_at"]["local"][11:16] == "11:00"  # 08:00 in Los Angeles
    languages = {entry["language"]: entry for entry in report["languages"]}  # type: ignore[attr-defined]
    assert languages["en"]["contacts"] == 6 and languages["en"]["hears"] == "en"
    assert languages["es"]["contacts"] == 2 and languages["es"]["hears"] == "en"
    assert languages["es"]["fallbacks"] and "es → en" in languages["es"]["fallbacks"][0]
    for message in report["message"]:  # type: ignore[attr-defined]
        assert message["ok"] is True
        assert set(message["checks"]) == {"C8", "C9", "C10", "C11"}
        assert 5 < message["live_seconds"] < 60
        assert message["voicemail_seconds"] > 5
    duration = report["duration"]
    assert duration["calls"] == 3 and duration["expected_seconds"] > 0  # type: ignore[index]
    assert report["approval"]["required"] is True  # type: ignore[index]
    codes = {w["code"] for w in report["warnings"]}  # type: ignore[attr-defined]
    assert {"shared-numbers", "mostly-blocked", "language-fallback", "approval-missing"} <= codes
    assert "list-changed" not in codes
    # no dialling, nothing written: the audit log is exactly as before
    assert audit_kinds(cli.root / "dialer.db") == before
    with closing(raw(cli.root / "dialer.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
    # and the numbers never appear in what the preflight prints (C18)
    text = cli("campaign", "preflight", "conf", "--at", tomorrow_at(10, 30))
    assert not any(number in text for number in NY + LA)
    assert "outside the window: 2 in America/Los_Angeles" in text


def test_preflight_warns_when_the_list_changed_since_the_campaign_was_created(cli: Cli) -> None:
    rows = [{"id": "s-1", "phone": NY[0]}, {"id": "s-2", "phone": NY[1]}]
    load(cli, rows, [NY[0], NY[1]])
    cli(
        "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID,
    )  # fmt: skip
    same = cli.json("campaign", "preflight", "conf")
    assert "list-changed" not in {w["code"] for w in same["warnings"]}  # type: ignore[attr-defined]

    # the same rows loaded again: not a change
    cli("contacts", "import", str(cli.root / "c.csv"), "--list", "grade5", "--replace")
    again = cli.json("campaign", "preflight", "conf")
    assert "list-changed" not in {w["code"] for w in again["warnings"]}  # type: ignore[attr-defined]

    rows.append({"id": "s-3", "phone": NY[2]})
    write_contacts(cli.root / "c.csv", rows)
    cli("contacts", "import", str(cli.root / "c.csv"), "--list", "grade5", "--replace")
    changed = cli.json("campaign", "preflight", "conf")
    assert "list-changed" in {w["code"] for w in changed["warnings"]}  # type: ignore[attr-defined]


def test_preflight_lists_template_texts_and_counts_missing_fields(cli: Cli) -> None:
    rows = [
        {"id": "s-1", "phone": NY[0], "student_name": "Ana", "school": "Lincoln",
         "date": "2026-03-02"},
        {"id": "s-2", "phone": NY[1], "student_name": "Ana", "school": "Lincoln",
         "date": "2026-03-02"},
        {"id": "s-3", "phone": NY[2], "student_name": "", "school": "Lincoln",
         "date": "2026-03-02"},
    ]  # fmt: skip
    load(cli, rows, [NY[0], NY[1], NY[2]])
    # created although s-3 has no name: s-3 is blocked from it instead
    cli(
        "campaign", "create", "absent", "--purpose", "emergency", "--category", "attendance",
        "--authorized-by", "Principal Lee", "--list", "grade5",
        "--message", "template:attendance-absence", "--caller-id", CALLER_ID,
    )  # fmt: skip

    report = cli.json("campaign", "preflight", "absent")

    templates = report["templates"]
    assert templates["contacts_missing_fields"] == 1  # type: ignore[index]
    assert templates["missing_by_field"] == {"student_name": 1}  # type: ignore[index]
    [text] = templates["texts"]  # type: ignore[index]
    assert text["contacts"] == 2
    assert text["text"].startswith("Ana was absent from Lincoln on ")
    assert report["blocked"] == {"template-field-missing": 1}
    assert report["approval"]["required"] is False  # type: ignore[index]
    [message] = report["message"]  # type: ignore[misc]
    assert message["ok"] is True and message["live_seconds"] > 5

    # recordings preview renders exactly that text
    out = cli.root / "text.wav"
    printed = cli("recordings", "preview", "absent", "--text", text["id"], "--out", str(out))
    assert out.stat().st_size > 8000 * 2 * 5
    assert "s-1" in printed or "s-2" in printed


def test_preflight_of_an_unknown_campaign_is_one_clear_message(cli: Cli) -> None:
    result = RUNNER.invoke(app, ["--config", str(cli.config), "campaign", "preflight", "nope"])
    assert result.exit_code == 4
    assert result.output.strip() == "error: no campaign named 'nope'"


def test_preflight_refuses_a_start_time_it_cannot_read(cli: Cli) -> None:
    load(cli, [{"id": "s-1", "phone": NY[0]}], [NY[0]])
    cli(
        "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID,
    )  # fmt: skip
    out = cli("campaign", "preflight", "conf", "--at", "tomorrow-ish", code=2)
    assert "--at 'tomorrow-ish' is not a time" in out


def test_approval_by_a_second_operator_is_recorded_and_audited(cli: Cli) -> None:
    load(cli, [{"id": "s-1", "phone": NY[0]}], [NY[0]])
    cli(
        "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID, "--operator", "Ms. Diaz",
    )  # fmt: skip
    db = cli.root / "dialer.db"
    before = audit_kinds(db)

    # the creator cannot approve their own campaign, whatever the spelling
    out = cli("campaign", "approve", "conf", "--operator", "  ms.   DIAZ ", code=2)
    assert "created by 'Ms. Diaz'; a different operator must approve it" in out
    assert audit_kinds(db) == before
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM campaign_approvals").fetchone()[0] == 0

    out = cli("campaign", "approve", "conf", "--operator", "Principal Lee")
    assert "approved by Principal Lee (created by Ms. Diaz)" in out
    kinds = audit_kinds(db)
    assert kinds.get("campaign-approved") == 1
    with closing(raw(db)) as conn:
        payload = conn.execute(
            "SELECT payload FROM audit WHERE kind = 'campaign-approved'"
        ).fetchone()[0]
        created = conn.execute(
            "SELECT payload FROM audit WHERE kind = 'campaign-created'"
        ).fetchone()[0]
    assert json.loads(payload)["by"] == "Principal Lee"
    assert json.loads(created)["by"] == "Ms. Diaz"

    report = cli.json("campaign", "preflight", "conf")
    assert report["approval"]["approved_by"] == "Principal Lee"  # type: ignore[index]
    assert "approval-missing" not in {w["code"] for w in report["warnings"]}  # type: ignore[attr-defined]

    # approved once; a second approval is refused and changes nothing
    out = cli("campaign", "approve", "conf", "--operator", "Supt. Ruiz", code=2)
    assert "already approved by 'Principal Lee'" in out
    assert audit_kinds(db) == kinds


def test_approving_an_unknown_campaign_is_not_found(cli: Cli) -> None:
    out = cli("campaign", "approve", "nope", "--operator", "Principal Lee", code=4)
    assert "no campaign named 'nope'" in out


def _state(cli: Cli, name: str) -> str:
    with closing(raw(cli.root / "dialer.db")) as conn:
        return str(
            conn.execute("SELECT state FROM campaigns WHERE name = ?", (name,)).fetchone()[0]
        )


def _school_campaign(cli: Cli) -> None:
    load(cli, [{"id": "s-1", "phone": NY[0]}], [NY[0]])
    cli(
        "campaign", "create", "conf", "--purpose", "school", "--list", "grade5",
        "--message", "m", "--caller-id", CALLER_ID, "--operator", "Ms. Diaz",
    )  # fmt: skip


def test_start_waits_for_approval_then_shows_the_preflight_before_starting(cli: Cli) -> None:
    _school_campaign(cli)

    refused = cli("campaign", "start", "conf", "--yes", code=2)
    assert "needs a second operator's approval" in refused
    assert "Preflight" not in refused  # refused before anything is shown or asked
    assert _state(cli, "conf") == "draft"

    cli("campaign", "approve", "conf", "--operator", "Principal Lee")
    started = cli("campaign", "start", "conf", "--yes", "--operator", "Ms. Diaz")
    assert "Preflight: conf (school, list 'grade5')" in started
    assert "approved by Principal Lee" in started
    assert "campaign 'conf' started" in started
    assert _state(cli, "conf") == "running"


def _on_a_terminal(cli: Cli, answer: bytes, *args: str) -> tuple[int, str]:
    """Run the real console script on a pseudo-terminal and answer its question."""
    import os
    import pty
    import re
    import subprocess
    import sys
    import time

    main, side = pty.openpty()
    # PYTHONPATH: this checkout's dialer (the venv's entry point may belong to another)
    env = dict(os.environ, COLUMNS="120", TERM="xterm", NO_COLOR="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", "--config", str(cli.config), *args],
        stdin=side, stdout=side, stderr=side, env=env, close_fds=True,
    )  # fmt: skip
    os.close(side)
    seen = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Start campaign 'conf'?" in seen:
            os.write(main, answer)
            answered = True
    os.close(main)
    text = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode(errors="replace"))
    return proc.wait(timeout=30), text


def test_start_on_a_terminal_asks_and_a_no_starts_nothing(cli: Cli) -> None:
    _school_campaign(cli)
    cli("campaign", "approve", "conf", "--operator", "Principal Lee")

    code, shown = _on_a_terminal(cli, b"n\n", "campaign", "start", "conf")
    assert "Preflight: conf" in shown and "Start campaign 'conf'? [y/N]" in shown
    assert code == 1 and "campaign 'conf' not started" in shown
    assert _state(cli, "conf") == "draft"

    code, shown = _on_a_terminal(cli, b"y\n", "campaign", "start", "conf")
    assert code == 0 and "campaign 'conf' started" in shown
    assert _state(cli, "conf") == "running"


# -- [campaigns] approval: which campaigns wait for a second operator (item 4) ----------


@pytest.mark.parametrize(
    ("mode", "needs"),
    [
        ("non-emergency", {"school", "informational", "telemarketing"}),
        ("all", {"school", "informational", "telemarketing", "emergency"}),
        ("none", set()),
    ],
)
def test_approval_setting_decides_which_purposes_need_a_second_operator(
    mode: str, needs: set[str]
) -> None:
    from dialer.campaign.approval import approval_required
    from dialer.consent.model import Purpose

    assert {p.value for p in Purpose if approval_required(mode, p)} == needs


def _set_approval(cli: Cli, mode: str) -> None:
    text = cli.config.read_text()
    assert 'approval = "non-emergency"' in text  # dialer init writes the default
    cli.config.write_text(text.replace('approval = "non-emergency"', f'approval = "{mode}"'))


def _emergency_campaign(cli: Cli) -> None:
    load(cli, [{"id": "s-1", "phone": NY[0]}], [NY[0]])
    cli(
        "campaign", "create", "closure", "--purpose", "emergency", "--category", "closure",
        "--authorized-by", "Supt. Ruiz", "--list", "grade5", "--message", "m",
        "--caller-id", CALLER_ID, "--operator", "Ms. Diaz",
    )  # fmt: skip


def test_an_emergency_is_started_by_one_authorised_operator_under_the_default(cli: Cli) -> None:
    _emergency_campaign(cli)

    started = cli("campaign", "start", "closure", "--yes", "--operator", "Ms. Diaz")

    assert "second-person approval (non-emergency): not required" in started
    assert "campaign 'closure' started" in started
    assert _state(cli, "closure") == "running"


def test_approval_all_holds_an_emergency_until_a_second_operator_approves(cli: Cli) -> None:
    _set_approval(cli, "all")
    _emergency_campaign(cli)

    refused = cli("campaign", "start", "closure", "--yes", code=2)
    assert "needs a second operator's approval" in refused and "'all'" in refused
    assert _state(cli, "closure") == "draft"

    cli("campaign", "approve", "closure", "--operator", "Principal Lee")
    assert "campaign 'closure' started" in cli("campaign", "start", "closure", "--yes")


def test_approval_none_lets_one_operator_start_a_school_campaign(cli: Cli) -> None:
    _set_approval(cli, "none")
    _school_campaign(cli)

    started = cli("campaign", "start", "conf", "--yes", "--operator", "Ms. Diaz")

    assert "second-person approval (none): not required" in started
    assert _state(cli, "conf") == "running"
    assert "campaign-approved" not in audit_kinds(cli.root / "dialer.db")


def test_a_bad_approval_setting_is_one_clear_message(cli: Cli) -> None:
    _set_approval(cli, "sometimes")
    out = cli("campaign", "preflight", "nope", code=3)
    assert "campaigns.approval must be one of non-emergency, all, none, got 'sometimes'" in out
