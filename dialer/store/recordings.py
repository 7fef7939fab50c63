"""The recordings catalog: name, language, version, duration, checksum, who added it.

Adding a name again makes a new version; the old one is kept (its files too)
until no campaign uses it. Campaigns refer to recordings by name and always
play the newest version at dial time.
"""

from __future__ import annotations

from typing import Any

from dialer.consent.crypto import Sealer
from dialer.errors import InputError, NotFoundError
from dialer.model.recording import Recording
from dialer.store import audit
from dialer.store.db import Clock, Database, parse_ts, ts

_COLUMNS = (
    "id, name, language, version, duration, sha256, source_name, sound_stem, added_by, added_at"
)


def _recording(r: Any) -> Recording:
    return Recording(
        id=int(r[0]),
        name=str(r[1]),
        language=str(r[2]),
        version=int(r[3]),
        duration=float(r[4]),
        sha256=str(r[5]),
        source_name=str(r[6]),
        sound_stem=str(r[7]),
        added_by=str(r[8]),
        added_at=parse_ts(str(r[9])),
    )


class RecordingStore:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock

    async def next_version(self, name: str, language: str) -> int:
        row = await self.db.fetchone(
            "SELECT COALESCE(MAX(version), 0) FROM recordings WHERE name = ? AND language = ?",
            (name, language),
        )
        return int(row[0]) + 1 if row else 1

    async def add(
        self,
        *,
        name: str,
        language: str,
        version: int,
        duration: float,
        sha256: str,
        source_name: str,
        sound_stem: str,
        added_by: str,
    ) -> Recording:
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO recordings (name, language, version, duration, sha256, source_name, "
                "sound_stem, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    language,
                    version,
                    duration,
                    sha256,
                    source_name,
                    sound_stem,
                    added_by,
                    ts(now),
                ),
            )
            await audit.append(
                conn,
                self.sealer,
                "recording-added",
                {
                    "name": name,
                    "language": language,
                    "version": version,
                    "sha256": sha256,
                    "by": added_by,
                },
                now,
            )
        return await self.get(name, language)

    async def get(self, name: str, language: str | None = None) -> Recording:
        """Newest version of ``name`` in ``language`` (any language when None)."""
        if language is None:
            row = await self.db.fetchone(
                f"SELECT {_COLUMNS} FROM recordings WHERE name = ? AND removed_at IS NULL "
                "ORDER BY version DESC LIMIT 1",
                (name,),
            )
        else:
            row = await self.db.fetchone(
                f"SELECT {_COLUMNS} FROM recordings WHERE name = ? AND language = ? "
                "AND removed_at IS NULL ORDER BY version DESC LIMIT 1",
                (name, language),
            )
        if row is None:
            lang = f" in language {language!r}" if language else ""
            raise NotFoundError(f"no recording named {name!r}{lang} (add it with 'recordings add')")
        return _recording(row)

    async def version(self, name: str, language: str, version: int) -> Recording:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM recordings WHERE name = ? AND language = ? AND version = ?",
            (name, language, version),
        )
        if row is None:
            raise NotFoundError(f"recording {name!r} ({language}) version {version} is gone")
        return _recording(row)

    async def latest_versions(self, name: str) -> dict[str, int]:
        """language → newest version, for pinning a campaign's message."""
        rows = await self.db.fetchall(
            "SELECT language, MAX(version) FROM recordings WHERE name = ? AND removed_at IS NULL "
            "GROUP BY language",
            (name,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def retire_unpinned(
        self, name: str, keep: set[tuple[str, int]], operator: str
    ) -> list[Recording]:
        """Retire old versions no campaign plays (the newest of each language stays)."""
        latest = await self.latest_versions(name)
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM recordings WHERE name = ? AND removed_at IS NULL",
            (name,),
        )
        retired = [
            r
            for r in map(_recording, rows)
            if r.version != latest.get(r.language) and (r.language, r.version) not in keep
        ]
        if not retired:
            return []
        now = self.clock()
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE recordings SET removed_at = ? WHERE id = ?",
                [(ts(now), r.id) for r in retired],
            )
            await audit.append(
                conn,
                self.sealer,
                "recording-retired",
                {
                    "name": name,
                    "versions": [[r.language, r.version] for r in retired],
                    "by": operator,
                },
                now,
            )
        return retired

    async def languages(self, name: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT language FROM recordings WHERE name = ? AND removed_at IS NULL",
            (name,),
        )
        return sorted(str(r[0]) for r in rows)

    async def all(self) -> list[Recording]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM recordings WHERE removed_at IS NULL "
            "ORDER BY name, language, version"
        )
        return [_recording(r) for r in rows]

    async def remove(self, name: str, used_by: list[str], operator: str) -> int:
        if used_by:
            raise InputError(
                f"recording {name!r} is used by campaign(s) {', '.join(used_by)}; "
                "remove or change those campaigns first"
            )
        now = self.clock()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE recordings SET removed_at = ? WHERE name = ? AND removed_at IS NULL",
                (ts(now), name),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no recording named {name!r}")
            await audit.append(
                conn, self.sealer, "recording-removed", {"name": name, "by": operator}, now
            )
            return cursor.rowcount
