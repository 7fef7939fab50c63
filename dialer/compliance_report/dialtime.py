"""Every placed call re-checked against what the store knew at dial time (C20).

For each allowed attempt that was placed, the facts of its number are rebuilt
from the audit log as it stood at ``decided_at`` (the log outlives the rows:
an erased or purged number keeps its history), the campaign's caller-ID and
override state likewise, and every rule is checked again, independently of
the gate:

==================  ====  ===========================================================
rule                 C    a violation
==================  ====  ===========================================================
caller-id           C14   the campaign's caller ID was not on the allowlist
erased              C17   the number had been erased (every purpose)
wrong-party         C16   the number was suppressed for staff review (every purpose)
revoked-emergency   C6    an emergency call to a revoked number, no override recorded
override-claimed    C6    the call says "emergency-override" but none was recorded
company-dnc         C4    the organisation's DNC list: non-emergency, or emergency
                          without an override
national-dnc        C15   telemarketing to a number on the national DNC copy
==================  ====  ===========================================================

A rule that cannot be decided for a call is a *finding* (``unverifiable``),
never a pass: e.g. the national DNC copy was replaced since and the attempt
kept no snapshot. The consent (C3/C7), window (C12) and cap (C13) checks are in
``figures``; they use the same history and the snapshot kept with the attempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialer.compliance_report.figures import MAX_EXAMPLES
from dialer.consent.model import Purpose
from dialer.model.evidence import (
    AttemptRecord,
    CampaignRecord,
    ConsentRecord,
    LogEvent,
    NationalDncImport,
    RevocationRecord,
)
from dialer.store.db import parse_ts
from dialer.store.rows import BOUND_ROWS
from dialer.store.store import Store

RULES = (
    ("caller-id", "C14"),
    ("erased", "C17"),
    ("wrong-party", "C16"),
    ("revoked-emergency", "C6"),
    ("override-claimed", "C6"),
    ("company-dnc", "C4"),
    ("national-dnc", "C15"),
)


@dataclass
class RuleTally:
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)

    def json(self, cid: str) -> dict[str, Any]:
        return {
            "requirement": cid,
            "checked": self.checked,
            "violations": len(self.violations),
            "unverifiable": len(self.unverifiable),
            "call_ids": self.violations[:MAX_EXAMPLES],
            "unverifiable_call_ids": self.unverifiable[:MAX_EXAMPLES],
        }


@dataclass
class NumberHistory:
    """What the log says about one number, replayed up to a moment."""

    events: list[LogEvent]
    obtained: dict[int, dt.datetime]

    def consents(self, at: dt.datetime) -> tuple[list[ConsentRecord], bool]:
        """Consents recorded by ``at``; False when one's ``obtained_at`` is unknown."""
        found, known = [], True
        for e in self.events:
            if e.kind != "consent" or e.at > at:
                continue
            p = e.payload
            obtained_text = p.get("obtained_at")
            obtained = (
                parse_ts(obtained_text)
                if obtained_text
                else self.obtained.get(int(p.get("consent_id", 0)))
            )
            if obtained is None:
                known = False
                continue
            found.append(ConsentRecord(str(p.get("scope")), bool(p.get("written")), obtained, e.at))
        return found, known

    def revocations(self, at: dt.datetime) -> list[RevocationRecord]:
        return [
            RevocationRecord(
                int(e.payload.get("revocation_id", 0)),
                str(e.payload.get("number_hash")),
                str(e.payload.get("channel")),
                parse_ts(e.payload["received_at"]),
                e.at,
                str(e.payload.get("source_ref") or ""),
            )
            for e in self.events
            if e.kind == "revocation" and e.at <= at
        ]

    def erased(self, at: dt.datetime) -> bool:
        return any(e.kind == "erasure" and e.at <= at for e in self.events)

    def wrong_party(self, at: dt.datetime) -> bool:
        state = False
        for e in self.events:
            if e.at > at:
                break
            if e.kind == "wrong-party":
                state = True
            elif e.kind == "wrong-party-cleared":
                state = False
        return state

    def company_dnc(self, at: dt.datetime, removed: dict[str, dt.datetime]) -> bool:
        added = [e.at for e in self.events if e.kind == "dnc-company" and e.at <= at]
        if not added:
            return False
        gone = removed.get(str(self.events[0].payload.get("number_hash")))
        return gone is None or gone > at or gone < max(added)


