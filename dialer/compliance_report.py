"""The C20 compliance report: ``dialer audit report [--since] [--until] [--json]``.

For the period ``[since, until)`` (attempts by ``decided_at``, revocations by
``received_at``, consents by ``recorded_at``, audit entries by ``at``; an open
end is unbounded) it shows what COMPLIANCE.md C20 asks for, and it does not
take the gate's word for it: the figures that must be zero are *recomputed*
from the raw rows, independently of ``dialer.consent.gate``:

* calls outside the window: every allowed non-emergency attempt's number is
  unsealed (``contacts.number_sealed`` of its keyed hash) and its local time re-checked in every
  zone of the number (``dialer.consent.windows``, C12);
* calls without required consent: every allowed attempt is re-checked against
  the consents and revocations the store held at its ``decided_at`` (C2, C3,
  C7; residential-exemption calls are counted, not flagged, C13);
* time from revocation to effect: ``recorded_at - received_at``, and the first
  attempt to that number after the revocation was recorded must be blocked,
  unless an audited emergency override or a later consent allowed it (C6).

Then every requirement C1-C20 with the evidence the store holds and the tests
that prove it (``pytest -k cN_``). Status per requirement: ``ok`` (checked,
nothing wrong), ``violation`` (checked, something wrong: investigate),
``evidence`` (figures only; proven by validators and tests). No plaintext number
appears in the report (C18): only counts and call ids.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from dialer.consent.model import (
    DEFAULT_CAPS,
    NATIONAL_DNC_MAX_AGE,
    CampaignRules,
    Purpose,
    RevocationChannel,
)
from dialer.consent.rules import effective_window
from dialer.consent.windows import first_zone_outside, resolved_zones
from dialer.errors import AuditChainError, StoreError
from dialer.store.db import parse_ts, ts
from dialer.store.store import Store

DEFAULT_FALLBACK_TIMEZONE = CampaignRules(purpose=Purpose.SCHOOL).fallback_timezone
#: how many offending call ids a figure lists (the count is always complete)
MAX_EXAMPLES = 20
#: C18 plaintext scan: at most this many numbers are looked for, in files up to this size
SCAN_MAX_NUMBERS = 5000
SCAN_MAX_BYTES = 256 * 2**20
_CHUNK = 500
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


@dataclass(frozen=True, slots=True)
class _Attempt:
    id: str
    campaign_id: int
    contact_id: int
    number_hash: str
    purpose: Purpose
    at: dt.datetime
    allowed: bool
    reason: str
    with_consent: bool
    state: str
    outcome: str
    answered: bool
    digits: str


@dataclass(frozen=True, slots=True)
class _Campaign:
    purpose: Purpose
    window: tuple[dt.time, dt.time]
    residential_exemption: bool
    emergency_ok: bool
    caller_id_hash: str


class _Period:
    def __init__(self, since: dt.datetime | None, until: dt.datetime | None) -> None:
        self.since, self.until = since, until

    def where(self, column: str) -> tuple[str, list[str]]:
        clauses, params = ["1 = 1"], []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(ts(self.since))
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(ts(self.until))
        return " AND ".join(clauses), params


def _seconds(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"max": None, "median": None}
    return {"max": round(max(values), 3), "median": round(statistics.median(values), 3)}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


async def _by_hash(store: Store, sql: str, hashes: Iterable[str]) -> dict[str, list[Any]]:
    """Rows of ``sql`` (whose first column is number_hash, filtered by ``IN ({})``)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(hashes))):
        marks = ",".join("?" * len(chunk))
        for row in await store.db.fetchall(sql.format(marks), chunk):
            out[str(row[0])].append(tuple(row))
    return out


def _needed_kind(scope: str, written: bool, purpose: Purpose) -> bool:
    """The consent a call of ``purpose`` relies on (COMPLIANCE.md purpose table)."""
    if purpose is Purpose.TELEMARKETING:
        return scope == Purpose.TELEMARKETING.value and written
    return scope == purpose.value


def _live_consent(
    consents: list[Any], revocations: list[Any], purpose: Purpose, at: dt.datetime, call_id: str
) -> bool:
    """A consent of the needed kind the store held at ``at``, obtained after every
    revocation the store held at ``at`` (a re-consent lifts a revocation). A
    revocation made *on* call ``call_id`` (keypad) came after its decision."""
    known = [parse_ts(r[1]) for r in revocations if parse_ts(r[2]) <= at and r[3] != call_id]
    last = max(known) if known else None
    return any(
        parse_ts(c[4]) <= at
        and (last is None or parse_ts(c[3]) > last)
        and (purpose is Purpose.EMERGENCY or _needed_kind(c[1], bool(c[2]), purpose))
        for c in consents
    )


