"""A recording in the catalog, one version of one language (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Recording:
    id: int
    name: str
    language: str
    version: int
    duration: float
    sha256: str
    source_name: str
    sound_stem: str  # path without extension, as Asterisk names sound files
    added_by: str
    added_at: dt.datetime
