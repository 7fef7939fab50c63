"""The public parent opt-out page, ``/optout`` (C5, C6, C7), English and Spanish.

A parent types their number, confirms, and the revocation is recorded with
channel ``web`` through the store's one revocation function; it blocks the
next dial attempt of every campaign. The answer is the same whether or not the
number is on any list (the page never looks: it revokes every number it is
given, which also protects a number imported later), so the page tells nobody
who is on a list. Limits: per address per hour and per number (keyed hash)
per day; over a limit the parent is told to call the hotline instead.

``optout_app(ctx)`` serves this page alone, for its own address (a district can
open only that address to the internet).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dialer.consent.model import RevocationChannel
from dialer.errors import DialerError
from dialer.masking import mask_number
from dialer.usecases.consent import parse_number, revoke
from dialer.web.context import WebContext, context
from dialer.web.ui.core import STATIC, address, render_anon, state
from dialer.web.ui.forms import read_form

LANGUAGES = ("en", "es")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Stop automated calls",
        "intro": "Enter the phone number that receives automated calls from {org}. "
        "We will stop calling it with recorded messages.",
        "number": "Phone number",
        "hint": "For example (212) 555-0123",
        "continue": "Continue",
        "confirm_q": "Stop automated calls to {number}?",
        "confirm_note": "After this, only an emergency alert can still reach you, and only "
        "if the district records an override for a real emergency.",
        "confirm": "Yes, stop the calls",
        "back": "Change the number",
        "done_title": "Your request is recorded",
        "done": "If {number} is on our lists, it will not receive automated calls from {org} "
        "any more. This takes effect before the next call.",
        "limited": "Too many requests from here. Please try again later, or call {hotline}.",
        "invalid": "This does not look like a phone number. Please check it and try again.",
        "expired": "This page has expired. Please enter your number again.",
        "other": "Español",
    },
    "es": {
        "title": "Dejar de recibir llamadas automáticas",
        "intro": "Escriba el número de teléfono que recibe llamadas automáticas de {org}. "
        "Dejaremos de llamarlo con mensajes grabados.",
        "number": "Número de teléfono",
        "hint": "Por ejemplo (212) 555-0123",
        "continue": "Continuar",
        "confirm_q": "¿Dejar de llamar a {number}?",
        "confirm_note": "Después de esto, solo una alerta de emergencia podría llegarle, y "
        "solo si el distrito registra una excepción por una emergencia real.",
        "confirm": "Sí, dejar de llamar",
        "back": "Cambiar el número",
        "done_title": "Su solicitud quedó registrada",
        "done": "Si el número {number} está en nuestras listas, ya no recibirá llamadas "
        "automáticas de {org}. Esto se aplica antes de la próxima llamada.",
        "limited": "Demasiadas solicitudes desde aquí. Inténtelo más tarde o llame al {hotline}.",
        "invalid": "Esto no parece un número de teléfono. Revíselo e inténtelo de nuevo.",
        "expired": "Esta página expiró. Escriba su número otra vez.",
        "other": "English",
    },
}


def _lang(request: Request, sent: str = "") -> str:
    chosen = sent or request.query_params.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "es" if accept.startswith("es") else "en"


def _texts(ctx: WebContext, lang: str) -> dict[str, str]:
    org = ctx.settings.organisation
    hotline = org.hotline_number or org.callback_number or ""
    return {
        k: v.replace("{org}", org.name).replace("{hotline}", hotline) for k, v in TEXT[lang].items()
    }


def _show(request: Request, lang: str, step: str, *, status: int = 200, **data: Any) -> Response:
    ctx = context(request)
    defaults: dict[str, Any] = {"error": "", "number_masked": "", "number": ""}
    defaults.update(data)
    return render_anon(
        request,
        "optout.html",
        status=status,
        lang=lang,
        other="es" if lang == "en" else "en",
        t=_texts(ctx, lang),
        step=step,
        **defaults,
    )


async def optout_page(request: Request) -> Response:
    return _show(request, _lang(request), "enter")


async def optout_post(request: Request) -> Response:
    ctx = context(request)
    ui = state(request)
    try:
        async with read_form(request) as form:
            lang = _lang(request, form.get("lang"))
            t = _texts(ctx, lang)
            try:
                ui.guard.check_anon_token(request, form.get("anon_token"))
            except DialerError:
                return _show(request, lang, "enter", status=403, error=t["expired"])
            raw = form.get("number")
            try:
                number = parse_number(ctx.settings, raw)
            except DialerError:
                return _show(request, lang, "enter", status=422, error=t["invalid"])
            if form.get("step") != "confirm":
                return _show(
                    request, lang, "confirm", number=raw, number_masked=mask_number(number)
                )
            number_key = ctx.store.sealer.index(number)  # never the number itself (C18)
            if not (
                ui.optout_per_address.allowed(address(request))
                and ui.optout_per_number.allowed(number_key)
            ):
                return _show(request, lang, "enter", status=429, error=t["limited"])
            ui.optout_per_address.hit(address(request))
            ui.optout_per_number.hit(number_key)
            await revoke(
                ctx.settings,
                ctx.store,
                number,
                RevocationChannel.WEB,
                "parent (web opt-out page)",
                ref="web:optout",
            )
    except DialerError:
        return _show(request, _lang(request), "enter", status=400, error=TEXT["en"]["expired"])
    return _show(request, lang, "done", number_masked=mask_number(number))


routes = [
    Route("/optout", optout_page, methods=["GET"]),
    Route("/optout", optout_post, methods=["POST"]),
]


def optout_app(ctx: WebContext) -> Starlette:
    """The opt-out page alone, for ``web.optout_host``/``web.optout_port``."""
    from starlette.middleware import Middleware

    from dialer.web.ui import _state
    from dialer.web.ui.forms import BodyLimit

    _state(ctx)
    app = Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/optout", 303)),
            *routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(BodyLimit, max_bytes=64 * 1024)],
    )
    app.state.ctx = ctx
    return app
