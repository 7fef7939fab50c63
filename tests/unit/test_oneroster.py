"""OneRoster bundles, the nightly sync's diff and --dry-run (issue 12 items 3-5).

The shipped samples (samples/oneroster-1.1/ and -1.2/, zipped by
samples/make-bundles.py) have three siblings sharing their mother, one of
them also linked to the father (the link written on his row only), and a
family of one. Malformed bundles are built from them by editing one file.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
from support.store import open_store

from dialer.errors import CsvError
from dialer.settings import Settings
from dialer.usecases.contacts import import_contacts

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SETTINGS = Settings()

EXPECTED = [
    ("S-1001", "par-1", "home", 1, "+12125550122"),
    ("S-1001", "par-1", "mobile", 2, "+12125550132"),
    ("S-1001", "par-2", "work", 1, "+12125550142"),
    ("S-1002", "par-1", "home", 1, "+12125550122"),
    ("S-1002", "par-1", "mobile", 2, "+12125550132"),
    ("S-1003", "par-1", "home", 1, "+12125550122"),
    ("S-1003", "par-1", "mobile", 2, "+12125550132"),
    ("S-1004", "par-3", "mobile", 1, "+12125550152"),
]


def _bundle(tmp_path: Path, version: str, **changes: str | None) -> Path:
    """The sample bundle, with files replaced (text) or left out (None)."""
    folder = SAMPLES / f"oneroster-{version}"
    target = tmp_path / f"bundle-{version}.zip"
    with zipfile.ZipFile(target, "w") as bundle:
        for member in sorted(folder.glob("*.csv")):
            text = changes.get(member.name, member.read_text(encoding="utf-8"))
            if text is not None:
                bundle.writestr(member.name, text)
    return target


def _edit(version: str, name: str, old: str, new: str) -> str:
    text = (SAMPLES / f"oneroster-{version}" / name).read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


async def _rows(tmp_path: Path, bundle: Path) -> list[tuple[str, str, str, int, str]]:
    store = await open_store(tmp_path)
    try:
        await import_contacts(SETTINGS, store, bundle, "families", "staff")
        version = await store.contacts.published("families")
        contacts = await store.contacts.version_contacts(version.id)
        names = {c.fields.get("student_name") for c in contacts}
        assert names == {"Ana Lopez", "Ben Lopez", "Cy Lopez", "Dana Kim"}
    finally:
        await store.close()
    return [(c.external_id, c.guardian_id, c.phone_kind, c.phone_rank, c.number) for c in contacts]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_a_bundle_gives_each_students_guardians_phones(tmp_path: Path, version: str) -> None:
    rows = await _rows(tmp_path, SAMPLES / f"oneroster-{version}.zip")
    if version == "1.1":
        # 1.1 carries no phone label: the phone is the home number, sms the mobile
        expected = [r if r[1] != "par-2" else (*r[:2], "home", *r[3:]) for r in EXPECTED]
    else:
        # 1.2's metadata.phoneType labels the father's phone as his work number
        expected = EXPECTED
    assert rows == expected


async def test_the_shipped_zips_match_their_folders(tmp_path: Path) -> None:
    for version in ("1.1", "1.2"):
        with zipfile.ZipFile(SAMPLES / f"oneroster-{version}.zip") as shipped:
            for member in (SAMPLES / f"oneroster-{version}").glob("*.csv"):
                assert shipped.read(member.name) == member.read_bytes(), member


@pytest.mark.parametrize(
    ("version", "changes", "message"),
    [
        ("1.1", {"manifest.csv": None}, "no manifest.csv; this is not a OneRoster bundle"),
        (
            "1.1",
            {"users.csv": _edit("1.1", "users.csv", "metadata.language", "shoe_size")},
            r"users.csv row 1: unknown column\(s\) shoe_size",
        ),
        (
            "1.1",
            {"users.csv": _edit("1.1", "users.csv", "par-1,05", "par-9,05")},
            r"users.csv row 3: 'stu-2' is linked to 'par-9', which is not in users.csv",
        ),
        (
            "1.2",
            {"roles.csv": _edit("1.2", "roles.csv", "r-7,,,par-3", "r-7,,,par-4")},
            r"roles.csv row 8: user 'par-4' is not in users.csv",
        ),
        (
            "1.2",
            {"manifest.csv": _edit("1.2", "manifest.csv", "oneroster.version,1.2", "x,y")},
            r"oneroster.version is 'missing'",
        ),
    ],
)
async def test_a_malformed_bundle_is_refused_naming_file_and_row(
    tmp_path: Path, version: str, changes: dict[str, str | None], message: str
) -> None:
    bundle = _bundle(tmp_path, version, **changes)
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match=message):
            await import_contacts(SETTINGS, store, bundle, "families", "staff")
        assert await store.contacts.lists() == []
    finally:
        await store.close()
    with closing(sqlite3.connect(tmp_path / "dialer.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 0


async def test_c12_the_nightly_sync_says_what_changed_and_dry_run_writes_nothing(
    tmp_path: Path,
) -> None:
    store = await open_store(tmp_path)
    try:
        await import_contacts(SETTINGS, store, SAMPLES / "oneroster-1.1.zip", "fam", "staff")
        tonight = _bundle(
            tmp_path,
            "1.1",
            **{
                "users.csv": _edit(
                    "1.1", "users.csv", "(212) 555-0152,,stu-4", "(212) 555-0153,,stu-4"
                )
                .replace(
                    "stu-2,,,true,sch-1,student,ben.lopez,,Ben,Lopez,,S-1002,,,,par-1,05,,es\n", ""
                )
                .replace('"stu-1,stu-2,stu-3"', '"stu-1,stu-3"')
            },
        )
        before = _counts(tmp_path)
        preview = await import_contacts(SETTINGS, store, tonight, "fam", "staff", dry_run=True)
        assert preview.dry_run and preview.diff is not None
        assert (preview.diff.added, preview.diff.changed, preview.diff.removed) == (0, 1, 2)
        assert [c.student for c in preview.diff.examples["removed"]] == ["S-1002", "S-1002"]
        assert preview.diff.examples["changed"][0].where == "users.csv row 7"  # one row less
        assert _counts(tmp_path) == before  # nothing written
        done = await import_contacts(SETTINGS, store, tonight, "fam", "staff", replace=True)
        assert done.diff is not None and done.diff.changed == 1
        version = await store.contacts.published("fam")
        numbers = {
            (c.external_id, c.number) for c in await store.contacts.version_contacts(version.id)
        }
        assert ("S-1004", "+12125550153") in numbers
        assert not any(student == "S-1002" for student, _ in numbers)
    finally:
        await store.close()


def _counts(root: Path) -> tuple[int, int, int]:
    with closing(sqlite3.connect(root / "dialer.db")) as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("contacts", "list_versions", "audit")
        )


def test_bundles_read_windows_1252_members(tmp_path: Path) -> None:
    text = (SAMPLES / "oneroster-1.1" / "users.csv").read_text(encoding="utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.csv", (SAMPLES / "oneroster-1.1" / "manifest.csv").read_bytes())
        zf.writestr("users.csv", text.replace("Ana,Lopez", "Ana,López").encode("cp1252"))
    (tmp_path / "cp.zip").write_bytes(out.getvalue())
    from dialer.imports.oneroster import Roster, open_bundle

    archive, info = open_bundle(tmp_path / "cp.zip", "cp.zip")
    roster = Roster(archive, info, "cp.zip")
    try:
        roster.load()
        names = {p.student_name for p in roster.phones()}
    finally:
        roster.close()
    assert "Ana López" in names


async def test_a_delta_bundle_changes_one_phone_and_removes_a_departed_student(
    tmp_path: Path,
) -> None:
    header = (SAMPLES / "oneroster-1.1" / "users.csv").read_text(encoding="utf-8").splitlines()[0]
    manifest = _edit("1.1", "manifest.csv", "file.users,bulk", "file.users,delta")
    delta = tmp_path / "delta.zip"
    with zipfile.ZipFile(delta, "w") as bundle:
        bundle.writestr("manifest.csv", manifest)
        bundle.writestr(
            "users.csv",
            "\n".join(
                [
                    header,
                    # Sun Kim's new mobile (a changed number: a new number for the gate)
                    "par-3,active,2026-09-02T01:00:00Z,true,sch-1,guardian,sun.kim,,Sun,Kim,,,,"
                    "(212) 555-0154,,stu-4,,,en",
                    "stu-2,tobedeleted,2026-09-02T01:00:00Z,true,sch-1,student,ben.lopez,,Ben,"
                    "Lopez,,S-1002,,,,,05,,es",
                ]
            )
            + "\n",
        )
    store = await open_store(tmp_path)
    try:
        with pytest.raises(CsvError, match="load the bulk bundle into 'fam' first"):
            await import_contacts(SETTINGS, store, delta, "fam", "staff")
        await import_contacts(SETTINGS, store, SAMPLES / "oneroster-1.1.zip", "fam", "staff")
        result = await import_contacts(SETTINGS, store, delta, "fam", "staff")
        assert result.diff is not None
        assert (result.diff.added, result.diff.changed, result.diff.removed) == (0, 1, 2)
        version = await store.contacts.published("fam")
        rows = [
            (c.external_id, c.guardian_id, c.phone_kind, c.number)
            for c in await store.contacts.version_contacts(version.id)
        ]
    finally:
        await store.close()
    assert rows == [
        ("S-1001", "par-1", "home", "+12125550122"),
        ("S-1001", "par-1", "mobile", "+12125550132"),
        ("S-1001", "par-2", "home", "+12125550142"),
        ("S-1003", "par-1", "home", "+12125550122"),
        ("S-1003", "par-1", "mobile", "+12125550132"),
        ("S-1004", "par-3", "mobile", "+12125550154"),
    ]
