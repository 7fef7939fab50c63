"""C1-C20: every requirement with the evidence the store holds, its status and
the tests that prove it (``pytest -k cN_``), for the C20 report."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from dialer.compliance_report.rows import (
    MAX_EXAMPLES,
    _Attempt,
    _by_hash,
    _Campaign,
    _Period,
    _scalar,
)
from dialer.consent.model import NATIONAL_DNC_MAX_AGE, Purpose
from dialer.errors import StoreError
from dialer.store.db import parse_ts
from dialer.store.store import Store

#: C18 plaintext scan: at most this many numbers are looked for, in files up to this size
SCAN_MAX_NUMBERS = 5000
SCAN_MAX_BYTES = 256 * 2**20
_DIGIT_RUN = re.compile(rb"\d{7,}")

TITLES = {
    "C1": "Purpose",
    "C2": "Gate before every attempt",
    "C3": "Consent records with provenance",
    "C4": "Retention",
    "C5": "Revocation by any reasonable means",
    "C6": "Immediate effect",
    "C7": "Scope",
    "C8": "Identification first",
    "C9": "Opt-out offered within 2 seconds",
    "C10": "Keypress honored at once",
    "C11": "Callback number",
    "C12": "Calling window in the callee's local time",
    "C13": "Frequency caps",
    "C14": "Caller ID",
    "C15": "National do-not-call list",
    "C16": "Wrong party",
    "C17": "Erasure",
    "C18": "Data protection",
    "C19": "Tamper-evident audit",
    "C20": "Audit report",
}


async def _plaintext_scan(store: Store) -> dict[str, Any]:
    """C18 smoke check: no known number (contacts, caller IDs) in the raw database
    file or its WAL as a run of digits. The store's own C18 test is the proof."""
    numbers: set[bytes] = set()
    for table in ("contacts", "caller_ids"):
        for row in await store.db.fetchall(
            f"SELECT number_sealed FROM {table} LIMIT {SCAN_MAX_NUMBERS}"
        ):
            digits = store.sealer.open(bytes(row[0])).lstrip("+").encode()
            numbers.update({digits, digits[-10:]})
    scanned = found = 0
    for path in (store.db.path, store.db.path.with_name(store.db.path.name + "-wal")):
        try:
            if path.stat().st_size > SCAN_MAX_BYTES:
                return {"scanned_bytes": scanned, "numbers": len(numbers), "found": None}
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot read {path} for the C18 check: {exc.strerror}") from exc
        scanned += len(data)
        found += sum(1 for m in _DIGIT_RUN.finditer(data) if m.group() in numbers)
    return {"scanned_bytes": scanned, "numbers": len(numbers), "found": found}


def _req(
    cid: str, evidence: str, figures: dict[str, Any], violations: int | None = None
) -> dict[str, Any]:
    """One requirement row. ``violations``: None = evidence only, else checked."""
    status = "evidence" if violations is None else ("violation" if violations else "ok")
    return {
        "id": cid,
        "title": TITLES[cid],
        "status": status,
        "evidence": evidence,
        "figures": figures,
        "tests": f"pytest -k {cid.lower()}_",
    }


