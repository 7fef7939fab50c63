"""Second-person approval and list fingerprints, as the store returns them (issue 14)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class CampaignOrigin:
    campaign_id: int
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class Approval:
    approved_by: str
    approved_at: dt.datetime


@dataclass(frozen=True)
class ListFingerprint:
    fingerprint: str
    contacts: int
