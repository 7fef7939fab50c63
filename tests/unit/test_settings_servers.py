"""Several Asterisk servers in dialer.toml (issue #9 item 5): ``[[asterisk.servers]]``.

A plain ``[asterisk]`` section keeps working as one server; server entries
inherit what they leave out from ``[asterisk]``; bad entries are refused with
one message naming the entry and the key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.errors import ConfigError
from dialer.settings import (
    DEFAULT_SERVER_NAME,
    AsteriskServer,
    Settings,
    load_settings,
    write_secret_file,
)


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "dialer.toml"
    path.write_text(text)
    return load_settings(path)


def test_plain_asterisk_section_is_one_server_limited_by_max_concurrent(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        '[asterisk]\nami_host = "10.0.0.5"\ndial_string = "PJSIP/{e164}@carrier"\n'
        "[engine]\nmax_concurrent = 40\n",
    )
    assert cfg.asterisk_servers == (
        AsteriskServer(
            name=DEFAULT_SERVER_NAME,
            ami_host="10.0.0.5",
            ami_port=5038,
            ami_user="dialer",
            ami_secret_file=tmp_path / "secrets/ami.secret",
            dial_string="PJSIP/{e164}@carrier",
            dial_via_dialplan=False,
            max_channels=40,
            ami_tls_ca_file=tmp_path / "ami-ca.pem",
        ),
    )


def test_ami_tls_settings_reach_every_server(tmp_path: Path) -> None:
    """Issue 8 item 8: [asterisk] TLS keys are inherited by [[asterisk.servers]]."""
    cfg = _load(
        tmp_path,
        '[asterisk]\nami_tls = true\nami_tls_ca_file = "pki/ca.pem"\n'
        'ami_tls_server_name = "pbx.district.example"\n'
        '[[asterisk.servers]]\nname = "a"\nami_host = "10.0.0.5"\nmax_channels = 5\n'
        '[[asterisk.servers]]\nname = "b"\nami_host = "10.0.0.6"\nami_tls = false\n'
        "max_channels = 5\n",
    )
    a, b = cfg.asterisk_servers
    assert (a.ami_tls, a.ami_tls_ca_file, a.ami_tls_server_name) == (
        True,
        tmp_path / "pki/ca.pem",
        "pbx.district.example",
    )
    assert b.ami_tls is False


def test_direct_originate_is_the_default_and_the_hop_a_setting(tmp_path: Path) -> None:
    assert _load(tmp_path, "").asterisk.dial_via_dialplan is False
    cfg = _load(tmp_path, "[asterisk]\ndial_via_dialplan = true\n")
    assert cfg.asterisk_servers[0].dial_via_dialplan is True


def test_servers_inherit_what_they_leave_out(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        """
[asterisk]
ami_user = "engine"
ami_secret_file = "secrets/shared.secret"
dial_string = "PJSIP/{e164}@trunk"
ring_timeout = 25

[[asterisk.servers]]
name = "north"
ami_host = "10.0.1.5"
max_channels = 23

[[asterisk.servers]]
ami_host = "10.0.2.5"
ami_port = 5039
ami_secret_file = "/etc/dialer/south.secret"
dial_string = "DAHDI/g1/{digits}"
dial_via_dialplan = true
max_channels = 46
""",
    )
    north, south = cfg.asterisk_servers
    assert north == AsteriskServer(
        "north", "10.0.1.5", 5038, "engine", tmp_path / "secrets/shared.secret",
        "PJSIP/{e164}@trunk", False, 23, ami_tls_ca_file=tmp_path / "ami-ca.pem",
    )  # fmt: skip
    assert south.name == "pbx2"  # entries without a name are numbered
    assert (south.ami_port, south.ami_secret_file) == (5039, Path("/etc/dialer/south.secret"))
    assert (south.dial_string, south.dial_via_dialplan, south.max_channels) == (
        "DAHDI/g1/{digits}",
        True,
        46,
    )
    assert cfg.asterisk.ring_timeout == 25  # shared by every server


def test_each_server_reads_its_own_0600_secret(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "a.secret", "alpha")
    write_secret_file(tmp_path / "b.secret", "beta")
    cfg = _load(
        tmp_path,
        """
[[asterisk.servers]]
ami_port = 5038
ami_secret_file = "a.secret"
max_channels = 5
[[asterisk.servers]]
ami_port = 5138
ami_secret_file = "b.secret"
max_channels = 5
""",
    )
    a, b = cfg.asterisk_servers
    assert (cfg.server_secret(a), cfg.server_secret(b)) == ("alpha", "beta")
    (tmp_path / "b.secret").chmod(0o644)
    with pytest.raises(ConfigError, match=r"asterisk.servers\[2\].ami_secret_file.*0600"):
        cfg.server_secret(b)


SERVER = "[[asterisk.servers]]\nami_port = {port}\nmax_channels = 5\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[asterisk.servers]]\n", r"asterisk.servers\[1\].max_channels must be 1-100000"),
        (
            SERVER.format(port=5038) + "[[asterisk.servers]]\nmax_channels = 0\nami_port = 1\n",
            r"asterisk.servers\[2\].max_channels must be 1-100000 .* got 0",
        ),
        (
            "[[asterisk.servers]]\nmax_channels = 5\nport = 5038\n",
            r"unknown key asterisk.servers\[1\].port",
        ),
        (
            '[[asterisk.servers]]\nmax_channels = 5\nami_port = "x"\n',
            r"asterisk.servers\[1\].ami_port must be int",
        ),
        (
            "[[asterisk.servers]]\nmax_channels = 5\nami_port = 70000\n",
            r"asterisk.servers\[1\].ami_port must be 1-65535",
        ),
        (
            '[[asterisk.servers]]\nmax_channels = 5\ndial_string = "PJSIP/x@{trunk}"\n',
            r"asterisk.servers\[1\].dial_string must contain \{e164\} or \{digits\}",
        ),
        (
            '[[asterisk.servers]]\nmax_channels = 5\nname = "a b"\n',
            r"asterisk.servers\[1\].name must be a word",
        ),
        (SERVER.format(port=5038) * 2, "same AMI address 127.0.0.1:5038"),
        (
            '[[asterisk.servers]]\nname = "x"\nmax_channels = 5\n'
            '[[asterisk.servers]]\nname = "x"\nmax_channels = 5\nami_port = 1\n',
            "two asterisk.servers are named 'x'",
        ),
        ("[asterisk]\nservers = 3\n", "asterisk.servers must be one or more"),
        ("[asterisk]\nservers = [1]\n", r"asterisk.servers\[1\] must be a table"),
        ('[asterisk]\ndial_string = "PJSIP/{number}@t"\n', "asterisk.dial_string must contain"),
        ("[asterisk]\nring_timeout = 0\n", "asterisk.ring_timeout must be 1-600"),
    ],
)
def test_bad_server_entries_name_the_entry_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)
