"""The ``dialer`` command: a thin layer over the library (see DESIGN.md for the shape).

Each command parses its options, builds settings, calls the library, and turns
a ``DialerError`` into one clear message and the error's exit code.
"""

from __future__ import annotations

import typer

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
    system,
    users,
)
from dialer.commands.common import GLOBALS

app = typer.Typer(
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
app.add_typer(campaign.app, name="campaign")
app.add_typer(audit.app, name="audit")
app.add_typer(key.app, name="key")
app.add_typer(sms.app, name="sms")
app.add_typer(users.app, name="users")


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