async def audit_report(
    store: Store,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    fallback_timezone: str = DEFAULT_FALLBACK_TIMEZONE,
) -> dict[str, Any]:
    """Everything C20 asks for, as plain JSON-ready data (see module docstring)."""
    period = _Period(since, until)
    now = store.clock()
    db = store.db
    campaigns = {
        int(r[0]): _Campaign(
            Purpose(r[1]),
            (dt.time.fromisoformat(r[2]), dt.time.fromisoformat(r[3])),
            bool(r[4]),
            bool(r[5]) and bool((r[6] or "").strip()),
            str(r[7]),
        )
        for r in await db.fetchall(
            "SELECT id, purpose, window_start, window_end, residential_exemption, category, "
            "authorized_by, caller_id_hash FROM campaigns"
        )
    }
    where, params = period.where("decided_at")
    attempts = [
        _Attempt(
            str(r[0]),
            int(r[1]),
            int(r[2]),
            str(r[3]),
            Purpose(r[4]),
            parse_ts(r[5]),
            bool(r[6]),
            str(r[7]),
            bool(r[8]),
            str(r[9]),
            str(r[10] or ""),
            r[11] is not None,
            str(r[12] or ""),
        )
        for r in await db.fetchall(
            "SELECT id, campaign_id, contact_id, number_hash, purpose, decided_at, allowed, "
            "reason, with_consent, state, outcome, answered_at, digits FROM attempts "
            f"WHERE {where} ORDER BY decided_at",
            params,
        )
    ]
    allowed = [a for a in attempts if a.allowed]
    blocked = [a for a in attempts if not a.allowed]
    erased = {
        str(r[0])
        for r in await db.fetchall("SELECT number_hash FROM suppressions WHERE reason = 'erased'")
    }

    rev_where, rev_params = period.where("received_at")
    revocations = await db.fetchall(
        "SELECT id, number_hash, channel, received_at, recorded_at, source_ref FROM revocations "
        f"WHERE {rev_where} ORDER BY received_at",
        rev_params,
    )
    hashes = {a.number_hash for a in allowed} | {str(r[1]) for r in revocations}
    consents_of = await _by_hash(
        store,
        "SELECT number_hash, scope, written, obtained_at, recorded_at FROM consents "
        "WHERE number_hash IN ({})",
        hashes,
    )
    revocations_of = await _by_hash(
        store,
        "SELECT number_hash, received_at, recorded_at, source_ref FROM revocations "
        "WHERE number_hash IN ({})",
        hashes,
    )

    window = await _window_check(store, allowed, campaigns, fallback_timezone)
    consent = _consent_check(allowed, campaigns, consents_of, revocations_of, erased)
    effect = await _revocation_effect(store, revocations, consents_of, revocations_of)
    caps = await _cap_check(store, allowed)
    chain = await _chain(store)

    placed = Counter({p.value: 0 for p in Purpose})
    placed.update(a.purpose.value for a in allowed)
    data: dict[str, Any] = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "generated_at": now.isoformat(),
        "calls_placed_by_purpose": dict(placed),
        "calls_blocked_by_reason": dict(Counter(a.reason for a in blocked).most_common()),
        "revocations": effect,
        "calls_outside_window": window,
        "calls_without_required_consent": consent,
        "frequency_caps": caps,
        "audit_chain": chain,
    }
    data["requirements"] = await _requirements(store, period, data, attempts, campaigns, erased)
    data["ok"] = chain["ok"] and all(r["status"] != "violation" for r in data["requirements"])
    return data


async def _sealed_numbers(store: Store, attempts: Sequence[_Attempt]) -> dict[str, bytes]:
    """The sealed number of each attempt's ``number_hash``, from any contact row.

    By hash, not by ``contact_id``: a list loaded again (``--replace``) gets new
    contact ids and SQLite may hand the old ids to other people; the keyed hash
    always names the same number.
    """
    rows = await _by_hash(
        store,
        "SELECT number_hash, number_sealed FROM contacts WHERE number_hash IN ({})",
        {a.number_hash for a in attempts},
    )
    return {h: bytes(found[0][1]) for h, found in rows.items()}


async def _window_check(
    store: Store,
    allowed: Sequence[_Attempt],
    campaigns: dict[int, _Campaign],
    fallback: str,
) -> dict[str, Any]:
    """C12 recomputed: local time of every allowed non-emergency call, every zone."""
    subject = [a for a in allowed if a.purpose is not Purpose.EMERGENCY]
    sealed_of = await _sealed_numbers(store, subject)
    outside: list[str] = []
    unverifiable = 0
    for a in subject:
        sealed = sealed_of.get(a.number_hash)
        if sealed is None:
            unverifiable += 1  # the contact was erased (C17)
            continue
        number = store.sealer.open(sealed)
        start, end = effective_window(a.purpose, *campaigns[a.campaign_id].window)
        if first_zone_outside(resolved_zones(number, fallback), start, end, a.at) is not None:
            outside.append(a.id)
    return {
        "checked": len(subject) - unverifiable,
        "unverifiable": unverifiable,
        "count": len(outside),
        "call_ids": outside[:MAX_EXAMPLES],
    }


