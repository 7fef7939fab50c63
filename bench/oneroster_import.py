"""Import of a district-sized OneRoster bundle (issue 12): streaming, with figures.

    /work/coord/quiet .venv/bin/python bench/oneroster_import.py [students]

``students`` defaults to 100,000 (about 180,000 guardians: families of one to
three children with one to three guardians, as districts have them). Writes a
OneRoster 1.2 bundle (manifest, users, roles; half the links written on the
guardians' side, half on the students'), then times, as their own processes:

- ``contacts import`` of the bundle (bulk): wall time, rows per second, peak
  RSS of the command and of its process tree;
- the same bundle again with ``--dry-run`` (the nightly sync's diff: nothing
  changed, nothing written);
- a delta bundle changing 1,000 guardians' phones, applied for real.

Memory must not grow with the bundle: the figures for 10,000 and 100,000
students compare (run both). Needs no Asterisk. Prints a table.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))  # this checkout's dialer, not the venv's

from contacts_list import FIRST, LAST, phone  # noqa: E402
from contacts_scale import mb, timed  # noqa: E402
from support.sandbox import describe  # noqa: E402
from support.workspace import Workspace, make_workspace  # noqa: E402

from dialer.campaign.households import PhoneChoice, plan_households  # noqa: E402

USERS = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password", "userMasterIdentifier", "resourceSourcedIds",
    "preferredGivenName", "preferredMiddleName", "preferredFamilyName", "primaryOrg",
    "pronouns", "metadata.language", "metadata.phoneType",
]  # fmt: skip
ROLES = [
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
    "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
]  # fmt: skip
LANGUAGES = ("en",) * 6 + ("es",) * 3 + ("vi", "zh", "ar")
GUARDIAN_ROLES = ("parent", "guardian", "relative")


def _manifest(mode: str) -> str:
    lines = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.2"]
    lines += [f"file.{name},absent" for name in ("academicSessions", "classes", "orgs")]
    lines += [f"file.roles,{mode}", f"file.users,{mode}", "source.systemName,bench"]
    return "\n".join(lines) + "\n"


def families(students: int, seed: int = 12) -> Iterator[tuple[list[dict[str, str]], ...]]:
    """(children, guardians) per family, as users.csv rows (without the links)."""
    rng = random.Random(seed)
    made = 0
    family = 0
    while made < students:
        family += 1
        kids = min(rng.choices((1, 2, 3), (90, 8, 2))[0], students - made)
        adults = rng.choices((1, 2, 3), (10, 80, 10))[0]
        last = rng.choice(LAST)
        language = rng.choice(LANGUAGES)
        children = []
        for _ in range(kids):
            made += 1
            children.append(
                {"sourcedId": f"stu-{made}", "givenName": rng.choice(FIRST), "familyName": last,
                 "identifier": f"S{100000 + made}", "metadata.language": language,
                 "grades": f"{rng.randint(0, 12):02d}"}
            )  # fmt: skip
        guardians = []
        for g in range(adults):
            home = phone(rng) if rng.random() < 0.8 else ""
            guardians.append(
                {"sourcedId": f"par-{family}-{g}", "givenName": rng.choice(FIRST),
                 "familyName": last, "phone": home, "sms": phone(rng) if (rng.random() < 0.7
                 or not home) else "", "metadata.language": language,
                 "metadata.phoneType": "home"}
            )  # fmt: skip
        yield children, guardians


def write_bundle(path: Path, students: int) -> tuple[int, int]:
    """The bulk bundle; returns (students, guardians)."""
    guardians_total = 0
    users_path, roles_path = path.with_suffix(".users.csv"), path.with_suffix(".roles.csv")
    with (
        users_path.open("w", encoding="utf-8", newline="") as users,
        roles_path.open("w", encoding="utf-8", newline="") as roles,
    ):
        uw, rw = csv.DictWriter(users, USERS), csv.writer(roles)
        uw.writeheader()
        rw.writerow(ROLES)
        for n, (children, guardians) in enumerate(families(students)):
            kids = ",".join(c["sourcedId"] for c in children)
            adults = ",".join(g["sourcedId"] for g in guardians)
            on_guardians = n % 2 == 0  # either direction, as SIS exports differ
            for c in children:
                uw.writerow({**c, "enabledUser": "true",
                             "agentSourcedIds": "" if on_guardians else adults})  # fmt: skip
                rw.writerow([f"r-{c['sourcedId']}", "", "", c["sourcedId"], "primary",
                             "student", "", "", "sch-1", ""])  # fmt: skip
            for i, g in enumerate(guardians):
                uw.writerow({**g, "enabledUser": "true",
                             "agentSourcedIds": kids if on_guardians else ""})  # fmt: skip
                rw.writerow([f"r-{g['sourcedId']}", "", "", g["sourcedId"], "primary",
                             GUARDIAN_ROLES[i % 3], "", "", "sch-1", ""])  # fmt: skip
            guardians_total += len(guardians)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.csv", _manifest("bulk"))
        bundle.write(users_path, "users.csv")
        bundle.write(roles_path, "roles.csv")
    users_path.unlink()
    roles_path.unlink()
    return students, guardians_total


def write_delta(path: Path, students: int, changed: int = 1000) -> None:
    """A delta bundle: ``changed`` guardians with a new home phone."""
    rng = random.Random(99)
    picked = []
    for n, (_children, guardians) in enumerate(families(students)):
        if n % max(1, students // changed) == 0 and len(picked) < changed:
            picked.append(guardians[0])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.csv", _manifest("delta"))
        users, roles = io.StringIO(), io.StringIO()
        uw, rw = csv.DictWriter(users, USERS), csv.writer(roles)
        uw.writeheader()
        rw.writerow(ROLES)
        for g in picked:
            uw.writerow({**g, "status": "active", "phone": phone(rng)})
            rw.writerow([f"r-{g['sourcedId']}", "active", "", g["sourcedId"], "primary",
                         "parent", "", "", "sch-1", ""])  # fmt: skip
        bundle.writestr("users.csv", users.getvalue())
        bundle.writestr("roles.csv", roles.getvalue())


def _plan_figure(ws: Workspace) -> str:
    """What a campaign's start costs: read the list, plan one call per number."""
    store = ws.store()

    async def measure() -> str:
        try:
            version = await store.contacts.published("big")
            started = time.perf_counter()
            contacts = await store.contacts.version_contacts(version.id)
            read = time.perf_counter() - started
            started = time.perf_counter()
            plan = plan_households(contacts, PhoneChoice.PRIMARY, "school")
            planned = time.perf_counter() - started
            every = plan_households(contacts, PhoneChoice.UNTIL_REACHED, "school")
            return (
                f"{len(contacts):,} contacts read in {read:.1f} s; primary: "
                f"{len(plan.households):,} calls planned in {planned:.2f} s; "
                f"until-reached: {len(every.households):,} numbers, "
                f"{len(every.chains):,} guardians' sequences"
            )
        finally:
            await store.close()

    return asyncio.run(measure())


