"""A dialer installation in a temporary folder, wired to the sandbox Asterisk.

``Workspace`` writes a dialer.toml (sounds under the sandbox's shared folder,
so Asterisk can play them; a free FastAGI port per test), runs ``dialer init``
and lets tests drive the real CLI (typer's CliRunner, same code path as the
console script) and open the real store.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from support.sample import write_consents, write_contacts
from support.sandbox import Sandbox
from support.webapp import PASSWORD

if TYPE_CHECKING:
    from support.fake_asterisk import FakeAsterisk
from typer.testing import CliRunner

from dialer.cli import app
from dialer.settings import Settings, load_settings
from dialer.store.store import Store

RUNNER = CliRunner()
CALLER_ID = "+12125550100"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    exit_code: int
    output: str  # stdout and stderr, interleaved
    stdout: str


@dataclass
class Workspace:
    root: Path
    config: Path

    def dialer(self, *args: str) -> Result:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args])
        return Result(result.exit_code, result.output, result.stdout)

    def ok(self, *args: str) -> str:
        result = self.dialer(*args)
        assert result.exit_code == 0, f"dialer {' '.join(args)} failed:\n{result.output}"
        return result.stdout

    def school_campaign(
        self,
        contacts: dict[str, str],
        *,
        consented: list[str] | None = None,
        campaign: str = "c",
        create: tuple[str, ...] = (),
    ) -> None:
        """Consents, a contact list ``l`` (id → number), recording ``m``, the office
        caller ID and a school campaign over them: the setup most tests share.

        ``consented``: the numbers with consent (default: every contact's).
        ``create``: extra ``campaign create`` options.
        """
        root = self.root
        numbers = list(contacts.values()) if consented is None else consented
        if numbers:
            self.ok("consent", "import", str(write_consents(root / "consent.csv", numbers)))
        rows = [{"id": key, "phone": number} for key, number in contacts.items()]
        self.ok("contacts", "import", str(write_contacts(root / "c.csv", rows)), "--list", "l")
        self.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "m")
        self.ok("callerid", "add", CALLER_ID, "--label", "office")
        self.create_campaign(campaign, *create)

    def create_campaign(self, name: str, *options: str) -> None:
        """A school campaign over list ``l`` playing recording ``m`` from the office ID."""
        self.ok(
            "campaign",
            "create",
            name,
            "--purpose",
            "school",
            "--list",
            "l",
            "--message",
            "m",
            "--caller-id",
            CALLER_ID,
            *options,
        )

    def user(self, name: str, role: str) -> str:
        """Add a console account (password ``support.webapp.PASSWORD``); returns an
        API token for it (``dialer users token``)."""
        secret = self.root / f".pw-{name}"
        secret.write_text(PASSWORD)
        secret.chmod(0o600)
        self.ok("users", "add", name, "--role", role, "--password-file", str(secret))
        return self.ok("users", "token", name).strip().splitlines()[-1]

    def settings(self) -> Settings:
        return load_settings(self.config)

    def store(self) -> Store:
        cfg = self.settings()
        return asyncio.run(Store.open(cfg.store.path, cfg.store.key_file))


def make_workspace(
    root: Path,
    sandbox: Sandbox | FakeAsterisk,
    *,
    ring_timeout: int = 6,
    max_concurrent: int = 20,
    calls_per_second: float = 50,
    answering_machine_detection: bool = False,
    extra: str = "",
    org: str = "Springfield Public Schools",
    approval: str = "none",
    dial_via_dialplan: bool = False,
) -> Workspace:
    """``approval``: ``[campaigns] approval``; "none" so that tests about calls need
    no second operator (tests of approval itself pass the product default)."""
    sounds = sandbox.sounds_dir / f"test-{uuid.uuid4().hex[:8]}"
    config = root / "dialer.toml"
    config.write_text(
        f"""
[organisation]
name = "{org}"
callback_number = "+12125550111"
hotline_number = "+12125550199"

[asterisk]
ami_port = {getattr(sandbox, "ami_port", 5038)}
ami_secret_file = "{sandbox.ami_secret_file}"
dial_string = "{sandbox.dial_string}"
ring_timeout = {ring_timeout}
dial_via_dialplan = {"true" if dial_via_dialplan else "false"}

[agi]
port = {free_port()}

[engine]
calls_per_second = {calls_per_second}
max_concurrent = {max_concurrent}
answering_machine_detection = {"true" if answering_machine_detection else "false"}

[campaigns]
approval = "{approval}"

[audio]
sounds_dir = "{sounds}"
{extra}
""",
        encoding="utf-8",
    )
    workspace = Workspace(root, config)
    workspace.ok("init")
    return workspace
