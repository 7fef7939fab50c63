"""API tokens: how scripts and other systems call the JSON API as a user.

``dialer users token NAME`` creates one: ``dlr_`` and 43 characters of a
256-bit random value (``secrets.token_urlsafe(32)``), shown once and never
again; the store keeps only its SHA-256. The token acts with its account's
role (viewer reads, staff controls campaigns), so every change it makes is
audited with the account's name; disabling the account, or ``dialer users
token NAME --revoke``, ends it at once. A token also stops working
``web.api_token_days`` (365) days after its creation; ``dialer users tokens``
lists every token with its state and expiry (never the token itself).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from dialer.errors import InputError
from dialer.model.api_token import ApiToken
from dialer.model.user import User
from dialer.store.store import Store

PREFIX = "dlr_"
#: a token is PREFIX + token_urlsafe(32): 43 characters of base64url
_TOKEN_LENGTH = len(PREFIX) + 43
MAX_LABEL = 100


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    """A cheap shape check before any database look-up."""
    return (
        len(token) == _TOKEN_LENGTH
        and hmac.compare_digest(token[: len(PREFIX)], PREFIX)
        and all(c.isalnum() or c in "-_" for c in token[len(PREFIX) :])
    )


async def create_token(store: Store, name: str, *, label: str, by: str) -> tuple[str, ApiToken]:
    """(the token, shown once; its record). Refused for a disabled account."""
    if len(label) > MAX_LABEL:
        raise InputError(f"--label has more than {MAX_LABEL} characters", field="label")
    user = await store.users.get(name)
    if not user.active:
        raise InputError(f"user {name!r} is disabled; enable a working account for API use")
    token = PREFIX + secrets.token_urlsafe(32)
    record = await store.tokens.add(user, token_sha256(token), label.strip(), by)
    return token, record


async def revoke_tokens(store: Store, name: str, *, by: str) -> int:
    return await store.tokens.revoke_all(await store.users.get(name), by)


async def user_for_token(store: Store, token: str, *, days: int) -> User | None:
    """The active account of a live token, or None (unknown, revoked, expired, disabled).

    ``days``: ``web.api_token_days``, how long a token works after its creation.
    """
    if not looks_like_token(token):
        return None
    oldest = store.clock() - dt.timedelta(days=days)
    return await store.tokens.user_for(token_sha256(token), oldest)


async def list_tokens(store: Store, name: str | None = None) -> list[ApiToken]:
    """Every token (of ``name`` only, when given; an unknown name is refused)."""
    if name is None:
        return await store.tokens.all()
    await store.users.get(name)  # NotFoundError names it
    return await store.tokens.of_user(name)