@dataclass
class CampaignHistory:
    """Caller-ID allowlist, overrides and national DNC imports over time."""

    caller_events: list[LogEvent]
    overrides: dict[str, list[dt.datetime]]
    imports: list[NationalDncImport]
    dnc_removed: dict[str, dt.datetime]

    def caller_id_allowed(self, caller_hash: str, at: dt.datetime) -> bool:
        state = False
        for e in self.caller_events:
            if e.at > at:
                break
            if e.payload.get("number_hash") == caller_hash:
                state = e.kind == "caller-id-added"
        return state

    def override(self, campaign: str, at: dt.datetime) -> bool:
        return any(when <= at for when in self.overrides.get(campaign, []))

    def national_replaced_after(self, at: dt.datetime) -> bool:
        return any(i.imported_at > at for i in self.imports)


def revoked_at(
    consents: Sequence[ConsentRecord], revocations: Sequence[RevocationRecord], call_id: str
) -> bool:
    """Revoked and not lifted: no consent recorded and obtained after the revocation."""
    known = [r for r in revocations if r.source_ref != call_id]
    if not known:
        return False
    received = max(r.received_at for r in known)
    recorded = max(r.recorded_at for r in known)
    return not any(c.obtained_at > received and c.recorded_at > recorded for c in consents)


async def load(
    store: Store, hashes: Iterable[str]
) -> tuple[dict[str, NumberHistory], CampaignHistory]:
    """The history of these numbers, and of caller IDs, overrides and DNC imports."""
    evidence = store.evidence
    wanted = set(hashes)
    events = await evidence.history_of(wanted)
    legacy_ids = {
        int(e.payload.get("consent_id", 0))
        for found in events.values()
        for e in found
        if e.kind == "consent" and not e.payload.get("obtained_at")
    }
    obtained = await evidence.consent_obtained_at(legacy_ids) if legacy_ids else {}
    histories = {h: NumberHistory(events.get(h, []), obtained) for h in wanted}
    log = await evidence.log_of(("caller-id-added", "caller-id-removed", "override", "purge"))
    overrides: dict[str, list[dt.datetime]] = {}
    dnc_removed: dict[str, dt.datetime] = {}
    for e in log:
        if e.kind == "override":
            overrides.setdefault(str(e.payload.get("campaign")), []).append(e.at)
        elif e.kind == "purge":
            for table, key, _mac in e.payload.get(BOUND_ROWS, {}).get("-", []):
                if table == "dnc_company":
                    dnc_removed[str(key)] = e.at
    callers = [e for e in log if e.kind.startswith("caller-id")]
    campaign = CampaignHistory(
        callers, overrides, await evidence.national_dnc_imports(), dnc_removed
    )
    return histories, campaign


async def dial_time_checks(
    store: Store,
    placed: Sequence[AttemptRecord],
    campaigns: dict[int, CampaignRecord],
    names: dict[int, str],
    histories: dict[str, NumberHistory],
    log: CampaignHistory,
) -> dict[str, Any]:
    """Every rule of the table above, for every placed call."""
    on_national = await store.evidence.on_national_dnc(
        a.number_hash for a in placed if a.purpose is Purpose.TELEMARKETING
    )
    tally = {rule: RuleTally() for rule, _ in RULES}
    empty = NumberHistory([], {})
    for a in placed:
        history = histories.get(a.number_hash, empty)
        campaign = campaigns[a.campaign_id]
        emergency = a.purpose is Purpose.EMERGENCY
        override = log.override(names.get(a.campaign_id, ""), a.at)

        def verdict(rule: str, broken: bool | None, call_id: str = a.id) -> None:
            t = tally[rule]
            if broken is None:
                t.unverifiable.append(call_id)
                return
            t.checked += 1
            if broken:
                t.violations.append(call_id)

        verdict("caller-id", not log.caller_id_allowed(campaign.caller_id_hash, a.at))
        verdict("erased", history.erased(a.at))
        verdict("wrong-party", history.wrong_party(a.at))
        consents, _ = history.consents(a.at)
        revoked = revoked_at(consents, history.revocations(a.at), a.id)
        company = history.company_dnc(a.at, log.dnc_removed)
        if emergency:
            verdict("revoked-emergency", revoked and not override)
        if a.reason == "emergency-override":
            verdict("override-claimed", not override)
        verdict("company-dnc", company and (not emergency or not override))
        if a.purpose is Purpose.TELEMARKETING:
            if a.facts is not None and a.facts_ok:
                member: bool | None = bool(a.facts.get("national_dnc"))
            elif not log.national_replaced_after(a.at):
                member = a.number_hash in on_national
            else:
                member = None  # the copy it was checked against is gone, and no snapshot
            verdict("national-dnc", member)
    rules = {rule: tally[rule].json(cid) for rule, cid in RULES}
    return {
        "placed_calls": len(placed),
        "rules": rules,
        "violations": sum(r["violations"] for r in rules.values()),
        "unverifiable": sum(r["unverifiable"] for r in rules.values()),
    }
