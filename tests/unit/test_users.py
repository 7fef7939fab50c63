"""Web console accounts: ``dialer users add|list|disable`` through the real CLI, the
login decision (argon2, rate limits per account and per address, audit C19) and
the role matrix, on a real SQLite store made by ``dialer init``."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import closing
from pathlib import Path

import pytest
from support.store import audit_kinds, raw
from typer.testing import CliRunner

from dialer.accounts.passwords import hash_password, verify_password
from dialer.accounts.roles import MATRIX, Permission, Role, allows, parse_role
from dialer.accounts.users import LoginLimits, LoginRefused, authenticate
from dialer.cli import app
from dialer.errors import InputError
from dialer.ratelimit import Limiter
from dialer.settings import load_settings
from dialer.store.store import Store

RUNNER = CliRunner()
PASSWORD = "correct horse battery"


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "dialer.toml"

    def __call__(self, *args: str, code: int = 0, input: str | None = None) -> str:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args], input=input)
        assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
        return result.output

    def password_file(self, text: str = PASSWORD, mode: int = 0o600) -> Path:
        path = self.root / f"pw-{mode:o}"
        path.write_text(text + "\n")
        os.chmod(path, mode)
        return path

    async def store(self) -> Store:
        cfg = load_settings(self.config)
        return await Store.open(cfg.store.path, cfg.store.key_file)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path)
    runner("init", "--org", "Springfield Public Schools")
    return runner


def test_users_add_from_a_0600_file_stores_only_an_argon2_hash(cli: Cli) -> None:
    out = cli(
        "users", "add", "ruiz", "--role", "admin", "--password-file", str(cli.password_file())
    )
    assert "user 'ruiz' added (admin" in out
    with closing(raw(cli.root / "dialer.db")) as conn:
        stored = conn.execute("SELECT role, password_hash FROM users WHERE name='ruiz'").fetchone()
        dump = b"".join(line.encode() for line in conn.iterdump())
    assert stored[0] == "admin"
    assert stored[1].startswith("$argon2id$")
    assert verify_password(stored[1], PASSWORD)
    assert PASSWORD.encode() not in dump
    assert PASSWORD.encode() not in (cli.root / "dialer.db").read_bytes()
    assert audit_kinds(cli.root / "dialer.db").get("user-added") == 1


def test_users_add_refuses_a_password_file_others_can_read(cli: Cli) -> None:
    out = cli(
        "users", "add", "ruiz", "--role", "admin",
        "--password-file", str(cli.password_file(mode=0o644)), code=3,
    )  # fmt: skip
    assert "must have 0600 permissions" in out
    with closing(raw(cli.root / "dialer.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0


def test_users_add_reads_the_password_from_a_prompt_twice(cli: Cli) -> None:
    cli("users", "add", "lee", "--role", "staff", input=f"{PASSWORD}\n{PASSWORD}\n")
    users = json.loads(cli("users", "list", "--json"))
    assert [(u["name"], u["role"], u["state"]) for u in users] == [("lee", "staff", "active")]


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("users", "add", "x", "--role", "boss"), "Invalid value for '--role'", 2),
        (("users", "add", "bad name!", "--role", "staff"), "user name 'bad name!'", 2),
    ],
)
def test_users_add_bad_input_is_refused_with_one_message(
    cli: Cli, args: tuple[str, ...], message: str, code: int
) -> None:
    out = cli(*args, "--password-file", str(cli.password_file()), code=code)
    assert message in out


def test_users_add_refuses_a_short_password_and_a_duplicate_name(cli: Cli) -> None:
    short = cli.password_file("short")
    assert "at least 12 characters" in cli(
        "users", "add", "ann", "--role", "viewer", "--password-file", str(short), code=2
    )
    good = str(cli.password_file())
    cli("users", "add", "ann", "--role", "viewer", "--password-file", good)
    assert "already exists" in cli(
        "users", "add", "ann", "--role", "staff", "--password-file", good, code=2
    )


def test_users_disable_ends_sessions_and_keeps_the_last_admin(cli: Cli) -> None:
    good = str(cli.password_file())
    cli("users", "add", "ruiz", "--role", "admin", "--password-file", good)
    cli("users", "add", "lee", "--role", "staff", "--password-file", good)
    assert "last active admin" in cli("users", "disable", "ruiz", code=2)

    async def open_session() -> None:
        store = await cli.store()
        try:
            user = await store.users.get("lee")
            await store.users.create_session("t" * 64, user, "csrf")
        finally:
            await store.close()

    asyncio.run(open_session())
    cli("users", "disable", "lee")
    with closing(raw(cli.root / "dialer.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 0
    users = {u["name"]: u["state"] for u in json.loads(cli("users", "list", "--json"))}
    assert users["ruiz"] == "active" and users["lee"].startswith("disabled")
    assert "already disabled" in cli("users", "disable", "lee", code=2)
    assert "no user named 'nobody'" in cli("users", "disable", "nobody", code=4)


class FakeClock:
    """A monotonic clock the test moves (the limiter's only input besides its calls)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_decision_refuses_alike_and_limits_per_account_and_address(cli: Cli) -> None:
    cli("users", "add", "lee", "--role", "staff", "--password-file", str(cli.password_file()))
    clock = FakeClock()
    limits = LoginLimits(Limiter(3, 60, clock=clock), Limiter(6, 60, clock=clock))

    async def scenario() -> None:
        store = await cli.store()
        try:
            user = await authenticate(store, "lee", PASSWORD, "10.0.0.1", limits)
            assert user.name == "lee"
            messages = set()
            for name in ("lee", "nobody"):
                with pytest.raises(LoginRefused) as info:
                    await authenticate(store, name, "wrong password!!", "10.0.0.1", limits)
                messages.add(str(info.value))
            assert messages == {"wrong user name or password"}  # no account enumeration
            for _ in range(2):
                with pytest.raises(LoginRefused):
                    await authenticate(store, "lee", "wrong password!!", "10.0.0.2", limits)
            # the account is locked now: even the right password waits
            with pytest.raises(
                LoginRefused, match="too many login attempts; try again in 1 minute"
            ):
                await authenticate(store, "lee", PASSWORD, "10.0.0.3", limits)
            # the first address made 3 attempts, 3 more reach its limit of 6
            for name in ("a1", "a2", "a3"):
                with pytest.raises(LoginRefused):
                    await authenticate(store, name, "x" * 12, "10.0.0.1", limits)
            with pytest.raises(LoginRefused, match="too many"):
                await authenticate(store, "someone", "x" * 12, "10.0.0.1", limits)
            clock.now += 61
            assert (await authenticate(store, "lee", PASSWORD, "10.0.0.1", limits)).name == "lee"
            await store.users.disable("lee", "test")
            with pytest.raises(LoginRefused, match="wrong user name or password"):
                await authenticate(store, "lee", PASSWORD, "10.0.0.9", limits)
            assert (await store.verify_audit()).entries > 0
        finally:
            await store.close()

    asyncio.run(scenario())
    kinds = audit_kinds(cli.root / "dialer.db")
    assert kinds["web-login"] == 2
    assert kinds["web-login-refused"] == 10
    with closing(raw(cli.root / "dialer.db")) as conn:
        reasons = [
            json.loads(p)["reason"]
            for (p,) in conn.execute("SELECT payload FROM audit WHERE kind='web-login-refused'")
        ]
    assert reasons.count("rate-limited") == 2 and "disabled" in reasons


def test_role_matrix_is_exactly_the_issue_s() -> None:
    staff_only = {Permission.RUN_CAMPAIGNS, Permission.MANAGE_CONTACTS, Permission.MANAGE_CONSENT}
    admin_only = {
        Permission.MANAGE_RECORDINGS,
        Permission.MANAGE_USERS,
        Permission.MANAGE_CALLER_IDS,
        Permission.OVERRIDE,
        Permission.REVEAL_NUMBERS,
    }
    for permission in Permission:
        assert allows(Role.ADMIN, permission)
        assert allows(Role.STAFF, permission) == (permission in staff_only | {Permission.VIEW})
        assert allows(Role.VIEWER, permission) == (permission is Permission.VIEW)
    assert set(Permission) == staff_only | admin_only | {Permission.VIEW}
    assert MATRIX[Role.VIEWER] < MATRIX[Role.STAFF] < MATRIX[Role.ADMIN]
    assert parse_role(" Staff ") is Role.STAFF
    with pytest.raises(InputError, match="not one of: admin, staff, viewer"):
        parse_role("root")


def test_password_hashes_are_salted_and_checked() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not a hash", PASSWORD)
    assert not verify_password(first, "x" * 5000)


def test_limiter_slides_its_window_and_bounds_its_memory() -> None:
    clock = FakeClock()
    limiter = Limiter(2, 10, clock=clock, max_keys=3)
    assert limiter.take("a") and limiter.take("a")
    assert not limiter.take("a")
    assert limiter.retry_after("a") == pytest.approx(10)
    clock.now += 5
    assert limiter.retry_after("a") == pytest.approx(5)
    clock.now += 5
    assert limiter.take("a")  # the first hit left the window
    for key in ("b", "c", "d"):
        limiter.hit(key)
    assert "a" not in limiter._hits and len(limiter._hits) == 3
    limiter.reset("b")
    assert limiter.allowed("b")
    with pytest.raises(ValueError):
        Limiter(0, 10)
