"""The facts the gate used, kept with each attempt (C20: nothing becomes
unverifiable later).

``record_decision`` stores, next to the decision, what the gate saw: the
number's consents and revocation times, its lists and suppressions, the
campaign's caller-ID, override and DNC-copy state, the calling window and the
time zones it had to hold in. The report recomputes every verdict from the
store's history; this snapshot is what it falls back on when the history alone
cannot tell: the number's zones after its contact list was replaced or the
person erased (C17: zones are not the number), the national DNC copy after it
was replaced. The snapshot is bound to its attempt by a keyed MAC (``gate_mac``):
an edited snapshot is reported, not trusted.
"""

from __future__ import annotations

import json
from typing import Any

from dialer.consent.crypto import Sealer
from dialer.consent.model import CampaignRules, NumberFacts
from dialer.consent.rules import effective_window
from dialer.consent.windows import resolved_zones, zones_for
from dialer.store.db import ts
from dialer.store.rows import canonical

#: the attempt columns the gate MAC covers (they never change after the decision)
GATE_COLUMNS = (
    "id",
    "campaign_id",
    "number_hash",
    "purpose",
    "decided_at",
    "allowed",
    "reason",
    "with_consent",
    "gate_facts",
)


def snapshot(number: str, facts: NumberFacts, rules: CampaignRules) -> str:
    start, end = effective_window(rules.purpose, rules.window_start, rules.window_end)
    data: dict[str, Any] = {
        "v": 1,
        "consents": [
            [
                c.scope.value,
                ts(c.obtained_at),
                c.written,
                ts(c.recorded_at) if c.recorded_at else None,
            ]
            for c in facts.consents
        ],
        "unverified_consents": facts.unverified_consents,
        "revoked_at": ts(facts.revoked_at) if facts.revoked_at else None,
        "revocation_recorded_at": (
            ts(facts.revocation_recorded_at) if facts.revocation_recorded_at else None
        ),
        "company_dnc": facts.company_dnc,
        "national_dnc": facts.national_dnc,
        "erased": facts.erased,
        "wrong_party": facts.wrong_party,
        "recent_calls": len(facts.recent_calls),
        "caller_id_allowed": rules.caller_id_allowed,
        "override": rules.revocation_override,
        "national_dnc_as_of": (
            rules.national_dnc_as_of.isoformat() if rules.national_dnc_as_of else None
        ),
        "residential_exemption": rules.residential_exemption,
        "window": [start.isoformat("minutes"), end.isoformat("minutes")],
        "zones": [name for name, _ in resolved_zones(number, rules.fallback_timezone)],
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def minimal_snapshot(number: str, *, national_dnc: bool) -> str:
    """When the caller passes no facts: what the history cannot give later, read by
    the store itself as the attempt is recorded (the number's zones as phonenumbers
    gives them, unresolved; whether the national DNC copy holds it)."""
    data = {
        "v": 1,
        "kept_by": "store",
        "zones": list(zones_for(number)),
        "national_dnc": national_dnc,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def gate_mac(sealer: Sealer, values: dict[str, Any]) -> str:
    return sealer.row_mac(canonical("attempts-gate", GATE_COLUMNS, values))


def read(
    sealer: Sealer, values: dict[str, Any], mac: str | None
) -> tuple[dict[str, Any] | None, bool]:
    """The snapshot of a stored attempt and whether its MAC verifies (None: none kept)."""
    if values.get("gate_facts") is None:
        return None, True
    ok = mac is not None and gate_mac(sealer, values) == mac
    return json.loads(values["gate_facts"]), ok
