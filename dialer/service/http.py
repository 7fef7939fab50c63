"""uvicorn serving the ASGI app inside the service's own asyncio loop.

uvicorn normally owns the process: it installs its own SIGINT/SIGTERM handlers
and calls ``sys.exit`` when it cannot bind. Here the service owns signals (a
SIGTERM must drain calls first, not stop the HTTP server), so the server is a
subclass that captures no signals, and the listening socket is bound by us
first, so a port in use is one clear ``HttpServerError`` before any call is
placed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Generator

import structlog
import uvicorn
from starlette.types import ASGIApp

from dialer.errors import HttpServerError

log = structlog.get_logger("dialer.http")


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the service handles SIGTERM/SIGINT itself


def bind(host: str, port: int) -> socket.socket:
    """Listen on host:port now, with a clear error naming the [http] setting."""
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HttpServerError(f"HTTP address {host!r} ([http] host) is unknown: {exc}") from exc
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            msg = f"HTTP port {where} is already in use (set [http] port in dialer.toml)"
        elif exc.errno == errno.EACCES:
            msg = f"no permission to listen on HTTP port {where} ([http] port)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            msg = f"HTTP address {where} is not an address of this machine ([http] host)"
        else:
            msg = f"cannot listen on HTTP port {where}: {exc.strerror or exc}"
        raise HttpServerError(msg) from exc
    sock.setblocking(False)
    return sock


class HttpServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def bound_port(self) -> int:
        if self._socket is None:
            raise HttpServerError("HTTP server is not running")
        port: int = self._socket.getsockname()[1]
        return port

    async def start(self) -> None:
        self._socket = bind(self.host, self.port)
        config = uvicorn.Config(
            self.app,
            log_config=None,  # our structlog setup stays in charge
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise HttpServerError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("http.listening", host=self.host, port=self.bound_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
