"""The demo: a school campaign through the sandbox Asterisk to simulated phones.

Run by ``scripts/demo`` (which installs everything and starts Asterisk first).
Every step is a real ``dialer`` command, printed before it runs, so the demo
doubles as a walkthrough of what district staff type.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.phones import Phones  # noqa: E402
from support.sample import (  # noqa: E402
    PHONE_BEHAVIOUR,
    daytime_prefix,
    sample_number,
    write_consents,
)
from support.sandbox import ensure_sandbox  # noqa: E402

WORK = REPO / ".demo"
DIALER = str(REPO / ".venv" / "bin" / "dialer")


def write_bundle(
    target: Path,
    families: list[tuple[str, str, str, int]],
    numbers: dict[str, str],
    sample_numbers: dict[str, str],
) -> Path:
    """The shipped OneRoster 1.2 sample, its numbers replaced, with the demo's families
    (a student and a guardian each) and a guardian whose number is not a number."""
    folder = REPO / "samples" / "oneroster-1.2"
    texts = {m.name: m.read_text(encoding="utf-8") for m in folder.glob("*.csv")}
    for old, new in sample_numbers.items():
        texts["users.csv"] = texts["users.csv"].replace(old, new)
    users_header = texts["users.csv"].splitlines()[0].split(",")
    users, roles = io.StringIO(), io.StringIO()
    user_rows = csv.DictWriter(users, users_header, lineterminator="\n")
    role_rows = csv.writer(roles, lineterminator="\n")
    extra = [(sid, name, lang, numbers[sid]) for sid, name, lang, _phone in families]
    extra.append(("s-108", "Hal Jones", "en", "555-CALL-NOW"))
    for sid, name, lang, number in extra:
        given, family = name.split()
        user_rows.writerow({"sourcedId": f"stu-{sid}", "enabledUser": "true", "givenName": given,
                            "familyName": family, "identifier": sid, "primaryOrg": "sch-1",
                            "metadata.language": lang})  # fmt: skip
        user_rows.writerow({"sourcedId": f"par-{sid}", "enabledUser": "true", "givenName": "Parent",
                            "familyName": family, "phone": number, "agentSourcedIds": f"stu-{sid}",
                            "primaryOrg": "sch-1", "metadata.language": lang,
                            "metadata.phoneType": "mobile"})  # fmt: skip
        for who, role in ((f"stu-{sid}", "student"), (f"par-{sid}", "guardian")):
            role_rows.writerow([f"r-{who}", "", "", who, "primary", role, "", "", "sch-1", ""])
    texts["users.csv"] += users.getvalue()
    texts["roles.csv"] += roles.getvalue()
    with zipfile.ZipFile(target, "w") as bundle:
        for name, text in sorted(texts.items()):
            bundle.writestr(name, text)
    return target


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def dialer(*args: str, check: bool = True) -> None:
    print(f"$ dialer {' '.join(args)}", flush=True)
    env = dict(os.environ, DIALER_CONFIG=str(WORK / "dialer.toml"))
    done = subprocess.run([DIALER, *args], cwd=WORK, env=env, check=False)
    if check and done.returncode != 0:
        sys.exit(f"demo: 'dialer {' '.join(args)}' failed with exit code {done.returncode}")


def main() -> None:
    box = ensure_sandbox()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    sounds = box.sounds_dir / "demo"
    shutil.rmtree(sounds, ignore_errors=True)
    (WORK / "dialer.toml").write_text(
        f"""# Demo settings: the sandbox Asterisk and its simulated phones.
[organisation]
name = "Springfield Public Schools"
timezone = "America/New_York"
callback_number = "+12125550111"
hotline_number = "+12125550199"

[asterisk]
ami_secret_file = "{box.ami_secret_file}"
dial_string = "{box.dial_string}"
ring_timeout = 8

[agi]
port = 4573

[audio]
sounds_dir = "{sounds}"

