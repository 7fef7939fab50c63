"""``dialer users``: web console accounts (admin, staff, viewer)."""

from __future__ import annotations

from pathlib import Path

import typer

from dialer.accounts.roles import MATRIX, Role
from dialer.accounts.tokens import create_token, list_tokens, revoke_tokens
from dialer.accounts.users import add_user, disable_user, list_users
from dialer.commands.common import (
    console,
    emit_rows,
    err_console,
    open_store,
    operator,
    run_async,
    settings,
)
from dialer.settings import read_secret_file

app = typer.Typer(help="Web console accounts (admin, staff, viewer).", no_args_is_help=True)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        # a password in a file is a secret like the AMI secret: 0600 or refused (C18)
        return read_secret_file(password_file, "--password-file")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
def add(
    name: str,
    role: Role = typer.Option(..., help="admin, staff or viewer"),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="Read the password from this 0600 file instead of a prompt"
    ),
) -> None:
    """Add a user who can log in to the web console.

    Viewers see; staff also run campaigns and manage contacts and consent;
    admins also manage recordings, users, caller IDs and overrides.
    The password is asked for twice (or read from a 0600 file); at least 12 characters.

    Example: dialer users add ruiz --role admin
    """

    async def body() -> None:
        secret = _password(password_file)
        async with open_store(settings()) as store:
            user = await add_user(store, name, role, secret, by=operator())
        console.print(
            f"user {user.name!r} added ({user.role.value}: "
            f"{', '.join(sorted(p.value for p in MATRIX[user.role]))})"
        )

    run_async(body)


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List users, their role and state. Example: dialer users list"""

    async def body() -> None:
        async with open_store(settings()) as store:
            users = await list_users(store)
        emit_rows(
            "Users",
            ["name", "role", "state", "created_at", "created_by", "last_login_at"],
            [
                (
                    u.name,
                    u.role.value,
                    "active" if u.active else f"disabled {u.disabled_at:%Y-%m-%d %H:%M}",
                    u.created_at,
                    u.created_by,
                    u.last_login_at or "",
                )
                for u in users
            ],
            json_out,
        )

    run_async(body)


@app.command()
def disable(name: str) -> None:
    """Disable a user: they cannot log in and their open sessions end at once.

    Example: dialer users disable jsmith
    """

    async def body() -> None:
        async with open_store(settings()) as store:
            await disable_user(store, name, by=operator())
        console.print(f"user {name!r} disabled; their sessions ended")

    run_async(body)


@app.command()
def token(
    name: str,
    label: str = typer.Option("", help="What the token is for (shown in the audit log)"),
    revoke: bool = typer.Option(False, "--revoke", help="Revoke every token of this user"),
) -> None:
    """Create an API token for the JSON API (/api/...), acting as this user.

    The token is printed once (on stdout, alone) and only its SHA-256 is kept:
    store it like a password. Send it as 'Authorization: Bearer TOKEN'. It has
    the user's role: viewers read, staff also start, pause, resume and cancel
    campaigns; every change is audited with the user's name. Disabling the user
    or --revoke ends it at once; it expires web.api_token_days (365) days after
    its creation. List tokens with 'dialer users tokens'.

    Example: dialer users token scheduler-bot --label "bell system"
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            if revoke:
                count = await revoke_tokens(store, name, by=operator())
                console.print(f"{count} API token(s) of {name!r} revoked")
                return
            secret, record = await create_token(store, name, label=label, by=operator())
        expires = record.expires_at(cfg.web.api_token_days)
        err_console.print(
            f"API token {record.id} for {name!r}, expires {expires:%Y-%m-%d} "
            "(shown once; only its hash is kept):"
        )
        print(secret)

    run_async(body)


@app.command()
def tokens(
    name: str | None = typer.Argument(None, help="Only this user's tokens"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List API tokens: id, user, label, state (active, expired, revoked), expiry and
    last use. The tokens themselves are never shown (only their hash is kept).

    Example: dialer users tokens scheduler-bot
    """

    async def body() -> None:
        cfg = settings()
        days = cfg.web.api_token_days
        async with open_store(cfg) as store:
            found = await list_tokens(store, name)
            now = store.clock()
        emit_rows(
            "API tokens",
            [
                "id",
                "user",
                "label",
                "state",
                "created_at",
                "created_by",
                "expires_at",
                "last_used_at",
                "revoked_at",
            ],
            [
                (
                    t.id,
                    t.user,
                    t.label,
                    t.state(now, days),
                    t.created_at,
                    t.created_by,
                    t.expires_at(days),
                    t.last_used_at or "",
                    t.revoked_at or "",
                )
                for t in found
            ],
            json_out,
        )

    run_async(body)
