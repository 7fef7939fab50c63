"""The layers of DESIGN.md hold: imports go one way, and only the store runs SQL.

Read from the source with ``ast`` (function-level imports count too), so a
new module that breaks the direction fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dialer"

#: what each lower layer must never import (it would import a layer above it)
FORBIDDEN = {
    "store": (
        "dialer.campaign",
        "dialer.commands",
        "dialer.compliance_report",
        "dialer.cli",
        "dialer.web",
        "dialer.service",
        "dialer.sms",
        "dialer.hotline",
        "dialer.telephony",
        "dialer.audio",
    ),
    "model": (
        "dialer.store",
        "dialer.campaign",
        "dialer.commands",
        "dialer.compliance_report",
        "dialer.telephony",
        "dialer.audio",
        "dialer.settings",
    ),
    "consent": ("dialer.store", "dialer.campaign", "dialer.model", "dialer.commands"),
}

#: SQL in a string literal, or a call that runs it
_SQL_TEXT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b",
    re.IGNORECASE | re.DOTALL,
)
_SQL_CALLS = {"execute", "executemany", "executescript", "fetchall", "fetchone", "quick_read"}


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_the_layers_above(layer: str) -> None:
    offending = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in _modules(layer)
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert not offending, offending


def test_store_and_campaign_do_not_import_each_other() -> None:
    store_imports_campaign = any(
        name.startswith("dialer.campaign") for p in _modules("store") for name in _imports(p)
    )
    assert not store_imports_campaign


def _runs_sql(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL_TEXT.search(node.value):
                found.append(f"line {node.lineno}: SQL text {node.value[:40]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _SQL_CALLS | {"transaction"}
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}()")
    return found


def test_only_the_store_runs_sql() -> None:
    """sms, history, the compliance report, commands: all go through store methods."""
    offending = {
        str(path.relative_to(PACKAGE.parent)): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if "store" not in path.relative_to(PACKAGE).parts[:1] and (hits := _runs_sql(path))
    }
    assert not offending, offending
