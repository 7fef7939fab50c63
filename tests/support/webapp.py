"""The web console served for real on loopback, in a background thread.

``WebServer`` opens the production ``Store`` of a settings file, builds the
production app (``dialer.web.app.create_app``, UI included) and serves it with
the same embedded uvicorn server ``dialer serve`` uses, in its own asyncio
loop on a thread, so synchronous code (httpx, Playwright) can talk to it.
No engine: telephony figures are absent, everything else is the real thing.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from typer.testing import CliRunner

from dialer.cli import app as cli_app
from dialer.service.http import HttpServer
from dialer.settings import load_settings
from dialer.store.store import Store
from dialer.web.app import create_app
from dialer.web.context import WebContext

PASSWORD = "correct horse battery"
T = TypeVar("T")
RUNNER = CliRunner()


def dialer(config: Path, *args: str) -> str:
    """Run a ``dialer`` command (typer's CliRunner) on a thread of its own: the CLI
    runs its own asyncio loop, which cannot start where one runs already (pytest-
    asyncio, or Playwright's sync API in the test's thread)."""
    outcome: list[Any] = []
    thread = threading.Thread(
        target=lambda: outcome.append(RUNNER.invoke(cli_app, ["--config", str(config), *args]))
    )
    thread.start()
    thread.join(120)
    result = outcome[0]
    assert result.exit_code == 0, f"dialer {' '.join(args)}:\n{result.output}"
    return str(result.output)


def add_user(config: Path, name: str, role: str) -> None:
    secret = config.parent / f".pw-{name}"
    secret.write_text(PASSWORD)
    os.chmod(secret, 0o600)
    dialer(config, "users", "add", name, "--role", role, "--password-file", str(secret))


class WebServer:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: HttpServer | None = None
        self._store: Store | None = None
        self._clients: list[httpx.Client] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        cfg = load_settings(self.config)
        self._store = await Store.open(cfg.store.path, cfg.store.key_file)
        self._server = HttpServer(create_app(WebContext(cfg, self._store)), "127.0.0.1", 0)
        await self._server.start()
        self.port = self._server.bound_port

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
        if self._store is not None:
            await self._store.close()

    def __enter__(self) -> WebServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients:
            client.close()
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def in_store(self, work: Callable[[Store], Awaitable[T]], timeout: float = 30) -> T:
        """Run ``work(store)`` on the server's loop with its store: what another
        part of the service (the engine) would write while pages are open."""
        assert self._store is not None
        store = self._store
        return asyncio.run_coroutine_threadsafe(work(store), self._loop).result(timeout)

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)
        self._clients.append(client)  # closed with the server
        return client

    def login(self, name: str, password: str = PASSWORD) -> httpx.Client:
        client = self.client()
        token = hidden(client.get("/login").text, "anon_token")
        reply = client.post(
            "/login", data={"name": name, "password": password, "anon_token": token}
        )
        assert reply.status_code == 303, reply.text
        return client


def hidden(html: str, name: str) -> str:
    """The value of the first hidden input named ``name`` in a page."""
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def form_tokens(html: str) -> dict[str, str]:
    return {"csrf_token": hidden(html, "csrf_token"), "form_id": hidden(html, "form_id")}