[logging]
level = "warning"   # the live view and the report tell the story; "info" logs every call
""",
        encoding="utf-8",
    )
    step("1. set up the dialer (settings, 0600 key file, encrypted database)")
    dialer("init")

    prefix = daytime_prefix()
    families = [
        ("s-101", "Ana Reyes", "es", 1),
        ("s-102", "Ben Carter", "en", 2),
        ("s-103", "Chloe Kim", "en", 3),
        ("s-104", "Dev Patel", "en", 4),
        ("s-105", "Eli Brown", "en", 5),
        ("s-106", "Fay Green", "en", 8),
        ("s-107", "Gus White", "en", 6),
    ]
    # the district's SIS export: the shipped OneRoster 1.2 sample (samples/), where
    # Ana, Ben and Cy Lopez share their mother's phones, plus one family per kind of
    # sandbox phone; every number becomes a sandbox number that rings now
    numbers = {
        sid: sample_number(prefix, i, phone) for i, (sid, _n, _l, phone) in enumerate(families)
    }
    lopez = {
        # Maria Lopez, home: one call for Ana, Ben and Cy; she presses 9 (dialplan phone 5)
        "(212) 555-0122": sample_number(prefix, 3, 5),
        "(212) 555-0132": sample_number(prefix, 4, 2),  # her mobile: not her first phone
        "(212) 555-0142": sample_number(prefix, 5, 9),  # Jorge Lopez: busy
        "(212) 555-0152": sample_number(prefix, 2, 6),  # Sun Kim: answers, listens
    }
    contacts = write_bundle(WORK / "sis-roster.zip", families, numbers, lopez)
    # every family consented at enrollment except s-107 (never gave the number for calls)
    consented = [numbers[sid] for sid, *_ in families[:6]] + list(lopez.values())
    consents = write_consents(WORK / "enrollment-consent.csv", consented)
    print("\nsimulated phones (by the number's last digit):")
    for sid, name, _lang, phone in families:
        print(f"  {sid} {name:<11} -> {PHONE_BEHAVIOUR[phone]}")
    print("  S-1001..3 Ana, Ben, Cy Lopez -> ONE call to their mother's home (she presses 9)")

    step("2. load enrollment consents, the caller ID, contacts and a recording")
    dialer("consent", "import", str(consents))
    dialer("callerid", "add", "+12125550100", "--label", "District office")
    dialer("contacts", "import", str(contacts), "--list", "grade5")  # a OneRoster bundle
    dialer(
        "recordings",
        "add",
        str(REPO / "recordings/samples/en/example-body.wav"),
        "--name",
        "conference",
    )
    dialer(
        "recordings",
        "add",
        str(REPO / "recordings/samples/es/example-body.wav"),
        "--name",
        "conference",
        "--language",
        "es",
    )

    step("3. create the campaign (the message is checked for C8-C11 before it exists)")
    dialer(
        "campaign",
        "create",
        "conferences",
        "--purpose",
        "school",
        "--list",
        "grade5",
        "--message",
        "conference",
        "--caller-id",
        "+12125550100",
        "--operator",
        "Ms. Diaz (office)",
    )
    step("4. know before you send: the preflight, then a second operator's approval")
    dialer("campaign", "preflight", "conferences")
    dialer("campaign", "approve", "conferences", "--operator", "Principal Lee")

    with Phones(WORK / "phones") as phones:
        step("5. run it: every call is gated, placed through Asterisk, and answered by a phone")
        dialer("campaign", "run", "conferences")
        invites_before = {d: phones.invites(d) for d in (1, 2, 3, 4, 8)}

        step("6. a second campaign to the same list: who opted out is not called again")
        dialer(
            "campaign",
            "create",
            "book-fair",
            "--purpose",
            "school",
            "--list",
            "grade5",
            "--message",
            "conference",
            "--caller-id",
            "+12125550100",
            "--operator",
            "Ms. Diaz (office)",
        )
        dialer("campaign", "approve", "book-fair", "--operator", "Principal Lee")
        dialer("campaign", "run", "book-fair")
        print(
            f"\nSIPp phone that pressed 9 received {phones.invites(1)} call(s) in total "
            f"({invites_before[1]} after the first campaign)"
        )

    step("7. the record: one parent's history, the audit chain, the compliance report")
    dialer("consent", "show", numbers["s-101"])
    dialer("audit", "verify")
    dialer("audit", "report")
    print(f"\ndemo files: {WORK}")


if __name__ == "__main__":
    main()
