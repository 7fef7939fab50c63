"""The ``dialer`` command: a thin layer over the library (see DESIGN.md for the shape).

Each command parses its options, builds settings, calls the library, and turns
a ``DialerError`` into one clear message and the error's exit code.

Whatever goes wrong, the user sees ONE line on stderr, ``error: ...``, and an
exit code (issue 8 item 4): click's usage errors (an unknown option, a bad
choice) exit 2, a DialerError exits with its code (2 bad input, 3 settings ...),
and a bug exits 1 with its type named, never a traceback (set DIALER_DEBUG=1
to see one).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from dialer import __version__
from dialer.commands import (
    audit,
    campaign,
    campaign_control,
    consent,
    contacts,
    key,
    recordings,
    safety,
    serve,
    sms,
    staff,
    system,
    users,
)
from dialer.commands.common import GLOBALS
from dialer.errors import DialerError
from dialer.masking import mask_text

DEBUG_ENV = "DIALER_DEBUG"


def _one_line(message: str, code: int) -> NoReturn:
    text = " ".join(mask_text(message).split())
    sys.stderr.write(f"error: {text}\n")
    sys.exit(code)


def _click_failure(exc: Exception) -> None:
    """One line for click's own errors (typer vendors click, so they are matched by
    shape, as typer's rich_utils does): usage errors exit 2, as click's do."""
    name = type(exc).__name__
    if name == "NoArgsIsHelpError":  # no sub-command: the help was printed
        show, message = getattr(exc, "show", None), getattr(exc, "format_message", None)
        if callable(show) and callable(message) and str(message()).strip():
            show()
        sys.exit(2)
    if name == "Abort":
        _one_line("aborted", 1)
    code = getattr(exc, "exit_code", None)
    format_message = getattr(exc, "format_message", None)
    if isinstance(code, int) and callable(format_message):
        ctx = getattr(exc, "ctx", None)
        path = getattr(ctx, "command_path", "")
        hint = f" (see '{path} --help')" if path and code == 2 else ""
        _one_line(str(format_message()) + hint, code)


class DialerGroup(TyperGroup):
    """The top-level command group: every failure becomes one line and an exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except DialerError as exc:  # raised outside a command body (settings, a number)
            if not standalone_mode:
                raise
            _one_line(str(exc), exc.exit_code)
        except Exception as exc:
            if not standalone_mode:
                raise
            _click_failure(exc)
            # a bug: still one line; the traceback only on request
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            _one_line(
                f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug, "
                f"please report it (set {DEBUG_ENV}=1 for details)",
                1,
            )
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result


app = typer.Typer(
    cls=DialerGroup,
    help="Compliance-first auto dialer for Asterisk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(system.init)
app.command()(system.doctor)
app.command()(serve.serve)
app.add_typer(consent.app, name="consent")
app.add_typer(consent.dnc_app, name="dnc")
app.add_typer(consent.callerid_app, name="callerid")
app.add_typer(contacts.app, name="contacts")
recordings.app.command("record")(staff.record)
app.add_typer(recordings.app, name="recordings")
for command in (
    campaign_control.start,
    campaign_control.pause,
    campaign_control.resume,
    campaign_control.cancel,
    campaign_control.status,
):
    campaign.app.command()(command)
campaign.app.command()(safety.preflight)
campaign.app.command()(safety.approve)
campaign.app.command("test-call")(safety.test_call)
app.add_typer(campaign.app, name="campaign")
app.add_typer(audit.app, name="audit")
app.add_typer(key.app, name="key")
app.add_typer(sms.app, name="sms")
users.app.command("phone-pin")(staff.phone_pin)
app.add_typer(users.app, name="users")
app.add_typer(staff.phone_app, name="staff-phone")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dialer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: str = typer.Option(
        None, "--config", envvar="DIALER_CONFIG", help="Settings file (default ./dialer.toml)"
    ),
    log_json: bool = typer.Option(False, "--log-json", help="Log as JSON lines"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """Compliance-first auto dialer for Asterisk."""
    GLOBALS.config = config
    GLOBALS.log_json = log_json


def main() -> None:
    app()