def _consent_check(
    allowed: Sequence[_Attempt],
    campaigns: dict[int, _Campaign],
    consents_of: dict[str, list[Any]],
    revocations_of: dict[str, list[Any]],
    erased: set[str],
) -> dict[str, Any]:
    """C2/C3/C7 recomputed: the consent each allowed non-emergency call relied on."""
    missing: list[str] = []
    exempt = unverifiable = checked = 0
    for a in allowed:
        if a.purpose is Purpose.EMERGENCY:
            continue
        if _live_consent(
            consents_of[a.number_hash], revocations_of[a.number_hash], a.purpose, a.at, a.id
        ):
            checked += 1
            continue
        if (
            a.purpose is Purpose.INFORMATIONAL
            and not a.with_consent
            and campaigns[a.campaign_id].residential_exemption
        ):
            exempt += 1  # allowed without consent, capped (C13)
        elif a.number_hash in erased:
            unverifiable += 1  # the evidence went with the person's data (C17)
        else:
            checked += 1
            missing.append(a.id)
    return {
        "checked": checked,
        "residential_exemption": exempt,
        "unverifiable": unverifiable,
        "count": len(missing),
        "call_ids": missing[:MAX_EXAMPLES],
    }


async def _revocation_effect(
    store: Store,
    revocations: Sequence[Any],
    consents_of: dict[str, list[Any]],
    revocations_of: dict[str, list[Any]],
) -> dict[str, Any]:
    """C5/C6: revocations by channel; delay to record; the next attempt is blocked."""
    attempts_of = await _by_hash(
        store,
        "SELECT number_hash, id, decided_at, allowed, reason, purpose FROM attempts "
        "WHERE number_hash IN ({}) ORDER BY decided_at",
        {str(r[1]) for r in revocations},
    )
    by_channel = Counter({c.value: 0 for c in RevocationChannel})
    delays: list[float] = []
    to_block: list[float] = []
    blocked = overridden = reconsented = before_recorded = 0
    violations: list[str] = []
    for _id, number_hash, channel, received_s, recorded_s, source_ref in revocations:
        by_channel[str(channel)] += 1
        received, recorded = parse_ts(received_s), parse_ts(recorded_s)
        delays.append((recorded - received).total_seconds())
        # attempts after the request, not counting the call it was made on (keypad)
        later = [
            row
            for row in attempts_of[number_hash]
            if parse_ts(row[2]) > received and row[1] != source_ref
        ]
        before_recorded += sum(
            1 for row in later if parse_ts(row[2]) < recorded and row[3] and row[4] == "allowed"
        )
        nxt = next((row for row in later if parse_ts(row[2]) > recorded), None)
        if nxt is None:
            continue
        at = parse_ts(nxt[2])
        if not nxt[3]:
            blocked += 1
            to_block.append((at - recorded).total_seconds())
        elif nxt[4] == "emergency-override":
            overridden += 1
        elif _live_consent(
            consents_of[number_hash], revocations_of[number_hash], Purpose(nxt[5]), at, nxt[1]
        ):
            reconsented += 1
        else:
            violations.append(str(nxt[1]))
    return {
        "total": len(revocations),
        "by_channel": dict(by_channel),
        "seconds_received_to_recorded": _seconds(delays),
        "next_attempt": {
            "revocations_followed_by_an_attempt": blocked
            + overridden
            + reconsented
            + len(violations),
            "blocked": blocked,
            "allowed_by_emergency_override": overridden,
            "allowed_after_new_consent": reconsented,
            "allowed_in_violation": len(violations),
            "call_ids": violations[:MAX_EXAMPLES],
            "seconds_recorded_to_blocked_attempt": _seconds(to_block),
        },
        "calls_between_received_and_recorded": before_recorded,
    }


