"""Households against the real sandbox Asterisk and SIPp phones (issue 12).

SIPp counts the INVITEs each number received:

* a OneRoster 1.2 bundle where three siblings share their mother's phones:
  one call to her primary phone, none to her second; every other guardian
  once;
* a flat SIS export under ``--phones until-reached``: the guardian's home
  phone is busy (SIPp 486), the mobile answers; the work phone is never
  called, and a restricted link ("No Contact") is never called at all.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number, write_consents
from support.sandbox import Sandbox
from support.workspace import CALLER_ID, Workspace, make_workspace

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _workspace(tmp_path: Path, sandbox: Sandbox, numbers: list[str]) -> Workspace:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=5)
    ws.ok("consent", "import", str(write_consents(tmp_path / "consent.csv", numbers)))
    ws.ok("recordings", "add", "recordings/samples/en/example-body.wav", "--name", "m")
    ws.ok("callerid", "add", CALLER_ID, "--label", "office")
    return ws


def _bundle(tmp_path: Path, numbers: dict[str, str]) -> Path:
    """The shipped 1.2 sample with its fictional numbers replaced by sandbox phones."""
    target = tmp_path / "roster.zip"
    with zipfile.ZipFile(target, "w") as bundle:
        for member in sorted((SAMPLES / "oneroster-1.2").glob("*.csv")):
            text = member.read_text(encoding="utf-8")
            for old, new in numbers.items():
                text = text.replace(old, new)
            bundle.writestr(member.name, text)
    return target


def test_oneroster_siblings_sharing_a_guardian_get_one_call_each_number(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    prefix = daytime_prefix()
    # every number reaches the listening SIPp phone (last digit 2): serials 0-3
    mother_home, mother_mobile, father, kim = (sample_number(prefix, s, 2) for s in range(4))
    bundle = _bundle(
        tmp_path,
        {
            "(212) 555-0122": mother_home,
            "(212) 555-0132": mother_mobile,
            "(212) 555-0142": father,
            "(212) 555-0152": kim,
        },
    )
    ws = _workspace(tmp_path, sandbox, [mother_home, mother_mobile, father, kim])
    loaded = json.loads(ws.ok("contacts", "import", str(bundle), "--list", "l", "--json"))
    assert loaded["imported"] == 8  # Ana, Ben, Cy x 2 of Maria's phones, Jorge, Sun
    ws.ok("campaign", "create", "c", "--purpose", "school", "--list", "l",
          "--message", "m", "--caller-id", CALLER_ID)  # fmt: skip
    before = {n: phones.invites(2, n) for n in (mother_home, mother_mobile, father, kim)}

    report = json.loads(ws.ok("campaign", "run", "c", "--json"))

    got = {n: phones.invites(2, n) - before[n] for n in before}
    assert got == {mother_home: 1, mother_mobile: 0, father: 1, kim: 1}
    assert report["calls_placed"] == 3
    lead = next(r for r in report["per_contact"] if len(r["household"]) == 3)
    assert lead["outcome"] == "completed"
    assert sorted(lead["household"]) == ["S-1001", "S-1002", "S-1003"]
    covered = [r for r in report["per_contact"] if r["covered_by"]]
    assert [r["outcome"] for r in covered] == ["completed", "completed"]
    # a second run calls nobody
    ws.ok("campaign", "run", "c")
    assert {n: phones.invites(2, n) - before[n] for n in before} == got


def test_until_reached_home_busy_mobile_answers_and_restricted_never_called(
    tmp_path: Path, sandbox: Sandbox, phones: Phones
) -> None:
    prefix = daytime_prefix()
    home = sample_number(prefix, 0, 3)  # SIPp 486 Busy Here
    mobile = sample_number(prefix, 1, 2)  # SIPp answers, listens
    work = sample_number(prefix, 2, 2)  # never: the mobile answered
    restricted = sample_number(prefix, 3, 2)  # never: "No Contact"
    export = tmp_path / "sis.csv"
    with export.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["Student Number", "Student Name", "Contact Name", "Relationship", "Home Phone",
             "Cell Phone", "Work Phone", "Language", "No Contact"]
        )  # fmt: skip
        writer.writerow(["S-1", "Ana", "Maria", "Mother", home, mobile, work, "English", ""])
        writer.writerow(["S-2", "Ben", "Maria", "Mother", home, mobile, work, "English", ""])
        writer.writerow(["S-2", "Ben", "Paul", "Father", restricted, "", "", "English", "Yes"])
    ws = _workspace(tmp_path, sandbox, [home, mobile, work, restricted])
    loaded = json.loads(ws.ok("contacts", "import", str(export), "--list", "l", "--json"))
    assert (loaded["imported"], loaded["restricted"]) == (6, 1)
    ws.ok("campaign", "create", "c", "--purpose", "school", "--list", "l", "--message", "m",
          "--caller-id", CALLER_ID, "--phones", "until-reached", "--max-attempts", "2",
          "--retry-delay", "0")  # fmt: skip
    before = {
        home: phones.invites("busy", home),
        mobile: phones.invites("silent", mobile),
        work: phones.invites("silent", work),
        restricted: phones.invites("silent", restricted),
    }

    report = json.loads(ws.ok("campaign", "run", "c", "--json"))

    # busy home, then the mobile answered: the sequence stops there (the home's
    # retry, due at once with --retry-delay 0, and the work phone are not called)
    assert phones.invites("busy", home) - before[home] == 1
    assert phones.invites("silent", mobile) - before[mobile] == 1
    assert phones.invites("silent", work) == before[work]
    assert phones.invites("silent", restricted) == before[restricted]
    outcomes = [(r["contact"], r["outcome"]) for r in report["per_contact"]]
    assert outcomes == [
        ("S-1", "busy"),
        ("S-1", "completed"),
        ("S-1", "reached-elsewhere"),
        ("S-2", "busy"),
        ("S-2", "completed"),
        ("S-2", "reached-elsewhere"),
    ]
