"""Deployment, run for real (issue 9 item 8): ``scripts/install`` into a system
root of its own (``--root``: the user goes into that root's /etc/passwd, this
machine's /etc is not touched), then the installed ``dialer serve`` started the
way the installed unit starts it (its User, Group, Environment, WorkingDirectory,
UMask and ExecStart) against the sandbox Asterisk, sent real HTTP requests and
SIGTERM.

systemd is not PID 1 on the machines this runs on, so ``systemctl start`` is
not possible; ``setpriv`` switches to the unit's user by number, as systemd
does, and ``systemd-analyze verify`` checks the installed unit.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.sandbox import REPO, Sandbox
from support.workspace import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTALL = REPO / "scripts" / "install"


@pytest.fixture
def system_root() -> Iterator[Path]:
    """An empty system root with this machine's user database (like a fresh Debian).

    Under /var/tmp, 0755: the service user must be able to reach the installed
    files (pytest's own temporary folders are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="dialer-install-", dir="/var/tmp"))
    root.chmod(0o755)
    (root / "etc").mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), root / "etc" / name)
    # a PBX host: Debian's asterisk package made the group asterisk (sounds are read
    # through it); added to this root only, if the root does not have it yet
    if not _has(root, "group", "asterisk"):
        subprocess.run(["groupadd", "--prefix", str(root), "--system", "asterisk"], check=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _has(root: Path, table: str, name: str) -> bool:
    lines = (root / "etc" / table).read_text().splitlines()
    return any(line.split(":")[0] == name for line in lines)


def _install(root: Path) -> subprocess.CompletedProcess[str]:
    """``scripts/install --root ROOT --wheels .venv/wheelhouse``: the offline install
    (a PBX host without internet access), so the test needs no package index."""
    wheels = REPO / ".venv" / "wheelhouse"
    assert any(wheels.glob("*.whl")), f"{wheels} is empty: run scripts/setup"
    done = subprocess.run(
        [str(INSTALL), "--root", str(root), "--wheels", str(wheels), "--", "--org", "Test"],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return done


def _entry(root: Path, table: str, name: str) -> list[str]:
    for line in (root / "etc" / table).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    raise AssertionError(f"{name} not in {root}/etc/{table}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _unit(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return dict(parser["Service"])


def test_install_creates_user_folders_modes_and_a_unit_that_runs_the_service(
    system_root: Path, sandbox: Sandbox
) -> None:
    host_passwd = Path("/etc/passwd").read_bytes()
    root = system_root
    done = _install(root)
    # the user: a system account without login, made by useradd in the root's /etc
    data, sounds = root / "var/lib/dialer", root / "var/lib/dialer-sounds"
    prefix = root / "opt/dialer"
    assert re.search(
        rf"useradd --system --user-group --no-create-home --home-dir {data} "
        rf"--shell /usr/sbin/nologin .*--prefix {root} dialer",
        done.stderr,
    ), done.stderr
    _name, _x, uid_text, gid_text, _gecos, home, shell = _entry(root, "passwd", "dialer")
    uid, gid = int(uid_text), int(gid_text)
    assert uid < 1000 and home == str(data) and shell == "/usr/sbin/nologin"
    assert int(_entry(root, "group", "dialer")[2]) == gid
    assert Path("/etc/passwd").read_bytes() == host_passwd, "the machine's /etc was touched"

    # folders, owners, modes: data 0700, key, settings, database and secrets 0600
    for folder in (data, data / "secrets"):
        assert (folder.stat().st_uid, folder.stat().st_gid, _mode(folder)) == (uid, gid, 0o700)
    for name in ("dialer.toml", "dialer.key", "dialer.db"):
        path = data / name
        assert (path.stat().st_uid, _mode(path)) == (uid, 0o600), name
    asterisk_gid = int(_entry(root, "group", "asterisk")[2])
    owner = (sounds.stat().st_uid, sounds.stat().st_gid, _mode(sounds))
    assert owner == (uid, asterisk_gid, 0o2750)  # setgid: what the dialer adds stays asterisk's
    assert prefix.stat().st_uid == 0 and not _mode(prefix) & 0o022  # code: root's, read-only
    key_before = (data / "dialer.key").read_bytes()

    # the unit names the installed paths, and systemd finds nothing to object to
    unit_path = root / "etc/systemd/system/dialer.service"
    unit = _unit(unit_path)
    assert unit["User"] == "dialer" and unit["Group"] == "dialer"
    assert unit["ExecStart"] == f"{prefix}/.venv/bin/dialer serve"
    assert unit["Environment"] == f"DIALER_CONFIG={data}/dialer.toml"
    assert unit["WorkingDirectory"] == str(data) and unit["UMask"] == "0027"
    assert unit["ReadWritePaths"].split() == [str(data), str(sounds)]
    assert unit["ProtectSystem"] == "strict" and unit["NoNewPrivileges"] == "yes"
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/setup installs Debian's systemd"
    verify = subprocess.run(
        [analyze, "verify", str(unit_path)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stderr

    # point the installed settings at the sandbox Asterisk (an admin's one edit)
    http_port = free_port()
    secret = data / "secrets" / "ami.secret"
    secret.write_text(sandbox.ami_secret() + "\n")
    os.chown(secret, uid, gid)
    secret.chmod(0o600)
    settings = (data / "dialer.toml").read_text()
    settings = settings.replace(
        'dial_string = "PJSIP/{e164}@trunk"', f'dial_string = "{sandbox.dial_string}"'
    )
    settings = settings.replace("port = 4573", f"port = {free_port()}")
    settings += f"\n[http]\nport = {http_port}\n"
    (data / "dialer.toml").write_text(settings)

    # start it as the unit does: its user (by number, as systemd does), its
    # environment alone, its working directory and umask, its command line
    env_name, _, env_value = unit["Environment"].partition("=")
    service = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--no-new-privs",
            "--",
            *unit["ExecStart"].split(),
        ],
        env={env_name: env_value, "PATH": "/usr/bin:/bin"},
        cwd=unit["WorkingDirectory"],
        preexec_fn=lambda: os.umask(int(unit["UMask"], 8)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30
        while True:
            assert service.poll() is None, service.communicate()[0].decode()
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the installed service did not get ready"
            time.sleep(0.3)
        assert health.json()["components"]["ami"][0]["ok"] is True
        assert httpx.get(f"{url}/api/campaigns", timeout=5).status_code == 401
        service.send_signal(signal.SIGTERM)
        output = service.communicate(timeout=60)[0].decode()
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
    assert service.returncode == 0, output
    assert '"event": "service stopped' in output  # JSON logs: no terminal, as under systemd
    # what the service wrote in its data folder is its own and private
    for path in data.iterdir():
        if path.is_file():
            assert (path.stat().st_uid, _mode(path)) == (uid, 0o600), path
    # the prompts it installed in the sounds folder are readable by group asterisk
    # (Asterisk plays them as that user), and by nobody else
    prompts = list((sounds / "prompts").rglob("*"))
    assert any(p.suffix == ".wav" for p in prompts), "serve installed no prompts"
    for path in prompts:
        need = 0o050 if path.is_dir() else 0o040
        assert path.stat().st_gid == asterisk_gid and _mode(path) & need == need, path
        assert not _mode(path) & 0o007, path

    # run again (an upgrade): the user, the settings, the key and the database stay
    again = _install(root)
    assert "creating the system user" not in again.stderr
    assert (data / "dialer.key").read_bytes() == key_before
    assert f"port = {http_port}" in (data / "dialer.toml").read_text()


def test_the_sandbox_rootfs_holds_the_packages_the_image_installs(sandbox: Sandbox) -> None:
    """Both take the package list from scripts/asterisk-build.sh: the sandbox that
    the tests run is built from the same Debian packages as the Asterisk image."""
    listed = subprocess.run(
        ["bash", "-c", f'. {REPO}/scripts/asterisk-build.sh; printf %s "$ASTERISK_DEB_PACKAGES"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "asterisk" in listed
    installed = subprocess.run(
        [
            "dpkg-query",
            f"--admindir={sandbox.rootfs}/var/lib/dpkg",
            "-W",
            "-f",
            "${Package} ${db:Status-Status}\n",
            *listed,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert installed.returncode == 0, installed.stderr
    assert sorted(installed.stdout.split("\n")[:-1]) == sorted(f"{p} installed" for p in listed)