async def _cap_check(store: Store, allowed: Sequence[_Attempt]) -> dict[str, Any]:
    """C13 recomputed with the default caps over all campaigns and caller IDs."""
    if not allowed:
        return {"checked": 0, "count": 0, "call_ids": []}
    longest = max(cap.window for cap in DEFAULT_CAPS)
    first = min(a.at for a in allowed) - longest
    history = await _by_hash(
        store,
        "SELECT number_hash, id, decided_at, with_consent FROM attempts "
        f"WHERE allowed = 1 AND decided_at >= '{ts(first)}' AND number_hash IN ({{}})",
        {a.number_hash for a in allowed},
    )
    over: list[str] = []
    for a in allowed:
        calls = [(parse_ts(r[2]), bool(r[3])) for r in history[a.number_hash] if r[1] != a.id]
        for cap in DEFAULT_CAPS:
            if cap.purposes and a.purpose not in cap.purposes:
                continue
            if cap.without_consent_only and a.with_consent:
                continue
            count = sum(
                1
                for at, with_consent in calls
                if a.at - cap.window <= at < a.at
                and not (cap.without_consent_only and with_consent)
            )
            if count >= cap.max_calls:
                over.append(a.id)
                break
    return {"checked": len(allowed), "count": len(over), "call_ids": over[:MAX_EXAMPLES]}


async def _chain(store: Store) -> dict[str, Any]:
    try:
        chain = await store.verify_audit()
    except AuditChainError as exc:
        return {"ok": False, "entries": None, "head": None, "error": str(exc)}
    return {"ok": True, "entries": chain.entries, "head": chain.head_mac, "error": None}


async def _scalar(store: Store, sql: str, params: Sequence[Any] = ()) -> Any:
    row = await store.db.fetchone(sql, params)
    return row[0] if row else None


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


# -- C1-C20: the evidence the store holds -------------------------------------------------------


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


# -- rendering --------------------------------------------------------------------------------

_STATUS_STYLE = {"ok": "green", "violation": "bold red", "evidence": "cyan"}


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _fmt(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items() if k != "call_ids")


def render_report(data: dict[str, Any], console: Console) -> None:
    """The report for people: a few rich tables, violations in red."""
    period = data["period"]
    console.print(
        f"[bold]Compliance report[/] {period['since'] or 'beginning'} to "
        f"{period['until'] or 'now'} (generated {data['generated_at']})"
    )
    console.print(
        _table(
            "Calls placed by purpose", ["purpose", "calls"], data["calls_placed_by_purpose"].items()
        )
    )
    console.print(
        _table(
            "Calls blocked by reason",
            ["reason", "calls"],
            data["calls_blocked_by_reason"].items() or [("(none)", 0)],
        )
    )
    rev = data["revocations"]
    console.print(_table("Revocations by channel", ["channel", "count"], rev["by_channel"].items()))
    nxt = rev["next_attempt"]
    delay = rev["seconds_received_to_recorded"]
    console.print(
        _table(
            "Time from revocation to effect",
            ["figure", "value"],
            [
                ("received -> recorded, max s", delay["max"]),
                ("received -> recorded, median s", delay["median"]),
                ("next attempt blocked", nxt["blocked"]),
                (
                    "next attempt allowed by emergency override",
                    nxt["allowed_by_emergency_override"],
                ),
                ("next attempt allowed after new consent", nxt["allowed_after_new_consent"]),
                ("next attempt allowed IN VIOLATION (must be 0)", nxt["allowed_in_violation"]),
                (
                    "calls placed before the revocation was recorded",
                    rev["calls_between_received_and_recorded"],
                ),
            ],
        )
    )
    window, consent = data["calls_outside_window"], data["calls_without_required_consent"]
    chain = data["audit_chain"]
    console.print(
        _table(
            "Must be zero",
            ["check", "count", "checked", "call ids"],
            [
                (
                    "calls outside the window (C12)",
                    window["count"],
                    window["checked"],
                    " ".join(window["call_ids"]),
                ),
                (
                    "calls without required consent",
                    consent["count"],
                    consent["checked"],
                    " ".join(consent["call_ids"]),
                ),
                (
                    "calls over a frequency cap (C13)",
                    data["frequency_caps"]["count"],
                    data["frequency_caps"]["checked"],
                    " ".join(data["frequency_caps"]["call_ids"]),
                ),
            ],
        )
    )
    console.print(
        f"audit chain: {'[green]intact[/]' if chain['ok'] else '[bold red]BROKEN[/]'}"
        + (f", {chain['entries']} entries" if chain["ok"] else f": {chain['error']}")
    )
    table = Table(title="Requirements", title_justify="left", show_lines=False)
    for column in ("req", "title", "status", "evidence", "tests"):
        table.add_column(column, overflow="fold")
    for r in data["requirements"]:
        style = _STATUS_STYLE[r["status"]]
        table.add_row(
            r["id"],
            r["title"],
            f"[{style}]{r['status']}[/]",
            f"{r['evidence']}\n[dim]{_fmt(r['figures'])}[/]",
            r["tests"],
        )
    console.print(table)
    verdict = "[green]no violations found[/]" if data["ok"] else "[bold red]VIOLATIONS FOUND[/]"
    console.print(f"verdict: {verdict}")
