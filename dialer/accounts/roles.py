"""Who may do what in the web console (issue "Web admin UI", item 1).

The matrix, stated once and tested exhaustively:

=================  ======  =====  =====
permission         viewer  staff  admin
=================  ======  =====  =====
view               yes     yes    yes
run campaigns      -       yes    yes
manage contacts    -       yes    yes
manage consent     -       yes    yes
manage recordings  -       -      yes
manage users       -       -      yes
manage caller IDs  -       -      yes
override (C6)      -       -      yes
reveal numbers     -       -      yes
=================  ======  =====  =====

"Viewers see, staff run campaigns and manage contacts, admins also manage
recordings, users, caller IDs and overrides." Consent (look-up is a view;
revoking on a parent's behalf and importing a consent file) is part of managing
contacts. Exporting a report with full phone numbers (masked everywhere else,
C18) is an admin's explicit, audited act. Pure data: no I/O, so the route layer
and the tests share one table.
"""

from __future__ import annotations

from enum import StrEnum

from dialer.errors import InputError


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"


class Permission(StrEnum):
    VIEW = "view"
    RUN_CAMPAIGNS = "run campaigns"
    MANAGE_CONTACTS = "manage contacts"
    MANAGE_CONSENT = "manage consent"
    MANAGE_RECORDINGS = "manage recordings"
    MANAGE_USERS = "manage users"
    MANAGE_CALLER_IDS = "manage caller IDs"
    OVERRIDE = "override revocations (C6)"
    REVEAL_NUMBERS = "export full phone numbers (C18)"


_VIEWER = frozenset({Permission.VIEW})
_STAFF = _VIEWER | {
    Permission.RUN_CAMPAIGNS,
    Permission.MANAGE_CONTACTS,
    Permission.MANAGE_CONSENT,
}
_ADMIN = frozenset(Permission)

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.STAFF: frozenset(_STAFF),
    Role.ADMIN: _ADMIN,
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise InputError(
            f"role {text!r} is not one of: {', '.join(r.value for r in Role)}", field="role"
        ) from None
