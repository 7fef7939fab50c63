"""A raw-socket FastAGI peer that writes and reads the exact bytes res_agi.c does.

Not a mock: the byte stream *is* the FastAGI wire protocol, so the server runs
the same code path as with a real Asterisk, including misbehaviour a real
Asterisk cannot be made to produce on demand (garbage, stalls, forged replies).
"""

from __future__ import annotations

import asyncio
import contextlib

from dialer.telephony.agi_protocol import split_command

CALLER = "+12025550123"


class AsteriskPeer:
    """Plays Asterisk's side of one FastAGI connection, byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> AsteriskPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send_env(
        self, script: str = "broadcast", args: tuple[str, ...] = ("call-1",), extra: bytes = b""
    ) -> None:
        lines = [
            "agi_network: yes",
            f"agi_network_script: {script}",
            f"agi_request: agi://127.0.0.1/{script}",
            "agi_channel: Local/dial@dialer-outbound-00000001;1",
            "agi_language: en",
            "agi_uniqueid: call-1",
            f"agi_callerid: {CALLER}",
            "agi_calleridname: Parent",
            *(f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)),
        ]
        self.writer.write("\n".join(lines).encode() + b"\n" + extra + b"\n")
        await self.writer.drain()

    async def expect(self, within: float = 5.0) -> list[str]:
        """The next command, split the way Asterisk's parse_args splits it."""
        line = await asyncio.wait_for(self.reader.readline(), within)
        assert line.endswith(b"\n"), f"connection ended instead of a command: {line!r}"
        return split_command(line.decode().rstrip("\n"))

    async def reply(self, *lines: str) -> None:
        self.writer.write("".join(line + "\n" for line in lines).encode())
        await self.writer.drain()

    async def expect_closed(self, within: float = 5.0) -> None:
        data = await asyncio.wait_for(self.reader.read(), within)
        assert data == b"", f"expected the server to close, got {data!r}"

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
