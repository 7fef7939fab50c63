"""Private scratch databases for imports (issue 12): joins and diffs on disk.

Each is an SQLite database in a temporary file SQLite deletes when it is
closed, reachable only through this process's connection: bundles of any
size are joined, and lists of any size compared, in bounded memory, and the
store is never written. Only the store runs SQL (DESIGN.md), so they live here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from dialer.model.listdiff import EXAMPLES, Change, ListDiff

#: a link (student, agent) or a user row as the roster keeps them
UserRow = tuple[Any, ...]


def _scratch() -> sqlite3.Connection:
    # "": a private database in a temporary file; one thread at a time uses it
    db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA temp_store = FILE")
    db.execute("PRAGMA cache_size = -16384")
    return db


class DuplicateUser(Exception):
    def __init__(self, row: int, ident: str, first_row: int) -> None:
        super().__init__(ident)
        self.row, self.ident, self.first_row = row, ident, first_row


class RosterDb:
    """A OneRoster bundle's users and student-agent links."""

    def __init__(self) -> None:
        self.db = _scratch()
        self.db.execute(
            "CREATE TABLE users (id TEXT PRIMARY KEY, row INTEGER, role TEXT, status TEXT, "
            "name TEXT, phone TEXT, sms TEXT, language TEXT, phone_kind TEXT, ident TEXT) "
            "WITHOUT ROWID"
        )
        self.db.execute("CREATE TABLE links (student TEXT, agent TEXT, row INTEGER, rank INTEGER)")

    def close(self) -> None:
        self.db.close()

    def insert(self, users: list[UserRow], links: list[UserRow]) -> None:
        """Users (id, row, role, status, name, phone, sms, language, kind, identifier)
        and links (student, agent, row, rank); DuplicateUser names a repeated id."""
        try:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", users)
            self.db.executemany("INSERT INTO links VALUES (?, ?, ?, ?)", links)
            self.db.execute("COMMIT")
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK")
            for user in users:
                clash = self.db.execute("SELECT row FROM users WHERE id = ?", (user[0],)).fetchone()
                if clash is not None:
                    raise DuplicateUser(int(user[1]), str(user[0]), int(clash[0])) from None
            raise

    def set_roles(self, roles: Iterable[tuple[int, str, str, bool]]) -> tuple[int, str] | None:
        """Apply roles.csv (row, user, role, being deleted); the first row naming a
        user the bundle does not have, or None (then every role is applied)."""
        self.db.execute("BEGIN")
        for row, user, role, deleted in roles:
            cursor = self.db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user))
            if cursor.rowcount == 0 and not deleted:
                self.db.execute("ROLLBACK")
                return row, user
        self.db.execute("COMMIT")
        return None

    def add_known(
        self, student_ref: str, ident: str, name: str, language: str, guardian_ref: str
    ) -> None:
        """A student-guardian pair the list already has (a delta bundle changes the
        guardian's phones; the student and the link come from the list)."""
        self.db.execute(
            "INSERT OR IGNORE INTO users (id, row, role, status, name, phone, sms, language, "
            "phone_kind, ident) VALUES (?, 0, 'student', 'active', ?, '', '', ?, '', ?)",
            (student_ref, name, language, ident),
        )
        self.db.execute(
            "INSERT INTO links (student, agent, row, rank) VALUES (?, ?, 0, 0)",
            (student_ref, guardian_ref),
        )

    def users_in_bundle(self) -> tuple[set[str], set[str]]:
        """(active users, users marked tobedeleted) of the bundle, by sourcedId."""
        active: set[str] = set()
        deleted: set[str] = set()
        for ident, status, row in self.db.execute("SELECT id, status, row FROM users"):
            if row == 0:
                continue  # added from the list (add_known), not from the bundle
            (deleted if status == "tobedeleted" else active).add(str(ident))
        return active, deleted

    def dangling_link(self) -> tuple[int, str, str] | None:
        """The first link naming a user the bundle does not have: (row, from, to)."""
        row = self.db.execute(
            "SELECT l.row, l.student, l.agent FROM links l "
            "LEFT JOIN users a ON a.id = l.agent WHERE a.id IS NULL ORDER BY l.row LIMIT 1"
        ).fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    def pairs(self) -> Iterator[tuple[Any, ...]]:
        """Each active student with each active guardian, parent or relative linked
        to them (either side may name the other), students in users.csv order:
        (student id or number, name, language, guardian, name, role, language,
        phone, sms, phone label, guardian's row, rank, student sourcedId)."""
        rows = self.db.execute(
            "WITH pairs AS ("
            "  SELECT l.student AS student, l.agent AS agent, l.rank AS rank FROM links l "
            "  JOIN users s ON s.id = l.student AND s.role = 'student' "
            "  UNION "
            "  SELECT l.agent, l.student, 1000 + l.rank FROM links l "
            "  JOIN users s ON s.id = l.agent AND s.role = 'student') "
            "SELECT COALESCE(NULLIF(s.ident, ''), s.id), s.name, s.language, g.id, g.name, g.role, "
            "g.language, g.phone, g.sms, g.phone_kind, g.row, MIN(p.rank) AS rank, s.id "
            "FROM pairs p "
            "JOIN users s ON s.id = p.student JOIN users g ON g.id = p.agent "
            "WHERE g.role IN ('guardian', 'parent', 'relative') AND s.status = 'active' "
            "AND g.status = 'active' "
            "GROUP BY s.id, g.id ORDER BY s.row, rank, g.row"
        )
        while batch := rows.fetchmany(2000):
            yield from batch


