"""Webhooks from outside services: ``POST /sms/inbound`` (SMS replies, C5).

An SMS provider posts each inbound message as a form (``From``, ``Body``,
``MessageSid``: the fields Twilio and compatible providers send). Before
anything is recorded the request must prove it comes from the provider:

* ``[sms] webhook_auth = "twilio"``: the ``X-Twilio-Signature`` header is
  base64(HMAC-SHA1(auth token, URL + every form field's name and value,
  sorted by name)), as Twilio documents for its request validation. The URL
  is the one the provider called: ``[sms] public_url`` when a reverse proxy
  sits in front, else the URL this server saw.
* ``[sms] webhook_auth = "shared-secret"``: the ``X-Dialer-Webhook-Secret``
  header equals the secret (providers that can only add a fixed header).

The auth token / secret lives in ``[sms] auth_token_file`` (0600, C18). A
request that does not verify gets 403 and nothing is recorded; a malformed
body or a missing field gets 400 naming it. A verified STOP ends in
``dialer.sms.handle_inbound_sms``: the same revocation function as every
other channel (C5, contract 5), committed before the 200 goes out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dialer.errors import ConfigError, InputError
from dialer.settings import Settings, read_secret_file
from dialer.sms import handle_inbound_sms
from dialer.web.context import context

log = structlog.get_logger("dialer.webhooks")

#: an SMS webhook form is a few hundred bytes; a 1600-character message fits easily
MAX_FORM_BYTES = 64 * 1024
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signature(token: str, url: str, fields: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature for a form POST: URL + sorted name/value pairs."""
    payload = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _secret(settings: Settings) -> str:
    sms = settings.sms
    if sms.webhook_auth not in ("twilio", "shared-secret"):
        raise ConfigError(
            'the SMS webhook is off: set [sms] webhook_auth = "twilio" or '
            '"shared-secret" and auth_token_file in dialer.toml'
        )
    return read_secret_file(sms.auth_token_file, "sms.auth_token_file")


def _parse_form(raw: bytes) -> list[tuple[str, str]]:
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the SMS webhook body is not a URL-encoded form: {exc}") from exc


def _verified(
    request: Request, settings: Settings, secret: str, fields: list[tuple[str, str]]
) -> bool:
    if settings.sms.webhook_auth == "shared-secret":
        given = request.headers.get("x-dialer-webhook-secret", "")
        return hmac.compare_digest(given.encode(), secret.encode())
    given = request.headers.get("x-twilio-signature", "")
    url = settings.sms.public_url or str(request.url)
    return hmac.compare_digest(given.encode(), twilio_signature(secret, url, fields).encode())


async def sms_inbound(request: Request) -> Response:
    ctx = context(request)
    try:
        secret = _secret(ctx.settings)
    except ConfigError as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return JSONResponse({"error": f"form larger than {MAX_FORM_BYTES} bytes"}, status_code=413)
    fields = _parse_form(raw)
    if not _verified(request, ctx.settings, secret, fields):
        # nothing is recorded: not even the sender of a forged request
        log.warning(
            "sms webhook signature did not verify",
            client=request.client.host if request.client else None,
        )
        return JSONResponse({"error": "signature does not verify"}, status_code=403)
    form = dict(fields)
    missing = [name for name in ("From", "Body", "MessageSid") if name not in form]
    if missing:
        raise InputError(f"the SMS webhook form lacks {', '.join(missing)}")
    result = await handle_inbound_sms(
        ctx.store,
        form["From"],
        form["Body"],
        form["MessageSid"],
        default_region=ctx.settings.organisation.default_region,
    )
    if ctx.settings.sms.webhook_auth == "twilio":
        return Response(TWIML_EMPTY, media_type="text/xml")
    return JSONResponse(result.to_json())


routes = [Route("/sms/inbound", sms_inbound, methods=["POST"])]
