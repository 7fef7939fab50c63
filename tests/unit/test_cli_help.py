"""Every command has help with an example (sqlite-utils' rule)."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from dialer.cli import app

RUNNER = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_has_help_with_an_example() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    commands = _commands(root)
    assert len(commands) >= 25
    for path in commands:
        result = RUNNER.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"dialer {' '.join(path)} --help has no example"


def test_errors_exit_non_zero_with_one_line(tmp_path: object) -> None:
    result = RUNNER.invoke(app, ["--config", "/nonexistent/dialer.toml", "campaign", "list"])
    assert result.exit_code == 3
    assert result.output.strip().startswith("error: settings file /nonexistent/dialer.toml")
    assert "Traceback" not in result.output
