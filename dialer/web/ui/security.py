"""Sessions, CSRF tokens, one-time forms and roles for the staff console.

* The session cookie holds a random 256-bit token and its HMAC (key in a 0600
  file, ``web.session_key_file``): HttpOnly, SameSite=Strict, Secure over TLS.
  The store keeps only the token's SHA-256 (``store.users``), so logging out,
  disabling the account or the idle/absolute expiry ends it on the server.
* Every form carries the session's CSRF token (compared in constant time) and
  a one-time ``form_id``: a form sent twice (double click, reload, back button)
  is recognised and refused with 409 instead of acting twice.
* Forms shown before a login (the login form, the public opt-out page) carry a
  token bound to a random cookie of their own (double-submit, HMAC-signed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from dialer.accounts.roles import Permission, allows
from dialer.errors import DialerError, InputError
from dialer.model.user import Session, User
from dialer.settings import Settings, read_secret_file, write_secret_file
from dialer.store.store import Store

SESSION_COOKIE = "dialer_session"
ANON_COOKIE = "dialer_form"
#: a form shown before login stays valid this long
ANON_TOKEN_SECONDS = 2 * 3600
#: last_seen_at is written at most this often (one write per minute, not per request)
TOUCH_EVERY = dt.timedelta(seconds=60)


class CsrfError(InputError):
    """A form without this site's token (forged, or from an old page)."""


class SessionExpired(InputError):
    """The session ended (idle, too old, logged out elsewhere, account disabled)."""


class Forbidden(InputError):
    """The user's role does not allow the action."""


class AlreadySubmitted(InputError):
    """The same form was sent before."""

    def __init__(self, message: str, result_url: str) -> None:
        super().__init__(message)
        self.result_url = result_url


def load_or_create_key(path: Path) -> bytes:
    if not path.exists():
        write_secret_file(path, secrets.token_hex(32) + "\n")
    return bytes.fromhex(read_secret_file(path, "web.session_key_file"))


@dataclass
class Guard:
    """Signs cookies and checks sessions, CSRF tokens and roles."""

    key: bytes
    settings: Settings
    store: Store

    @classmethod
    def create(cls, settings: Settings, store: Store) -> Guard:
        return cls(load_or_create_key(settings.web.session_key_file), settings, store)

    # -- signing --------------------------------------------------------------------

    def _sign(self, *parts: str) -> str:
        return hmac.new(self.key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.settings.web.secure_cookies

    # -- sessions -------------------------------------------------------------------

    async def open_session(self, request: Request, response: Response, user: User) -> None:
        token = secrets.token_urlsafe(32)
        await self.store.users.create_session(_sha(token), user, secrets.token_urlsafe(32))
        response.set_cookie(
            SESSION_COOKIE,
            f"{token}.{self._sign('session', token)}",
            max_age=self.settings.web.session_max_hours * 3600,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/",
        )

    def _token(self, request: Request) -> str | None:
        raw = request.cookies.get(SESSION_COOKIE, "")
        token, _, signature = raw.partition(".")
        if not token or not hmac.compare_digest(signature, self._sign("session", token)):
            return None
        return token

    async def session(self, request: Request) -> tuple[Session | None, bool]:
        """(the live session or None, whether a session cookie was presented)."""
        presented = SESSION_COOKIE in request.cookies
        token = self._token(request)
        if token is None:
            return None, presented
        found = await self.store.users.session(_sha(token))
        if found is None or not found.user.active:
            return None, True
        now = self.store.clock()
        web = self.settings.web
        if now - found.last_seen_at > dt.timedelta(
            minutes=web.session_idle_minutes
        ) or now - found.created_at > dt.timedelta(hours=web.session_max_hours):
            await self.store.users.end_session(found.token_sha256)
            return None, True
        if now - found.last_seen_at > TOUCH_EVERY:
            await self.store.users.touch_session(found.token_sha256)
        return found, True

    async def close_session(self, request: Request, response: Response) -> None:
        token = self._token(request)
        if token is not None:
            await self.store.users.end_session(_sha(token))
        response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)

    # -- forms ----------------------------------------------------------------------

    @staticmethod
    def check_csrf(session: Session, sent: str) -> None:
        if not sent or not hmac.compare_digest(sent, session.csrf_token):
            raise CsrfError(
                "This form was not sent from this site's current page (its security token is "
                "missing or wrong). Nothing was changed. Reload the page and try again."
            )

    async def claim_form(self, session: Session, form_id: str) -> None:
        if not form_id or len(form_id) > 64:
            raise CsrfError("This form has no form id; reload the page and try again.")
        earlier = await self.store.users.claim_form(form_id, session.user.id)
        if earlier is not None:
            raise AlreadySubmitted(
                "This form was already sent; it was not carried out a second time.", earlier
            )

    # -- forms before login ------------------------------------------------------------

    def anon_token(self, request: Request) -> tuple[str, str]:
        """(cookie nonce, form token) for a form shown without a session."""
        nonce = request.cookies.get(ANON_COOKIE, "")
        if not nonce or len(nonce) > 64:
            nonce = secrets.token_urlsafe(16)
        issued = str(int(time.time()))
        return nonce, f"{issued}.{self._sign('anon', nonce, issued)}"

    def set_anon_cookie(self, request: Request, response: Response, nonce: str) -> None:
        response.set_cookie(
            ANON_COOKIE,
            nonce,
            max_age=ANON_TOKEN_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/",
        )

    def check_anon_token(self, request: Request, sent: str) -> None:
        nonce = request.cookies.get(ANON_COOKIE, "")
        issued, _, signature = sent.partition(".")
        fresh = issued.isdigit() and 0 <= time.time() - int(issued) <= ANON_TOKEN_SECONDS
        if not (
            nonce and fresh and hmac.compare_digest(signature, self._sign("anon", nonce, issued))
        ):
            raise CsrfError(
                "This form has expired or was not sent from this site. Nothing was changed. "
                "Reload the page and try again."
            )


def require(session: Session, permission: Permission) -> None:
    if not allows(session.user.role, permission):
        raise Forbidden(
            f"Your role ({session.user.role.value}) does not allow this: it needs "
            f"permission to {permission.value}."
        )


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def status_for(exc: DialerError) -> int:
    """The HTTP status a console page answers with for a refused request."""
    from dialer.errors import (
        AudioError,
        CsvError,
        EngineBusyError,
        NotFoundError,
        StaffCallError,
        StateError,
    )
    from dialer.web.ui.forms import UploadTooLarge

    if isinstance(exc, UploadTooLarge):
        return 413
    if isinstance(exc, SessionExpired):
        return 401
    if isinstance(exc, CsrfError | Forbidden):
        return 403
    if isinstance(exc, AlreadySubmitted | StateError | EngineBusyError):
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StaffCallError):
        return 502  # the staff phone (beyond Asterisk) did not take the call
    if isinstance(exc, AudioError | CsvError):
        return 422
    if isinstance(exc, InputError):
        return 422
    return 500