class DiffDb:
    """Collects both sides' keys, then compares them with SQL."""

    def __init__(self) -> None:
        self.db = _scratch()
        for side in ("old", "new"):
            self.db.execute(
                f"CREATE TABLE {side} (student TEXT, guardian TEXT, kind TEXT, "
                "number_hash TEXT, place TEXT)"
            )

    def add(self, side: str, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        if side not in ("old", "new"):
            raise ValueError(side)
        self.db.execute("BEGIN")
        self.db.executemany(f"INSERT INTO {side} VALUES (?, ?, ?, ?, ?)", rows)
        self.db.execute("COMMIT")

    def compare(self) -> ListDiff:
        for side in ("old", "new"):
            self.db.execute(f"CREATE INDEX {side}_key ON {side} (student, guardian, kind)")
        diff = ListDiff()
        queries = {
            "added": "SELECT n.student, n.guardian, n.kind, n.place FROM new n WHERE NOT EXISTS "
            "(SELECT 1 FROM old o WHERE o.student = n.student AND o.guardian = n.guardian "
            "AND o.kind = n.kind)",
            "removed": "SELECT o.student, o.guardian, o.kind, o.place FROM old o WHERE NOT EXISTS "
            "(SELECT 1 FROM new n WHERE n.student = o.student AND n.guardian = o.guardian "
            "AND n.kind = o.kind)",
            "changed": "SELECT n.student, n.guardian, n.kind, n.place FROM new n JOIN old o "
            "ON o.student = n.student AND o.guardian = n.guardian AND o.kind = n.kind "
            "WHERE o.number_hash != n.number_hash AND NOT EXISTS (SELECT 1 FROM old x "
            "WHERE x.student = n.student AND x.guardian = n.guardian AND x.kind = n.kind "
            "AND x.number_hash = n.number_hash)",
        }
        for kind, sql in queries.items():
            count = 0
            examples: list[Change] = []
            for student, guardian, label, place in self.db.execute(sql):
                count += 1
                if len(examples) < EXAMPLES:
                    examples.append(Change(student, guardian, label, place))
            setattr(diff, kind, count)
            diff.examples[kind] = examples
        total = self.db.execute("SELECT COUNT(*) FROM new").fetchone()[0]
        diff.unchanged = int(total) - diff.added - diff.changed
        return diff

    def close(self) -> None:
        self.db.close()
