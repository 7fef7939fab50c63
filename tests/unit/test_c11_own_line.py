"""C11 (issue 7, item 5): the message validator gets the dialer's own line (the
campaign's caller ID) and refuses a callback or hotline number equal to it; a
voicemail version without a configured hotline number is refused at
``campaign create`` instead of silently saying the callback number.

Through the real command line, with a real recording converted by ffmpeg.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dialer.cli import app

RUNNER = CliRunner()
REPO = Path(__file__).resolve().parents[2]
CALLBACK, HOTLINE, OFFICE = "+12125550111", "+12125550199", "+12125550100"


def _dialer(config: Path, *args: str, code: int = 0) -> str:
    result = RUNNER.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
    return " ".join(result.output.split())


def _create(config: Path, name: str, caller_id: str, code: int = 0) -> str:
    return _dialer(
        config,
        "campaign", "create", name, "--purpose", "school", "--list", "l",
        "--message", "m", "--caller-id", caller_id,
        code=code,
    )  # fmt: skip


def test_c11_callback_or_hotline_on_the_dialers_own_line_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    _dialer(config, "init", "--callback", CALLBACK, "--hotline", HOTLINE)
    contacts = tmp_path / "c.csv"
    contacts.write_text("id,phone\ns1,+12125550142\n", encoding="utf-8")
    _dialer(config, "contacts", "import", str(contacts), "--list", "l")
    body = REPO / "recordings" / "samples" / "en" / "example-body.wav"
    _dialer(config, "recordings", "add", str(body), "--name", "m")
    for number in (CALLBACK, HOTLINE, OFFICE):
        _dialer(config, "callerid", "add", number, "--label", "line")

    out = _create(config, "a", CALLBACK, code=2)
    assert "C11" in out and "the callback number is the dialer's own line" in out
    out = _create(config, "b", HOTLINE, code=2)
    assert "C11" in out and "the opt-out hotline number is the dialer's own line" in out
    _create(config, "c", OFFICE)  # another line: accepted

    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f'hotline_number = "{HOTLINE}"', 'hotline_number = ""'), encoding="utf-8"
    )
    out = _create(config, "d", OFFICE, code=2)
    assert "C11: the voicemail version" in out and "organisation.hotline_number" in out
    listed = _dialer(config, "campaign", "list", "--json")
    assert '"c"' in listed and '"d"' not in listed and '"a"' not in listed
