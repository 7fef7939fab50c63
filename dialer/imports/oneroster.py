"""OneRoster 1.1 and 1.2 CSV bundles: guardians' phones per student (issue 12).

A bundle is a zip with ``manifest.csv`` and ``users.csv`` (1.2 moves each
user's role to ``roles.csv``). Students are linked to their guardians,
parents and relatives through ``agentSourcedIds``, written on either side
(or both); a guardian's ``phone`` and ``sms`` are the numbers to call, with
``metadata.*`` extension columns for the language or the phone's label where
the SIS exports them. ``file.users`` in the manifest says whether the bundle
is the whole roster (``bulk``) or only what changed since the last one
(``delta``: rows carry ``status`` ``active`` or ``tobedeleted``).

Streaming: users are read row by row into a scratch database
(``dialer.store.scratch``: private, deleted when closed), then students and their
guardians' phones come out of one join in the order of ``users.csv``. A
malformed bundle -- no manifest, an unknown column, a student linked to a
user the bundle does not have -- is refused with the file and the row, and
nothing is imported.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dialer.errors import CsvError
from dialer.model.contact import header_name
from dialer.store.scratch import DuplicateUser, RosterDb

#: columns OneRoster 1.1 and 1.2 define for users.csv (names as the readers
#: compare them); anything else must be a ``metadata.*`` extension
USER_COLUMNS = frozenset(
    header_name(c)
    for c in [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
        "userMasterIdentifier",
        "resourceSourcedIds",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrg",
        "pronouns",
    ]
)
ROLE_COLUMNS = frozenset(
    header_name(c)
    for c in [
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ]
)
#: the roles whose phones are called about a student
AGENT_ROLES = frozenset({"guardian", "parent", "relative"})
#: ``metadata.*`` columns read where a SIS exports them
LANGUAGE_METADATA = ("metadata.language", "metadata.homelanguage", "metadata.preferredlanguage")
PHONE_KIND_METADATA = ("metadata.phonetype", "metadata.phone_type")
SMS_KIND = "mobile"


@dataclass(frozen=True)
class RosterPhone:
    """One number to call about one student (raw: normalised by the import)."""

    student: str  # the student's identifier (student number), else its sourcedId
    student_ref: str  # the student's sourcedId (what agentSourcedIds name)
    student_name: str
    guardian: str  # the guardian's sourcedId
    guardian_name: str
    relationship: str  # guardian, parent, relative
    language: str
    raw_number: str
    kind: str  # home, mobile, work... (metadata) or '' for the generic phone
    rank: int
    row: int  # the guardian's row in users.csv


@dataclass(frozen=True)
class Bundle:
    path: Path
    version: str  # "1.1" or "1.2"
    users_mode: str  # bulk, delta or absent


def _member(
    archive: zipfile.ZipFile, name: str, shown: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """One CSV member: its header (normalised) and its rows, streamed."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CsvError(f"{shown}: no {name} in the bundle") from None
    encoding = _member_encoding(archive, info)
    with archive.open(info) as raw:
        try:
            header = next(csv.reader(io.TextIOWrapper(raw, encoding=encoding, newline="")), None)
        except csv.Error as exc:
            raise CsvError(f"{shown}: {name} row 1: {exc}") from exc
    if header is None:
        raise CsvError(f"{shown}: {name}: empty file (no header row)")
    names = [header_name(h) for h in header]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        with archive.open(info) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding=encoding, newline=""))
            next(reader, None)
            row, width = 1, len(names)
            try:
                for values in reader:
                    row += 1
                    if not "".join(values).strip():
                        continue
                    if len(values) != width:
                        raise CsvError(
                            f"{shown}: {name} row {row}: has {len(values)} fields, "
                            f"header has {width}"
                        )
                    yield row, dict(zip(names, (v.strip() for v in values), strict=True))
            except csv.Error as exc:
                raise CsvError(f"{shown}: {name} row {row + 1}: {exc}") from exc

    return names, rows()


