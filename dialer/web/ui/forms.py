"""Reading console forms: size limit on the request body, uploads saved under
their own name in a private temporary folder, form fields as plain text.

An oversized upload is refused with 413 while it arrives: ``BodyLimit`` counts
the body as the app reads it, drains what the browser still sends (so it sees
our answer, not a reset connection) and raises ``UploadTooLarge``. Nothing is
written anywhere before a whole, valid file is there.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialer.errors import InputError

#: past the limit, read at most this much more before answering (then the
#: connection is closed: a client sending gigabytes gets no free ride)
DRAIN_FACTOR = 4
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadTooLarge(InputError):
    """The request body is larger than ``web.max_upload_mb``."""


class BodyLimit:
    """ASGI middleware: refuse request bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, shown_mb: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: the limit as the setting states it (the body may also hold other fields)
        self.shown_mb = shown_mb or max(1, max_bytes // 2**20)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, shown_mb = self.max_bytes, self.shown_mb
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    more = message.get("more_body", False)
                    while more and seen < limit * DRAIN_FACTOR:
                        rest = await receive()
                        seen += len(rest.get("body", b""))
                        more = rest.get("more_body", False)
                    raise UploadTooLarge(
                        f"The file is larger than the {shown_mb} MB limit "
                        "(web.max_upload_mb); nothing was saved.",
                        field="file",
                    )
            return message

        await self.app(scope, limited, send)


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, Path]
    names: dict[str, str]  # field -> the file's name on the user's computer

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default).strip()

    def flag(self, key: str) -> bool:
        return self.fields.get(key, "") in ("on", "true", "1", "yes")


def safe_name(name: str) -> str:
    base = _UNSAFE.sub("_", Path(name or "upload").name).strip("._") or "upload"
    return base[-100:]


@asynccontextmanager
async def read_form(request: Request) -> AsyncIterator[Form]:
    """The form's fields and files; files live in a private folder removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="dialer-upload-"))
    try:
        async with request.form(max_files=4, max_fields=64) as raw:
            fields: dict[str, str] = {}
            files: dict[str, Path] = {}
            names: dict[str, str] = {}
            for key, value in raw.multi_items():
                if isinstance(value, UploadFile):
                    if not value.filename:
                        continue
                    dest = tmp / key
                    dest.mkdir(exist_ok=True)
                    path = dest / safe_name(value.filename)
                    with path.open("wb") as out:
                        while chunk := await value.read(1 << 20):
                            out.write(chunk)
                    files[key] = path
                    names[key] = value.filename
                else:
                    fields[key] = str(value)
        yield Form(fields, files, names)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
