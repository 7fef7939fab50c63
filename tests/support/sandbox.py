"""The sandbox Asterisk (scripts/asterisk-sandbox) as seen from the tests.

:func:`ensure_sandbox` starts it when it is not running (the first start builds
the Debian testing root file system: about a minute; later starts take about
a second) and returns a :class:`Sandbox` with everything a test needs to talk
to it. Host and Asterisk see the state directory at the same absolute path
(bind mount), so a file written under ``sounds_dir`` is playable as is.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "asterisk-sandbox"

#: the dial string that reaches the simulated phones; ``{digits}`` is the
#: E.164 number without "+" (asterisk_conf/sandbox/extensions_sandbox.conf)
SANDBOX_DIAL_STRING = "Local/{digits}@sandbox-phones"


class SandboxError(RuntimeError):
    """The sandbox Asterisk could not be started or queried."""


@dataclass(frozen=True)
class Sandbox:
    ami_host: str
    ami_port: int
    ami_user: str
    #: plain AMI secret, alone in a 0600 file
    ami_secret_file: Path
    state_dir: Path
    #: converted recordings go here; the same path for Asterisk (bind mount)
    sounds_dir: Path
    rootfs: Path
    repo: Path
    #: the dial string for dialer.toml's ``asterisk.dial_string``
    dial_string: str = SANDBOX_DIAL_STRING
    #: which sandbox Asterisk (``scripts/asterisk-sandbox --instance N``)
    instance: int = 1
    sip_port: int = 5060
    #: Asterisk's pid file (for /proc/<pid>/stat in benchmarks)
    pid_file: Path | None = None
    #: AMI over TLS (manager.conf tlsenable) and the self-signed certificate to trust
    ami_tls_port: int = 0
    ami_tls_ca: Path | None = None

    @property
    def asterisk_sounds_dir(self) -> str:
        """``sounds_dir`` as Asterisk sees it (identical: same-path bind mount)."""
        return str(self.sounds_dir)

    def ami_secret(self) -> str:
        return self.ami_secret_file.read_text().strip()

    def rx(self, command: str, timeout: float = 30) -> str:
        """Run an Asterisk CLI command (as root, through the script)."""
        done = _run("rx", command, timeout=timeout, instance=self.instance)
        return done.stdout

    def pid(self) -> int:
        """The running Asterisk's process id."""
        if self.pid_file is None:
            raise SandboxError("no pid file known for this sandbox")
        return int(self.pid_file.read_text().strip())


def _run(*args: str, timeout: float = 600, instance: int = 1) -> subprocess.CompletedProcess[str]:
    where = ["--instance", str(instance)] if instance != 1 else []
    try:
        return subprocess.run(
            [str(SCRIPT), *where, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as exc:
        raise SandboxError(
            f"scripts/asterisk-sandbox {' '.join(args)} failed ({exc.returncode}):\n{exc.stderr}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"scripts/asterisk-sandbox {' '.join(args)} timed out") from exc


def shell_env(instance: int = 1) -> dict[str, str]:
    """The ``export NAME='value'`` lines of ``asterisk-sandbox shell-env``, parsed."""
    out = _run("shell-env", timeout=30, instance=instance).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            name, value = parts[1].split("=", 1)
            env[name] = value
    return env


def is_running(instance: int = 1) -> bool:
    where = ["--instance", str(instance)] if instance != 1 else []
    done = subprocess.run(
        [str(SCRIPT), *where, "status"],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode == 0


def can_run() -> str | None:
    """None when this machine can run the sandbox, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the Asterisk sandbox needs root (chroot, mount)"
    if not SCRIPT.exists():
        return f"{SCRIPT} is missing"
    return None


def ensure_sandbox(instance: int = 1) -> Sandbox:
    """Start the sandbox if needed (idempotent, fast when running) and describe it.

    ``instance`` 2, 3 ...: another Asterisk on other loopback ports (several PBXs).
    """
    _run("start", timeout=900, instance=instance)
    return describe(instance)


def describe(instance: int = 1) -> Sandbox:
    """The sandbox's addresses and paths, whether it runs or not."""
    env = shell_env(instance)
    return Sandbox(
        ami_host=env["DIALER_SANDBOX_AMI_HOST"],
        ami_port=int(env["DIALER_SANDBOX_AMI_PORT"]),
        ami_user=env["DIALER_SANDBOX_AMI_USER"],
        ami_secret_file=Path(env["DIALER_SANDBOX_AMI_SECRET_FILE"]),
        state_dir=Path(env["DIALER_SANDBOX_STATE"]),
        sounds_dir=Path(env["DIALER_SANDBOX_SOUNDS_DIR"]),
        rootfs=Path(env["DIALER_SANDBOX_ROOTFS"]),
        repo=Path(env["DIALER_SANDBOX_REPO"]),
        instance=int(env["DIALER_SANDBOX_INSTANCE"]),
        sip_port=int(env["DIALER_SANDBOX_SIP_PORT"]),
        pid_file=Path(env["DIALER_SANDBOX_PID_FILE"]),
        ami_tls_port=int(env.get("DIALER_SANDBOX_AMI_TLS_PORT", "0")),
        ami_tls_ca=(
            Path(env["DIALER_SANDBOX_AMI_TLS_CA"]) if "DIALER_SANDBOX_AMI_TLS_CA" in env else None
        ),
    )


def stop_sandbox(instance: int = 1) -> None:
    _run("stop", timeout=120, instance=instance)
