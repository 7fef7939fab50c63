"""C9 refusals name the recording as staff know it (name, language, version),
never the server's sound file: from ``dialer campaign create`` and from the
console's campaign form (real HTTP), with real recordings converted by ffmpeg.
A refused recording made by phone names the take the same way, not its file.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from support import audio_files as af
from support.webapp import WebServer, add_user, form_tokens
from typer.testing import CliRunner

from dialer.cli import app
from dialer.errors import AudioError
from dialer.settings import load_settings
from dialer.store.store import Store
from dialer.usecases.recordings import add_recording

RUNNER = CliRunner()
REPO = Path(__file__).resolve().parents[2]
CALLBACK, HOTLINE, OFFICE = "+12125550111", "+12125550199", "+12125550100"
REFUSAL = re.compile(
    r"C9: in message 'snow' \(live, en\) .* identification recording 'org-name' "
    r"\(en, version 2\) ends with 3\.\d\d s of silence"
)


def _dialer(config: Path, *args: str, code: int = 0) -> str:
    result = RUNNER.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
    return " ".join(result.output.split())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A list, a body recording and version 2 of an identification that ends in
    3 s of hum (kept by the importer, no words in it: C9 counts it as silence)."""
    config = tmp_path / "dialer.toml"
    _dialer(config, "init", "--callback", CALLBACK, "--hotline", HOTLINE)
    contacts = tmp_path / "c.csv"
    contacts.write_text("id,phone\ns1,+12125550142\n", encoding="utf-8")
    _dialer(config, "contacts", "import", str(contacts), "--list", "l")
    _dialer(config, "recordings", "add", str(REPO / "recordings/samples/en/example-body.wav"),
            "--name", "m")  # fmt: skip
    speech = af.speech_wav(tmp_path / "org.wav", "This is Example School District.")
    _dialer(config, "recordings", "add", str(speech), "--name", "org-name")
    hum = af.with_trailing_hum(speech, tmp_path / "org-hum.wav", 3.0, level_db=22)
    _dialer(config, "recordings", "add", str(hum), "--name", "org-name")  # version 2
    _dialer(config, "callerid", "add", OFFICE, "--label", "office")
    return config


def _no_server_path(text: str, config: Path) -> None:
    sounds = load_settings(config).audio.sounds_dir
    assert str(sounds) not in text and "/recordings/" not in text and ".wav" not in text, text


def test_c9_refusal_from_the_cli_names_recording_language_and_version(config: Path) -> None:
    out = _dialer(
        config, "campaign", "create", "snow", "--purpose", "school", "--list", "l",
        "--message", "m", "--identification", "org-name", "--caller-id", OFFICE, code=2,
    )  # fmt: skip
    assert REFUSAL.search(out), out
    _no_server_path(out, config)


def test_c9_refusal_in_the_console_names_recording_language_and_version(config: Path) -> None:
    add_user(config, "ruiz", "admin")
    with WebServer(config) as web:
        client = web.login("ruiz")
        tokens = form_tokens(client.get("/campaigns/new").text)
        reply = client.post(
            "/campaigns",
            data={
                **tokens, "name": "snow", "purpose": "school", "list": "l", "message": "m",
                "identification": "org-name", "caller_id": OFFICE,
            },
        )  # fmt: skip
    assert reply.status_code == 422
    error = re.search(r'id="identification-error"[^>]*>([^<]*)<', reply.text)
    assert error, reply.text
    text = error.group(1).replace("&#39;", "'")
    assert REFUSAL.search(text), text
    _no_server_path(text, config)


def test_a_refused_take_recorded_by_phone_is_named_not_its_file(config: Path) -> None:
    """Record by phone keeps takes in the sounds folder's incoming/ (Asterisk writes
    them there); a refused take is told by what it is, not by that file."""
    cfg = load_settings(config)
    (cfg.audio.sounds_dir / "incoming").mkdir()
    take = af.silent_wav(cfg.audio.sounds_dir / "incoming" / "take-0123abcd-1.wav")

    async def keep() -> None:
        store = await Store.open(cfg.store.path, cfg.store.key_file)
        try:
            await add_recording(
                cfg, store, take, "call-in-1", "en", "ruiz", source_name="recorded by phone"
            )
        finally:
            await store.close()

    with pytest.raises(AudioError) as info:
        asyncio.run(keep())
    assert str(info.value).startswith("recorded by phone: contains only silence"), info.value
    assert "incoming" not in str(info.value) and "take-" not in str(info.value)
