"""What every command shares: settings, the store, output, and error handling.

A command body is an ``async`` function; ``run_async`` runs it and turns any
``DialerError`` into one clear line on stderr and the error's exit code, so no
traceback ever reaches district staff (and no number: messages are masked).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dialer.errors import DialerError, InputError
from dialer.log import configure_logging
from dialer.masking import mask_text
from dialer.settings import Settings, config_path, load_settings
from dialer.store.store import Store

T = TypeVar("T")

# markup off: a label, file or campaign name holding "[/]" or "[red]" is data,
# printed as written, never interpreted (issue 8 item 3); styles are applied
# with rich Text objects where the dialer wants them
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


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
    sys.stderr.write(f"error: {_visible(mask_text(message))}\n")
    raise typer.Exit(code)


def _visible(text: str) -> str:
    """Control characters (a file name typed as '\x1e', say) shown escaped: raw, they
    would break the one-line message or drive the terminal (the fuzz test found one)."""
    return "".join(
        c if c in "\n\t" or c.isprintable() else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def write_private(path: Path, text: str) -> None:
    """Write an export readable by its owner only (C18: 0600 whatever the umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            fd = -1
            f.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        if fd >= 0:
            os.close(fd)


def open_private(path: Path) -> TextIO:
    """A file for an export, readable by its owner only (C18: 0600 whatever the
    umask), to write as the data is read (streamed reports, issue 11)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def masked(data: Any, keep: Collection[str] = ()) -> Any:
    """``data`` with every phone-number-like run in its text masked (C18).

    Keys named in ``keep`` are left as they are: the organisation's own numbers
    (caller IDs), which are not personal data and which staff must read in full.
    """
    if isinstance(data, str):
        return mask_text(data)
    if isinstance(data, dict):
        return {k: v if k in keep else masked(v, keep) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [masked(v, keep) for v in data]
    return data


def print_json(data: Any, *, keep: Collection[str] = ()) -> None:
    """JSON for scripts, masked exactly like the tables people see (C18)."""
    text = json.dumps(masked(json.loads(json.dumps(data, default=str)), keep), indent=2)
    sys.stdout.write(text + "\n")


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keep: Collection[str] = (),
) -> None:
    """A table; every cell is plain text (never rich markup) and masked (C18)."""
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(Text(column))
    for row in rows:
        table.add_row(
            *(
                Text("" if v is None else str(v) if c in keep else mask_text(str(v)))
                for c, v in zip(columns, row, strict=True)
            )
        )
    console.print(table)


def emit_rows(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    json_out: bool,
    *,
    keep: Collection[str] = (),
) -> None:
    """A listing: a table for people, a list of objects keyed by column for scripts."""
    if json_out:
        print_json([dict(zip(columns, row, strict=True)) for row in rows], keep=keep)
    else:
        print_table(title, columns, rows, keep=keep)
