"""Second-person approval (issue 14 item 4): a campaign waits for another operator's go-ahead.

Setting ``[campaigns] approval``:

==================  ==========================================================
``non-emergency``   (default) every campaign except ``emergency`` needs it
``all``             emergencies too
``none``            nobody needs it (one operator creates and starts)
==================  ==========================================================

Rules: the approver's name must differ from the creator's (compared without
case and surrounding or repeated spaces, so "Ana  Ruiz" is "ana ruiz"); a
campaign is approved once; both the creation and the approval are in the
audit log (C19). An emergency campaign under ``non-emergency`` may still be
approved (a second pair of eyes never hurts); it just does not have to be.

Who is who: the CLI records the operator name it is given (``--operator``,
default the login name); the web console passes the signed-in account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dialer.consent.model import Purpose
from dialer.errors import ComplianceError, InputError
from dialer.model.campaign import Campaign
from dialer.model.safeguards import Approval
from dialer.settings import Settings
from dialer.store.store import Store


def approval_required(mode: str, purpose: Purpose) -> bool:
    """Whether a campaign of ``purpose`` needs a second operator under setting ``mode``."""
    if mode == "all":
        return True
    if mode == "none":
        return False
    return purpose is not Purpose.EMERGENCY


def same_operator(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True)
class ApprovalStatus:
    campaign: str
    mode: str
    required: bool
    created_by: str
    approved_by: str | None = None
    approved_at: dt.datetime | None = None

    @property
    def satisfied(self) -> bool:
        return not self.required or self.approved_by is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.mode,
            "required": self.required,
            "created_by": self.created_by,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
            "satisfied": self.satisfied,
        }


async def approval_status(store: Store, settings: Settings, campaign: Campaign) -> ApprovalStatus:
    origin = await store.safeguards.origin(campaign.name)
    approval = await store.safeguards.approval(campaign.id)
    mode = settings.campaigns.approval
    return ApprovalStatus(
        campaign=campaign.name,
        mode=mode,
        required=approval_required(mode, campaign.purpose),
        created_by=origin.created_by,
        approved_by=approval.approved_by if approval else None,
        approved_at=approval.approved_at if approval else None,
    )


async def approve_campaign(
    store: Store, settings: Settings, name: str, operator: str
) -> tuple[Approval, ApprovalStatus]:
    """Record ``operator``'s approval of campaign ``name``; refused for its creator."""
    campaign = await store.campaigns.get(name)  # NotFoundError naming it
    who = " ".join(operator.split())
    if not who:
        raise InputError("an approval needs the approving operator's name (--operator)")
    status = await approval_status(store, settings, campaign)
    if same_operator(who, status.created_by):
        raise InputError(
            f"campaign {name!r} was created by {status.created_by!r}; a different operator "
            "must approve it (second-person approval)"
        )
    approval = await store.safeguards.approve(name, who, required=status.required, mode=status.mode)
    return approval, await approval_status(store, settings, campaign)


async def require_approval(store: Store, settings: Settings, campaign: Campaign) -> None:
    """Refuse to start a campaign that still waits for its second operator."""
    status = await approval_status(store, settings, campaign)
    if not status.satisfied:
        raise ComplianceError(
            f"campaign {campaign.name!r} needs a second operator's approval before it starts "
            f"(setting campaigns.approval = {status.mode!r}; created by {status.created_by!r}): "
            f"another operator runs 'dialer campaign approve {campaign.name}'"
        )