def main() -> None:
    students = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    root = Path(tempfile.mkdtemp(prefix="dialer-oneroster-"))
    bundle = root / "roster.zip"
    _, guardians = write_bundle(bundle, students)
    delta = root / "delta.zip"
    write_delta(delta, students)
    ws = make_workspace(root, describe())
    table: list[tuple[str, str]] = [
        ("bundle", f"{students:,} students, {guardians:,} guardians, "
                   f"{bundle.stat().st_size / 2**20:.1f} MiB zipped"),
    ]  # fmt: skip
    elapsed, sampler, out = timed(ws, "contacts", "import", str(bundle), "--list", "big", "--json")
    loaded = int(out[out.index('"imported": ') :].split()[1].rstrip(","))
    table.append(
        ("import (bulk)", f"{elapsed:.1f} s, {loaded:,} contacts ({loaded / elapsed:,.0f}/s); "
                          f"peak RSS {mb(sampler.main_kb)} (command), "
                          f"{mb(sampler.tree_kb)} (with workers)")
    )  # fmt: skip
    print(table[-1][1], flush=True)
    elapsed, sampler, _ = timed(
        ws, "contacts", "import", str(bundle), "--list", "big", "--replace", "--dry-run"
    )
    table.append(
        ("same bundle, --dry-run", f"{elapsed:.1f} s; peak RSS {mb(sampler.main_kb)} "
                                   f"(command), {mb(sampler.tree_kb)} (with workers)")
    )  # fmt: skip
    print(table[-1][1], flush=True)
    elapsed, sampler, out = timed(ws, "contacts", "import", str(delta), "--list", "big")
    changed = next((ln for ln in out.splitlines() if ln.startswith("added")), "?")
    table.append(
        ("delta, 1,000 phones", f"{elapsed:.1f} s ({changed}); peak RSS "
                                f"{mb(sampler.main_kb)} (command), {mb(sampler.tree_kb)} "
                                "(with workers)")
    )  # fmt: skip
    table.append(("households (the runner's plan)", _plan_figure(ws)))
    print(table[-1][1], flush=True)
    width = max(len(k) for k, _ in table)
    print(f"\n{'what'.ljust(width)}  figure\n{'-' * width}  {'-' * 60}")
    for what, figure in table:
        print(f"{what.ljust(width)}  {figure}")
    print(f"\n(workspace kept in {root})")


if __name__ == "__main__":
    main()
