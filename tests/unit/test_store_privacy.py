"""Encryption at rest, masking, key files (C18) and erasure (C17) on real files.

The C18 test writes known numbers through every store path that takes one
(consents, revocations, DNC lists, contacts with names, caller IDs, campaigns,
attempts, suppressions), then searches the raw bytes of the database, its WAL
and shared-memory files, and real structlog output, for the numbers' digits.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
import structlog
from support.store import (
    NUMBERS,
    Clock,
    campaign,
    consent,
    counts,
    key_file,
    open_store,
    raw,
    record,
    rules,
)

from dialer.consent.crypto import Sealer, create_key_file, load_keys
from dialer.consent.gate import decide
from dialer.consent.model import Purpose, Reason, RevocationChannel
from dialer.errors import ConfigError, KeyMismatchError, StoreError
from dialer.log import configure_logging
from dialer.model.contact import NewContact
from dialer.settings import read_secret_file
from dialer.store.store import Store

#: numbers written in this test only, each with distinctive digits
SECRET_NUMBERS = ("+12125550147", "+13125550163", "+14155550178", "+16175550189")
NAMES = ("Zebedee Quartermaine", "Philippa Vandersloot")


def _forms(e164: str) -> list[bytes]:
    """Every way the number's digits could appear: E.164, with and without '+',
    national 10 digits, and the same as UTF-16 (what a careless encoder might write)."""
    digits = e164.lstrip("+")
    texts = [e164, digits, digits[1:]]
    return [t.encode() for t in texts] + [t.encode("utf-16-le") for t in texts]


def _db_files(db: Path) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def _assert_absent(blobs: dict[str, bytes], *, names: bool = True) -> None:
    for where, blob in blobs.items():
        for number in SECRET_NUMBERS:
            for form in _forms(number):
                assert form not in blob, f"{form!r} found in {where}"
        if names:
            for name in NAMES:
                assert name.encode() not in blob, f"{name!r} found in {where}"


async def test_c18_no_plaintext_number_in_database_wal_or_logs(tmp_path: Path) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    db = store.db.path
    log_stream = io.StringIO()
    configure_logging("debug", json=True, stream=log_stream)
    log = structlog.get_logger("c18-test")
    try:
        a, b, c, d = SECRET_NUMBERS
        for number in SECRET_NUMBERS:
            await store.consent.add_consent(consent(number, contact_ref=NAMES[0]), "staff")
        await store.consent.import_batch(
            [consent(a, Purpose.TELEMARKETING), consent(b, Purpose.INFORMATIONAL)], "staff", "x"
        )
        await store.consent.revoke(b, RevocationChannel.KEYPAD, source_ref="call:1")
        await store.consent.add_company_dnc(c, "letter")
        await store.consent.import_national_dnc([d, a], clock.now.date(), "national.csv")
        await store.consent.suppress_wrong_party(d, "call:2")
        await store.consent.add_caller_id(c, "Main office", "admin")
        list_id = await store.contacts.import_list(
            "families",
            [
                NewContact("s1", a, "en", {"student_name": NAMES[0], "guardian": NAMES[1]}),
                NewContact("s2", b, "es", {"student_name": NAMES[1]}),
            ],
            replace=False,
            operator="admin",
        )
        assert list_id
        camp = await campaign(store, "closure", Purpose.SCHOOL, list_name="families")
        for i, number in enumerate(SECRET_NUMBERS):
            facts = await store.consent.facts_for(number)
            decision = decide(number, facts, rules(Purpose.SCHOOL, clock.now), clock.now)
            await record(store, camp, number, decision, f"call-{i}")
        await store.consent.erase(a, "dpo")
        # the log line a careless developer would write: the number in the event,
        # in a bound value, in an exception
        log.info(f"calling {a} now", number=b, detail=f"callee {c[2:]}", digits=int(d[1:]))
        try:
            raise ValueError(f"Asterisk said: no route to {c}")
        except ValueError:
            log.exception("originate failed")

        # while open: the WAL and -shm hold the recent writes
        live = _db_files(db)
        assert f"{db.name}-wal" in live and len(live[f"{db.name}-wal"]) > 0
        _assert_absent(live)
    finally:
        await store.close()
        structlog.reset_defaults()
    _assert_absent(_db_files(db))  # after the checkpoint on close
    output = log_stream.getvalue()
    assert "calling" in output and "originate failed" in output and "0163" in output
    _assert_absent({"log output": output.encode()}, names=False)
    # the search itself works: it finds a number where one is
    for planted in (SECRET_NUMBERS[1].encode(), b"3125550163", NAMES[0].encode()):
        with pytest.raises(AssertionError):
            _assert_absent({"control": b"..." + planted + b"..."})


async def test_c18_stored_numbers_decrypt_only_with_the_key(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await store.contacts.import_list(
            "l",
            [NewContact("1", SECRET_NUMBERS[0], "en", {"n": NAMES[0]})],
            replace=False,
            operator="t",
        )
        (contact,) = await store.contacts.contacts(await store.contacts.list_id("l"))
        assert contact.number == SECRET_NUMBERS[0] and contact.fields == {"n": NAMES[0]}
    finally:
        await store.close()
    other = tmp_path / "other"
    other.mkdir()
    create_key_file(other / "dialer.key")
    os.replace(other / "dialer.key", tmp_path / "wrong.key")
    # another key is refused before anything is read (its fingerprint differs) ...
    with pytest.raises(KeyMismatchError, match="does not belong to database"):
        await Store.open(tmp_path / "dialer.db", tmp_path / "wrong.key")
    # ... and could neither open a sealed value nor find the number by its blind index
    wrong = Sealer(load_keys(tmp_path / "wrong.key"))
    with closing(sqlite3.connect(tmp_path / "dialer.db")) as conn:
        contact_id, sealed, number_hash = conn.execute(
            "SELECT id, number_sealed, number_hash FROM contacts"
        ).fetchone()
    with pytest.raises(StoreError, match="key file does not match"):
        wrong.open_field(sealed, "contacts", "number_sealed", contact_id)
    assert wrong.index(SECRET_NUMBERS[0]) != number_hash


def test_c18_key_file_is_0600_and_loose_files_are_refused(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    load_keys(path)  # accepted
    with pytest.raises(ConfigError, match="already exists"):
        create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="must have 0600 permissions, has 0644"):
        read_secret_file(path, "store.key_file")
    with pytest.raises(ConfigError, match="0600"):
        load_keys(path)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="0640"):
        load_keys(path)


def test_c18_key_file_never_world_readable_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key_file(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


# -- C17: erasure -------------------------------------------------------------------


async def test_c17_erase_removes_personal_data_and_reimport_stays_blocked(tmp_path: Path) -> None:
    clock = Clock()
    store = await open_store(tmp_path, clock)
    number, keep = NUMBERS[10], NUMBERS[11]
    try:
        for n in (number, keep):
            await store.consent.add_consent(consent(n, Purpose.SCHOOL), "staff")
            await store.consent.add_consent(consent(n, Purpose.TELEMARKETING), "staff")
        await store.consent.revoke(number, RevocationChannel.EMAIL, source_ref="mail:1")
        await store.consent.add_company_dnc(number, "letter")
        await store.contacts.import_list(
            "families",
            [
                NewContact("s1", number, "en", {"student_name": NAMES[0]}),
                NewContact("s2", keep, "en", {"student_name": NAMES[1]}),
            ],
            replace=False,
            operator="admin",
        )
        h = store.sealer.index(number)
        removed = await store.consent.erase(number, "dpo")
        assert removed == {"consents": 2, "revocations": 1, "contacts": 1, "dnc_company": 1}
        with closing(raw(store.db.path)) as conn:
            for table in ("consents", "revocations", "contacts", "dnc_company"):
                left = conn.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE number_hash = ?", (h,)
                ).fetchone()[0]
                assert left == 0, table
            assert conn.execute(
                "SELECT reason FROM suppressions WHERE number_hash = ?", (h,)
            ).fetchall() == [("erased",)]
        assert counts(store.db.path)["consents"] == 2  # the other person's records stay

        # re-grant consent and re-import the contact list: still blocked, reason erased
        clock.advance(dt.timedelta(days=1))
        await store.consent.add_consent(consent(number, obtained_at=clock.now), "staff")
        await store.consent.import_batch(
            [consent(number, Purpose.TELEMARKETING, obtained_at=clock.now)], "staff", "again"
        )
        await store.contacts.import_list(
            "families", [NewContact("s1", number, "en", {})], replace=True, operator="admin"
        )
        facts = await store.consent.facts_for(number)
        assert facts.erased and len(facts.consents) == 2
        for purpose in (Purpose.SCHOOL, Purpose.INFORMATIONAL, Purpose.TELEMARKETING):
            d = decide(number, facts, rules(purpose, clock.now), clock.now)
            assert (d.allowed, d.reason) == (False, Reason.ERASED)
        for override in (False, True):
            d = decide(
                number, facts, rules(Purpose.EMERGENCY, clock.now, override=override), clock.now
            )
            assert (d.allowed, d.reason) == (False, Reason.ERASED)
        kept = await store.consent.facts_for(keep)
        assert decide(keep, kept, rules(Purpose.SCHOOL, clock.now), clock.now).allowed
    finally:
        await store.close()
