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
        # issue 8 item 4: ranges, finiteness, levels and zones are checked up front
        ("[agi]\nport = 70000\n", "agi.port must be 1-65535, got 70000"),
        ("[asterisk]\nami_port = 0\n", "asterisk.ami_port must be 1-65535"),
        ("[asterisk]\nring_timeout = -5\n", "asterisk.ring_timeout must be 1-600"),
        ("[asterisk]\nconnect_timeout = inf\n", "asterisk.connect_timeout must be"),
        ("[engine]\ncalls_per_second = nan\n", "engine.calls_per_second must be"),
        ("[engine]\nmax_call_seconds = 99999999\n", "engine.max_call_seconds must be"),
        ('[logging]\nlevel = "verbose"\n', "logging.level must be one of debug, info"),
        ('[organisation]\ntimezone = "Mars/Base"\n', "organisation.timezone 'Mars/Base'"),
        ('[organisation]\ndefault_region = "XX"\n', "organisation.default_region 'XX'"),
        ('[store]\npath = "a\\u0000b"\n', "store.path contains a NUL"),
        ('[store]\nkey_file = ""\n', "store.key_file is empty: give a file or folder"),
        ('[audio]\nsounds_dir = " "\n', "audio.sounds_dir is empty"),
        # issue 14: the approval setting takes one of three values, nothing else
        ('[campaigns]\napproval = "sometimes"\n', "campaigns.approval must be one of"),
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


def test_settings_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "dialer.toml"
    path.write_bytes(b"[engine]\nmax_concurrent = 5 # \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)