def _member_encoding(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else ISO-8859-1."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with archive.open(info) as raw:
        try:
            while block := raw.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    with archive.open(info) as raw:
        try:
            while block := raw.read(1 << 20):
                block.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def open_bundle(path: Path, shown: str) -> tuple[zipfile.ZipFile, Bundle]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CsvError(f"{shown}: not a OneRoster bundle (a zip file): {exc}") from None
    try:
        if "manifest.csv" not in archive.namelist():
            raise CsvError(f"{shown}: no manifest.csv; this is not a OneRoster bundle")
        manifest: dict[str, str] = {}
        names, rows = _member(archive, "manifest.csv", shown)
        if "propertyname" not in names or "value" not in names:
            raise CsvError(f"{shown}: manifest.csv row 1: expected columns propertyName,value")
        for _row, values in rows:
            manifest[values["propertyname"].lower()] = values["value"].lower()
        version = manifest.get("oneroster.version", "")
        if version not in ("1.1", "1.2"):
            raise CsvError(
                f"{shown}: manifest.csv: oneroster.version is {version or 'missing'!r}; "
                "OneRoster 1.1 and 1.2 bundles are read"
            )
        mode = manifest.get("file.users", "absent")
        if mode not in ("bulk", "delta", "absent"):
            raise CsvError(f"{shown}: manifest.csv: file.users is {mode!r} (bulk, delta, absent)")
        if mode != "absent" and "users.csv" not in archive.namelist():
            raise CsvError(f"{shown}: manifest.csv says file.users={mode} but users.csv is missing")
        roles = manifest.get("file.roles", "absent")
        if version == "1.2" and mode != "absent" and roles == "absent":
            raise CsvError(
                f"{shown}: manifest.csv: a OneRoster 1.2 bundle gives roles in roles.csv "
                "(file.roles is absent)"
            )
    except BaseException:
        archive.close()
        raise
    return archive, Bundle(path, version, mode)


class Roster:
    """The bundle's users and links in a scratch database, joined on demand."""

    def __init__(self, archive: zipfile.ZipFile, bundle: Bundle, shown: str) -> None:
        self.archive = archive
        self.bundle = bundle
        self.shown = shown
        self.db = RosterDb()

    def close(self) -> None:
        self.db.close()
        self.archive.close()

    def load(self) -> None:
        if self.bundle.users_mode == "absent":
            return
        shown = self.shown
        header, users = _member(self.archive, "users.csv", shown)
        unknown = [h for h in header if h not in USER_COLUMNS and not h.startswith("metadata.")]
        if unknown:
            raise CsvError(
                f"{shown}: users.csv row 1: unknown column(s) {', '.join(unknown)} "
                "(OneRoster users.csv has sourcedId, role, givenName, familyName, phone, sms, "
                "agentSourcedIds...; extensions are metadata.*)"
            )
        if "sourcedid" not in header:
            raise CsvError(f"{shown}: users.csv row 1: no sourcedId column")
        if self.bundle.version == "1.1" and "role" not in header:
            raise CsvError(f"{shown}: users.csv row 1: a OneRoster 1.1 users.csv needs role")
        language_col = next((c for c in LANGUAGE_METADATA if c in header), None)
        kind_col = next((c for c in PHONE_KIND_METADATA if c in header), None)
        batch: list[tuple[object, ...]] = []
        links: list[tuple[object, ...]] = []
        for row, v in users:
            ident = v["sourcedid"]
            if not ident:
                raise CsvError(f"{shown}: users.csv row {row}: no sourcedId")
            name = " ".join(p for p in (v.get("givenname", ""), v.get("familyname", "")) if p)
            batch.append(
                (
                    ident,
                    row,
                    v.get("role", "").lower(),
                    v.get("status", "").lower() or "active",
                    name,
                    v.get("phone", ""),
                    v.get("sms", ""),
                    v.get(language_col, "") if language_col else "",
                    v.get(kind_col, "").lower() if kind_col else "",
                    v.get("identifier", ""),
                )
            )
            for rank, agent in enumerate(_ids(v.get("agentsourcedids", "")), start=1):
                links.append((ident, agent, row, rank))
            if len(batch) >= 5000:
                self._insert(batch, links)
                batch, links = [], []
        self._insert(batch, links)
        if self.bundle.version == "1.2":
            self._load_roles()

    def _insert(self, users: list[tuple[object, ...]], links: list[tuple[object, ...]]) -> None:
        try:
            self.db.insert(users, links)
        except DuplicateUser as exc:
            raise CsvError(
                f"{self.shown}: users.csv row {exc.row}: sourcedId {exc.ident!r} is already "
                f"used by row {exc.first_row}"
            ) from None

    def _load_roles(self) -> None:
        shown = self.shown
        header, roles = _member(self.archive, "roles.csv", shown)
        unknown = [h for h in header if h not in ROLE_COLUMNS and not h.startswith("metadata.")]
        if unknown:
            raise CsvError(f"{shown}: roles.csv row 1: unknown column(s) {', '.join(unknown)}")
        for needed in ("usersourcedid", "role"):
            if needed not in header:
                raise CsvError(f"{shown}: roles.csv row 1: no {needed} column")
        primary = (
            (
                row,
                v["usersourcedid"],
                v["role"].lower(),
                v.get("status", "").lower() == "tobedeleted",
            )
            for row, v in roles
            if v.get("roletype", "primary").lower() in ("primary", "")
        )
        missing = self.db.set_roles(primary)
        if missing is not None:
            raise CsvError(
                f"{shown}: roles.csv row {missing[0]}: user {missing[1]!r} is not in users.csv"
            )

    def add_known(
        self, student_ref: str, ident: str, name: str, language: str, guardian_ref: str
    ) -> None:
        self.db.add_known(student_ref, ident, name, language, guardian_ref)

    def users_in_bundle(self) -> tuple[set[str], set[str]]:
        return self.db.users_in_bundle()

    def check_links(self) -> None:
        """Every link names users of the bundle (a bulk bundle is the whole roster)."""
        dangling = self.db.dangling_link()
        if dangling is not None:
            raise CsvError(
                f"{self.shown}: users.csv row {dangling[0]}: {dangling[1]!r} is linked to "
                f"{dangling[2]!r}, which is not in users.csv"
            )

    def phones(self) -> Iterator[RosterPhone]:
        """Each student's guardians' numbers, students in users.csv order."""
        for (
            s_id,
            s_name,
            s_lang,
            g_id,
            g_name,
            role,
            g_lang,
            phone,
            sms,
            kind,
            g_row,
            _rank,
            s_ref,
        ) in self.db.pairs():
            language = s_lang or g_lang
            rank = 0
            seen: set[str] = set()
            for raw, label in ((phone, kind or "home"), (sms, SMS_KIND)):
                if not raw or raw in seen:
                    continue
                seen.add(raw)
                rank += 1
                yield RosterPhone(
                    student=s_id,
                    student_ref=s_ref,
                    student_name=s_name,
                    guardian=g_id,
                    guardian_name=g_name,
                    relationship=role,
                    language=language,
                    raw_number=raw,
                    kind=label,
                    rank=rank,
                    row=int(g_row),
                )


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
