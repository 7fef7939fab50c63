"""``Store``: one open database with its keys, and the repositories over it."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from dialer.consent.crypto import Sealer, load_keys
from dialer.store import audit
from dialer.store.campaigns import CampaignStore
from dialer.store.consent import ConsentStore
from dialer.store.contacts import ContactStore
from dialer.store.db import Clock, Database, utcnow
from dialer.store.evidence import EvidenceStore
from dialer.store.history import HistoryStore
from dialer.store.migrations import LATEST_VERSION
from dialer.store.recordings import RecordingStore
from dialer.store.users import UserStore


class Store:
    def __init__(self, db: Database, sealer: Sealer, clock: Clock = utcnow) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock
        self.consent = ConsentStore(db, sealer, clock)
        self.contacts = ContactStore(db, sealer, clock)
        self.campaigns = CampaignStore(db, sealer, clock)
        self.recordings = RecordingStore(db, sealer, clock)
        self.users = UserStore(db, sealer, clock)
        self.history = HistoryStore(db, sealer, self.consent)
        self.evidence = EvidenceStore(db, sealer)

    @classmethod
    async def open(
        cls,
        path: Path,
        key_file: Path,
        *,
        clock: Clock = utcnow,
        migrate_to: int | None = LATEST_VERSION,
    ) -> Store:
        sealer = Sealer(load_keys(key_file))
        db = await Database.open(path, migrate_to=migrate_to)
        return cls(db, sealer, clock)

    async def verify_audit(self) -> audit.ChainReport:
        return await audit.verify(self.db, self.sealer)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
