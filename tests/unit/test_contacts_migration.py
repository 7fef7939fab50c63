"""A district's existing lists survive the move to list versions (issue 11 migration).

A database from before versions (contacts keyed by list, a campaign over the
list) is upgraded in place: each list becomes its published version with the
same contact ids, the campaign pins it, numbers are indexed for erasure (C17)
and review (C16), and zones resolve at dial time for these old rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from support.store import CALLER_ID, NUMBERS, Clock, key_file

from dialer.consent.crypto import Sealer, load_keys
from dialer.store.db import Database, ts
from dialer.store.store import Store

BEFORE_VERSIONS = 5


async def test_lists_from_before_versions_become_published_versions(tmp_path: Path) -> None:
    path = tmp_path / "dialer.db"
    sealer = Sealer(load_keys(key_file(tmp_path)))
    now = ts(dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    db = await Database.open(path, migrate_to=BEFORE_VERSIONS)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO contact_lists (id, name, created_at) VALUES (3, 'grade5', ?)", (now,)
            )
            for contact_id, number, name in ((7, NUMBERS[1], "Ana"), (9, NUMBERS[2], "Ben")):
                await conn.execute(
                    "INSERT INTO contacts (id, list_id, external_id, number_hash, number_sealed, "
                    "language, fields_sealed, created_at) VALUES (?, 3, ?, ?, ?, 'en', ?, ?)",
                    (
                        contact_id,
                        f"s{contact_id}",
                        sealer.index(number),
                        sealer.seal(number),
                        sealer.seal(json.dumps({"student_name": name})),
                        now,
                    ),
                )
            await conn.execute(
                "INSERT INTO campaigns (name, purpose, list_id, message, caller_id_hash, "
                "caller_id_sealed, window_start, window_end, max_attempts, retry_delay, "
                "created_at, created_by) VALUES ('old', 'school', 3, ?, ?, ?, '08:00', "
                "'20:00', 1, 60, ?, 't')",
                (
                    json.dumps({"body": "m"}),
                    sealer.index(CALLER_ID),
                    sealer.seal(CALLER_ID),
                    now,
                ),
            )
    finally:
        await db.close()

    store = await Store.open(path, key_file(tmp_path), clock=Clock())
    try:
        version = await store.contacts.published("grade5")
        assert (version.id, version.contacts) == (3, 2)
        assert version.samples == {"en": 7}  # counted once for an old version
        contacts = await store.contacts.version_contacts(version.id)
        assert [(c.id, c.external_id, c.fields) for c in contacts] == [
            (7, "s7", {"student_name": "Ana"}),
            (9, "s9", {"student_name": "Ben"}),
        ]
        assert all(c.zones == () for c in contacts)  # resolved when dialled
        campaign = await store.campaigns.get("old")
        assert campaign.version_id == version.id
        await store.consent.suppress_wrong_party(NUMBERS[1], "call:x")
        assert [c.external_id for _, c in await store.contacts.needing_review()] == ["s7"]
        removed = await store.consent.erase(NUMBERS[2], "staff")
        assert removed["contacts"] == 1
        assert [c.external_id for c in await store.contacts.version_contacts(version.id)] == ["s7"]
    finally:
        await store.close()
