"""``GET /healthz``: is this service able to place calls right now?

200 with ``"status": "ok"`` only when the store answers, the FastAGI server
listens, and every configured Asterisk server's AMI link is up; otherwise 503
with the same JSON naming the part that is not ready (a load balancer or
systemd watchdog reads the status code, staff read the body).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dialer.errors import DialerError
from dialer.web.context import context


async def _store_ok(request: Request) -> dict[str, Any]:
    ctx = context(request)
    started = time.perf_counter()
    try:
        await ctx.store.db.ping()
    except DialerError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def healthz(request: Request) -> JSONResponse:
    ctx = context(request)
    components: dict[str, Any] = {"store": await _store_ok(request)}
    if ctx.engine is None:
        components["engine"] = {"ok": False, "error": "no engine runs in this process"}
    else:
        components.update(ctx.engine.components())
    ready = all(_ok(part) for part in components.values())
    body = {"status": "ok" if ready else "unavailable", "components": components}
    return JSONResponse(body, status_code=200 if ready else 503)


def _ok(part: Any) -> bool:
    if isinstance(part, list):
        return bool(part) and all(_ok(p) for p in part)
    return isinstance(part, dict) and bool(part.get("ok"))


routes = [Route("/healthz", healthz, methods=["GET"])]
