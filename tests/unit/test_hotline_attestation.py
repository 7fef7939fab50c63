"""The hotline's trust in caller ID is explicit (issue 8 item 7).

Asterisk's STIR_SHAKEN dialplan function, as res_stir_shaken reports it, is
played by a scripted AGI channel (no trunk here signs calls, so Asterisk
cannot be made to verify one: see tests/integration/test_hotline.py for the
real hotline, whose calls carry no attestation, "none"). The store, the
``dialer contacts review`` command and the C20 report are the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialer.cli import app
from dialer.hotline import (
    HotlineOutcome,
    StoreRevoker,
    caller_attestation,
    is_attested,
    resolve_prompts,
    run_hotline,
)
from dialer.model.consents import ATTESTED
from dialer.settings import load_settings

RUNNER = CliRunner()


def stir(*identities: tuple[str, str]) -> dict[str, str]:
    """What STIR_SHAKEN() returns for these (verify_result, attestation) identities."""
    values = {"STIR_SHAKEN(count)": str(len(identities))}
    for i, (result, level) in enumerate(identities):
        values[f"STIR_SHAKEN({i},verify_result)"] = result
        values[f"STIR_SHAKEN({i},attestation)"] = level
    return values


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "none"),  # res_stir_shaken not loaded: the function reads as empty
        (stir(), "none"),
        (stir(("success", "A")), "A-verified"),
        (stir(("success", "B")), "B-verified"),
        (stir(("success", "C")), "C-verified"),
        (stir(("success", "B"), ("success", "A")), "A-verified"),  # the best one counts
        (stir(("invalid_or_no_attest", "A")), "failed:invalid_or_no_attest"),
        (stir(("invalid_signature", ""), ("success", "C")), "C-verified"),
        (stir(("success", "Z")), "failed:success"),  # not a SHAKEN level
        ({"STIR_SHAKEN(count)": "garbage"}, "none"),
    ],
)
def test_attestation_from_the_stir_shaken_function(
    variables: Mapping[str, str], expected: str
) -> None:
    assert caller_attestation(lambda name: variables.get(name, "")) == expected
    assert is_attested(expected) is (expected == ATTESTED)


@dataclass
class Caller:
    """A hotline caller who presses 1, on a trunk that reports ``variables``."""

    callerid: str
    variables: dict[str, str] = field(default_factory=dict)
    uniqueid: str = "1700000000.7"

    @property
    def env(self) -> Mapping[str, str]:
        return {"agi_callerid": self.callerid, "agi_uniqueid": self.uniqueid}

    def answer(self) -> None:
        pass

    def stream_file(self, stem: str, escape_digits: str = "") -> str:
        return "1" if escape_digits and "welcome" in stem else ""

    def wait_for_digit(self, timeout_ms: int) -> str:
        return ""

    def get_variable(self, name: str) -> str:
        return self.variables.get(name, "")

    def hangup(self) -> None:
        pass


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(app, ["--config", str(config), "init"])
    assert result.exit_code == 0, result.output
    yield config


def test_hotline_revocations_record_the_attestation_and_review_lists_the_unverified(
    install: Path, tmp_path: Path
) -> None:
    contacts = tmp_path / "families.csv"
    contacts.write_text("id,phone\nana,+12125550141\nbo,+12125550142\n", encoding="utf-8")
    out = RUNNER.invoke(
        app, ["--config", str(install), "contacts", "import", str(contacts), "--list", "k1"]
    )
    assert out.exit_code == 0, out.output

    prompts = resolve_prompts("en", sounds_dir=None, default_language="en")
    revoker = StoreRevoker(load_settings(install))
    revoker.open()
    try:
        callers = [
            Caller("+12125550141", stir(("success", "A")), "1700000000.1"),  # attested
            Caller("+12125550142", {}, "1700000000.2"),  # no attestation at all
            Caller("+12125550143", stir(("success", "B")), "1700000000.3"),  # partial
        ]
        for caller in callers:
            result = run_hotline(caller, revoker, prompts, default_region="US")
            assert result.outcome is HotlineOutcome.REVOKED
    finally:
        revoker.close()

    review = RUNNER.invoke(app, ["--config", str(install), "contacts", "review", "--json"])
    assert review.exit_code == 0, review.output
    rows = json.loads(review.stdout)
    listed = {r["call"]: r for r in rows if r["reason"] == "hotline-unattested"}
    assert sorted(listed) == ["1700000000.2", "1700000000.3"]  # never the attested one
    assert listed["1700000000.2"]["attestation"] == "none"
    assert listed["1700000000.2"]["contact"] == "bo"
    assert listed["1700000000.2"]["number"] == "+1******0142"  # C18: masked
    assert listed["1700000000.3"]["attestation"] == "B-verified"
    assert listed["1700000000.3"]["number"] == "(not in a contact list)"
    table = RUNNER.invoke(app, ["--config", str(install), "contacts", "review"])
    assert "Hotline opt-outs without a verified caller ID" in table.stdout
    assert "B-verified" in table.stdout

    # C20: the report counts them
    report = RUNNER.invoke(app, ["--config", str(install), "audit", "report", "--json"])
    assert report.exit_code == 0, report.output
    revocations = json.loads(report.stdout)["revocations"]
    assert revocations["hotline_attestation"] == {"A-verified": 1, "B-verified": 1, "none": 1}
    assert revocations["hotline_unattested"] == 2
    human = RUNNER.invoke(app, ["--config", str(install), "audit", "report"])
    assert "hotline opt-outs without a verified caller ID" in human.stdout.replace("\n", " ")