async def _requirements(
    store: Store,
    period: _Period,
    data: dict[str, Any],
    attempts: Sequence[_Attempt],
    campaigns: dict[int, _Campaign],
    erased: set[str],
) -> list[dict[str, Any]]:
    q = store.db
    audit_where, audit_params = period.where("at")
    kinds = Counter(
        {
            str(r[0]): int(r[1])
            for r in await q.fetchall(
                f"SELECT kind, COUNT(*) FROM audit WHERE {audit_where} GROUP BY kind",
                audit_params,
            )
        }
    )
    blocked = [a for a in attempts if not a.allowed]
    blocked_by = Counter(a.reason for a in blocked)
    effect = data["revocations"]
    nxt = effect["next_attempt"]

    # C1
    by_purpose = Counter(c.purpose.value for c in campaigns.values())
    emergency_bad = sum(
        1 for c in campaigns.values() if c.purpose is Purpose.EMERGENCY and not c.emergency_ok
    )
    # C2: a blocked attempt is never dialled; each one has its audit entry
    dialled_blocked = [a.id for a in blocked if a.answered or a.state != "blocked"]
    audit_gap = abs(kinds["gate-blocked"] - len(blocked))
    # C3
    c_where, c_params = period.where("recorded_at")
    sources = Counter(
        {
            str(r[0]): int(r[1])
            for r in await q.fetchall(
                f"SELECT source, COUNT(*) FROM consents WHERE {c_where} GROUP BY source", c_params
            )
        }
    )
    incomplete = await _scalar(
        store,
        "SELECT COUNT(*) FROM consents WHERE TRIM(method) = '' OR TRIM(evidence_ref) = '' "
        "OR LENGTH(disclosure_sha256) != 64 OR (written = 1 AND COALESCE(signature_ref, '') = '') "
        "OR (scope = 'telemarketing' AND written = 0)",
    )
    # C4
    oldest = await _scalar(store, "SELECT MIN(obtained_at) FROM consents")
    last_purge = await _scalar(store, "SELECT MAX(at) FROM audit WHERE kind = 'purge'")
    # C6
    overrides = await _scalar(store, "SELECT COUNT(*) FROM campaign_overrides")
    # C10: every 9 pressed has its keypad revocation, named after the call
    keyed = [a for a in attempts if a.outcome == "opted-out" or "9" in a.digits]
    keypad_refs = await _by_hash(
        store,
        "SELECT source_ref FROM revocations WHERE channel = 'keypad' AND source_ref IN ({})",
        [a.id for a in keyed],
    )
    unrecorded = [a.id for a in keyed if a.id not in keypad_refs and a.number_hash not in erased]
    # C14
    allowlist = {str(r[0]) for r in await q.fetchall("SELECT number_hash FROM caller_ids")}
    off_list = sum(1 for c in campaigns.values() if c.caller_id_hash not in allowlist)
    # C15
    dnc = await q.fetchone(
        "SELECT as_of, imported_at, entries FROM dnc_national_imports ORDER BY id DESC LIMIT 1"
    )
    imports = [
        (parse_ts(r[1]), dt.date.fromisoformat(r[0]))
        for r in await q.fetchall("SELECT as_of, imported_at FROM dnc_national_imports")
    ]
    stale_calls = []
    for a in attempts:
        if a.allowed and a.purpose is Purpose.TELEMARKETING:
            held = [as_of for imported, as_of in imports if imported <= a.at]
            if not held or a.at.date() - max(held) > NATIONAL_DNC_MAX_AGE:
                stale_calls.append(a.id)
    reference = period.until or store.clock()
    dnc_age = (reference.date() - dt.date.fromisoformat(dnc[0])).days if dnc else None
    # C16, C17
    wrong_party = await _scalar(
        store, "SELECT COUNT(*) FROM suppressions WHERE reason = 'wrong-party'"
    )
    review = await _scalar(store, "SELECT COUNT(*) FROM contacts WHERE needs_review = 1")
    # C18
    scan = await _plaintext_scan(store)
    chain = data["audit_chain"]
    window = data["calls_outside_window"]
    consent = data["calls_without_required_consent"]
    revoked_by_purpose = Counter(a.purpose.value for a in blocked if a.reason == "revoked")
    return [
        _req(
            "C1",
            "every campaign has a purpose; emergency ones a category and an authorizer "
            "(audited as campaign-created)",
            {
                "campaigns_by_purpose": dict(by_purpose),
                "emergency_without_category_or_authorizer": emergency_bad,
                "campaigns_created_in_period": kinds["campaign-created"],
            },
            emergency_bad,
        ),
        _req(
            "C2",
            "one gate decision stored on every attempt; blocked attempts never dialled",
            {
                "attempts": len(attempts),
                "blocked": len(blocked),
                "blocked_but_dialled": len(dialled_blocked),
                "blocked_without_audit_entry": audit_gap,
                "call_ids": dialled_blocked[:MAX_EXAMPLES],
            },
            len(dialled_blocked) + audit_gap,
        ),
        _req(
            "C3",
            "append-only consent records with full provenance; incomplete ones refused",
            {"recorded_in_period_by_source": dict(sources), "incomplete_records": incomplete},
            int(incomplete or 0),
        ),
        _req(
            "C4",
            "evidence kept 5 years after the last call relying on it (every allowed call's "
            "consent still found, see C20); purge removes only what is past retention",
            {
                "oldest_consent_obtained_at": oldest,
                "last_purge_at": last_purge,
                "purges_in_period": kinds["purge"],
                "company_dnc_entries": await _scalar(store, "SELECT COUNT(*) FROM dnc_company"),
            },
        ),
        _req(
            "C5",
            "keypad, hotline, SMS, staff, web and email all end in the same revocation record",
            {
                "revocations_by_channel": effect["by_channel"],
                "sms_flagged_for_review": kinds["sms-review"],
            },
        ),
        _req(
            "C6",
            "a revocation blocks the very next attempt of every campaign; emergency only "
            "with an audited override",
            {
                "next_attempt_blocked": nxt["blocked"],
                "next_attempt_allowed_in_violation": nxt["allowed_in_violation"],
                "overrides_recorded": overrides,
                "overrides_in_period": kinds["override"],
                "emergency_override_calls": sum(
                    1 for a in attempts if a.reason == "emergency-override"
                ),
                "seconds_received_to_recorded": effect["seconds_received_to_recorded"],
            },
            nxt["allowed_in_violation"],
        ),
        _req(
            "C7",
            "a revocation blocks every non-emergency purpose, whatever campaign it came from",
            {
                "blocked_as_revoked_by_purpose": dict(revoked_by_purpose),
                "calls_without_required_consent": consent["count"],
            },
            consent["count"],
        ),
        _req(
            "C8",
            "message validator refuses a campaign without identification first",
            {"campaigns": len(campaigns)},
        ),
        _req(
            "C9",
            "message validator measures the opt-out offer on the audio (within 2 s)",
            {"campaigns": len(campaigns)},
        ),
        _req(
            "C10",
            "every 9 pressed is a keypad revocation named after the call, committed first",
            {
                "calls_with_9": len(keyed),
                "keypad_revocations": effect["by_channel"].get("keypad", 0),
                "nine_without_revocation": len(unrecorded),
                "call_ids": unrecorded[:MAX_EXAMPLES],
            },
            len(unrecorded),
        ),
        _req(
            "C11",
            "message validator refuses a message without the callback number",
            {"campaigns": len(campaigns)},
        ),
        _req(
            "C12",
            "local time of every allowed non-emergency call re-checked in every zone",
            {k: window[k] for k in ("checked", "unverifiable", "count")},
            window["count"],
        ),
        _req(
            "C13",
            "rolling caps re-checked across campaigns and caller IDs",
            {
                "checked": data["frequency_caps"]["checked"],
                "over_cap": data["frequency_caps"]["count"],
                "blocked_by_cap": blocked_by["frequency-cap"],
                "residential_exemption_calls": consent["residential_exemption"],
            },
            data["frequency_caps"]["count"],
        ),
        _req(
            "C14",
            "caller IDs from the allowlist only; others blocked",
            {
                "allowlisted_caller_ids": len(allowlist),
                "campaigns_on_allowlist": len(campaigns) - off_list,
                "campaigns_not_on_allowlist_now": off_list,
                "blocked_caller_id": blocked_by["caller-id-not-allowed"],
            },
        ),
        _req(
            "C15",
            "telemarketing checks a national DNC copy at most 31 days old",
            {
                "as_of": dnc[0] if dnc else None,
                "imported_at": dnc[1] if dnc else None,
                "entries": dnc[2] if dnc else 0,
                "age_days": dnc_age,
                "telemarketing_calls_with_stale_list": len(stale_calls),
                "blocked_dnc_national": blocked_by["dnc-national"],
                "blocked_dnc_list_stale": blocked_by["dnc-list-stale"],
            },
            len(stale_calls),
        ),
        _req(
            "C16",
            "wrong-number keypress or repeated unallocated result suppresses the number",
            {
                "wrong_party_suppressions": wrong_party,
                "contacts_for_review": review,
                "blocked_wrong_party": blocked_by["wrong-party"],
            },
        ),
        _req(
            "C17",
            "erasure removes personal data, keeps a keyed-hash suppression",
            {
                "erasures_in_period": kinds["erasure"],
                "erased_suppressions": len(erased),
                "blocked_erased": blocked_by["erased"],
            },
        ),
        _req(
            "C18",
            "no plaintext number in the database file or its WAL (digit-run scan)",
            scan,
            None if scan["found"] is None else scan["found"],
        ),
        _req(
            "C19",
            "hash-chained audit log verified",
            {"entries": chain["entries"], "entries_in_period": sum(kinds.values())},
            0 if chain["ok"] else 1,
        ),
        _req(
            "C20",
            "this report: calls outside the window and without required consent must be 0",
            {"outside_window": window["count"], "without_consent": consent["count"]},
            window["count"] + consent["count"],
        ),
    ]
