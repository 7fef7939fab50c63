"""The registry of C20 requirement checks: one small function per C-number.

A check gets the ``Context`` (the period's rows and the recomputed figures)
and returns its requirement row: the evidence the store holds, the figures,
and a status. ``ok`` and ``violation`` mean the rule was checked; ``evidence``
means figures only (proven by validators and tests, ``pytest -k cN_``);
``unverified`` means some call could not be checked against the rule (a
finding, never a pass).
Register a check with ``@check("C7", "Scope")``; the report runs every
registered check in C-number order, and a test checks that C1-C20 are all there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dialer.model.evidence import AttemptRecord, CampaignRecord, Period
from dialer.store.store import Store

Requirement = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What every check may read; the figures are computed once, before the checks."""

    store: Store
    period: Period
    #: the report's figures so far (revocations, window, consent, caps, chain)
    data: dict[str, Any]
    attempts: list[AttemptRecord]
    campaigns: dict[int, CampaignRecord]
    erased: set[str]
    #: audit entries in the period, by kind
    kinds: Counter[str]
    blocked: list[AttemptRecord] = field(default_factory=list)
    blocked_by: Counter[str] = field(default_factory=Counter)


CheckFn = Callable[[Context], Awaitable[Requirement]]


@dataclass(frozen=True)
class Check:
    cid: str
    title: str
    run: CheckFn

    @property
    def number(self) -> int:
        return int(self.cid[1:])


REGISTRY: dict[str, Check] = {}


def check(cid: str, title: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check of requirement ``cid`` (one per C-number)."""

    def register(fn: CheckFn) -> CheckFn:
        if cid in REGISTRY:
            raise ValueError(f"{cid} already has a check: {REGISTRY[cid].run.__name__}")
        REGISTRY[cid] = Check(cid, title, fn)
        return fn

    return register


def checks() -> list[Check]:
    return sorted(REGISTRY.values(), key=lambda c: c.number)


def dial_rule(ctx: Context, rule: str) -> dict[str, Any]:
    """One rule of the dial-time re-check (``dialtime``), for every placed call."""
    found: dict[str, Any] = ctx.data["dial_time"]["rules"][rule]
    return found


def requirement(
    cid: str,
    evidence: str,
    figures: dict[str, Any],
    violations: int | None = None,
    unverifiable: int = 0,
) -> Requirement:
    """One requirement row. ``violations``: None = evidence only, else checked;
    ``unverifiable``: calls the rule could not be decided for (a finding: the
    status is ``unverified``, never ``ok``)."""
    if violations:
        status = "violation"
    elif unverifiable:
        status = "unverified"
    else:
        status = "evidence" if violations is None else "ok"
    return {
        "id": cid,
        "title": REGISTRY[cid].title,
        "status": status,
        "evidence": evidence,
        "figures": figures,
        "tests": f"pytest -k {cid.lower()}_",
    }
