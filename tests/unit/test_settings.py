"""Settings: typed, frozen, relative paths against the file, clear errors naming the setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dialer.errors import ConfigError
from dialer.settings import load_settings, read_secret_file, write_secret_file


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialer.toml"
    path.write_text(text)
    return path


def test_defaults_and_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    cfg = load_settings(_write(tmp_path, "[engine]\nmax_concurrent = 5\n"))
    assert cfg.engine.max_concurrent == 5
    assert cfg.store.path == tmp_path / "dialer.db"
    assert cfg.store.key_file == tmp_path / "dialer.key"
    assert cfg.audio.sounds_dir == tmp_path / "sounds"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\na = 1\n", "unknown section [nope]"),
        ("[engine]\nspeed = 1\n", "unknown key engine.speed"),
        ('[engine]\nmax_concurrent = "x"\n', "engine.max_concurrent must be int"),
        ("[engine]\nmax_concurrent = 0\n", "engine.max_concurrent must be at least 1"),
        ('[asterisk]\ndial_string = "PJSIP/trunk"\n', "asterisk.dial_string must contain"),
        ("[engine\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(_write(tmp_path, text))


def test_missing_settings_file_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dialer init"):
        load_settings(tmp_path / "absent.toml")


def test_c18_secret_files_are_0600_and_looser_ones_refused(tmp_path: Path) -> None:
    path = tmp_path / "s" / "ami.secret"
    write_secret_file(path, "hunter2")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_secret_file(path, "asterisk.ami_secret_file") == "hunter2"
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="0600"):
        read_secret_file(path, "asterisk.ami_secret_file")
