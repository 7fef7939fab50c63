"""What every command shares: settings, the store, output, and error handling.

A command body is an ``async`` function; ``run_async`` runs it and turns any
``DialerError`` into one clear line on stderr and the error's exit code, so no
traceback ever reaches district staff (and no number: messages are masked).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from dialer.errors import DialerError
from dialer.log import configure_logging
from dialer.masking import mask_text
from dialer.settings import Settings, config_path, load_settings
from dialer.store.store import Store

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


@dataclass
class Globals:
    config: str | None = None
    log_json: bool = False


GLOBALS = Globals()


def settings(*, json_logs_off_terminal: bool = False) -> Settings:
    """Load the settings and configure logging.

    ``json_logs_off_terminal``: the long-running commands (``serve``, ``campaign
    run``) log JSON lines when stderr is not a terminal (systemd, docker, a pipe).
    """
    loaded = load_settings(config_path(GLOBALS.config))
    as_json = GLOBALS.log_json or loaded.logging.json
    if json_logs_off_terminal and not sys.stderr.isatty():
        as_json = True
    configure_logging(loaded.logging.level, json=as_json)
    return loaded


@asynccontextmanager
async def open_store(
    cfg: Settings, *, write: bool = False, dial: bool = False
) -> AsyncIterator[Store]:
    """The store, its key checked. ``write``: the command changes evidence (consent,
    lists, campaigns); ``dial``: it is about to dial. Either runs the start-up
    integrity check first, so nothing is ever written to, or dialled from, a store
    that was tampered with (C19)."""
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        if write or dial:
            await store.check_integrity(action="dial" if dial else "write")
        yield store
    finally:
        await store.close()


def operator() -> str:
    """Who is at the keyboard: recorded in the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_async(body: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_guard(body))
    except DialerError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)


async def _guard(body: Callable[[], Awaitable[T]]) -> T:
    return await body()


def fail(message: str, code: int = 1) -> NoReturn:
    # plain text, never wrapped: scripts and people grep for the file/row/setting named
    sys.stderr.write(f"error: {mask_text(message)}\n")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def emit_rows(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], json_out: bool
) -> None:
    """A listing: a table for people, a list of objects keyed by column for scripts."""
    if json_out:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
    else:
        print_table(title, columns, rows)
