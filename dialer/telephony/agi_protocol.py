"""The AGI wire protocol as pure functions: no sockets, no asyncio.

Asterisk's side of a FastAGI connection (res_agi.c, ``setup_env`` and
``run_agi``; https://docs.asterisk.org/Configuration/Interfaces/AGI/):

1. Asterisk connects and sends the *environment block*: lines
   ``agi_<name>: <value>\\n`` (``agi_request``, ``agi_channel``, ...,
   ``agi_network_script``, ``agi_arg_1`` ... ``agi_arg_N``), then one empty line.
2. From then on the script sends one command line (``STREAM FILE "x" "9"\\n``)
   and Asterisk answers it with exactly one reply:

   - ``200 result=<r> [(<data>)] [endpos=<n>] [<text>]``  success;
     ``<r>`` is usually an integer, but GET DATA puts the digits typed there
     and it may be empty: ``200 result= (timeout)``;
   - ``510 Invalid or unknown command``;
   - ``511 Command Not Permitted on a dead channel``;
   - ``520 Invalid command syntax.  Proper usage not available.`` or the
     multi-line form ``520-Invalid command syntax.  Proper usage follows:``,
     usage text lines, ``520 End of proper usage.`` (the usage text does not
     always end with a newline, so the end marker can be glued to its last line);
   - ``503 result=-2 Memory allocation failure``;
   - ``100 result=0 Trying...`` is *not* a reply: GOSUB sends it before the
     real ``200`` line, so it is skipped.
3. ``HANGUP\\n`` is sent unsolicited when the channel hangs up (unless the
   channel variable AGISIGHUP=no). It is not a reply: the reply to the command
   in flight still follows it. Treating it as a reply shifts every later reply
   by one (panoramisk's bug, DESIGN.md "AMI and AGI facts").

Command arguments are split by Asterisk's ``parse_args``: whitespace separates
words, double quotes group, a backslash makes the next character literal. A
command line ends at ``\\n`` and Asterisk reads at most 2048 bytes of it
(``AGI_BUF_LEN``), so arguments with newlines or over-long lines are refused.

Every parser here accepts any input and raises only :class:`AgiProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dialer.errors import TelephonyError

__all__ = [
    "MAX_COMMAND_BYTES",
    "MAX_ENV_BYTES",
    "MAX_ENV_LINES",
    "AgiEnvironment",
    "AgiProtocolError",
    "AgiReply",
    "HangupNotice",
    "ReplyAssembler",
    "build_command",
    "decode_line",
    "environment_from_pairs",
    "parse_env_line",
    "parse_environment",
    "parse_reply_line",
    "quote_arg",
    "split_command",
]

#: res_agi.c reads a command into ``char buf[AGI_BUF_LEN]`` (2048) including "\n" and NUL
MAX_COMMAND_BYTES = 2046
#: Asterisk sends ~25 variables plus the arguments (at most 127); anything far
#: beyond that is not Asterisk
MAX_ENV_LINES = 512
#: the whole environment block in bytes. Asterisk's is ~1 KiB (variables of at
#: most 80-odd characters, arguments from one dialplan line); without a bound,
#: 512 lines of 16 KiB let 20 connections hold 170 MB (issue 8 item 1)
MAX_ENV_BYTES = 32 * 1024
#: a ``result=`` token longer than this is not Asterisk (GET DATA's digits fill
#: at most its 1024-byte buffer, res_agi.c handle_getdata)
MAX_RESULT_CHARS = 1024
#: digits of a number we read as an integer (result codes, endpos: 64-bit
#: sample offsets). Python refuses to parse > 4300 digits at all (ValueError),
#: which once killed a session's reader task.
MAX_INT_DIGITS = 19

HANGUP_LINE = "HANGUP"


class AgiProtocolError(TelephonyError):
    """The peer does not speak AGI, or a command cannot be expressed in it."""


# ---------------------------------------------------------------- decoding


def decode_line(data: bytes | str) -> str:
    """One wire line as text, without its line ending.

    Asterisk passes channel data (caller names, variables) through unchanged,
    so the bytes are usually UTF-8 but need not be: undecodable bytes become
    U+FFFD instead of failing the call.
    """
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return text.rstrip("\r\n")


# ------------------------------------------------------------- environment


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` variables Asterisk sent when the session began.

    Missing variables are empty strings. ``raw`` keeps every variable by its
    name without the ``agi_`` prefix. Caller-ID fields are left out of
    ``repr`` so that logging a session never writes a phone number (C18).
    """

    network_script: str = ""
    args: tuple[str, ...] = ()
    request: str = ""
    channel: str = ""
    uniqueid: str = ""
    language: str = ""
    type: str = ""
    context: str = ""
    extension: str = ""
    priority: str = ""
    accountcode: str = ""
    version: str = ""
    callerid: str = field(default="", repr=False)
    calleridname: str = field(default="", repr=False)
    dnid: str = field(default="", repr=False)
    rdnis: str = field(default="", repr=False)
    raw: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    @property
    def call_id(self) -> str | None:
        """The dialer's call id: the first AGI argument (``AGI(...,${CALL_ID})``)."""
        return self.args[0] if self.args and self.args[0] else None

    def get(self, name: str, default: str = "") -> str:
        """Any variable by name, with or without the ``agi_`` prefix."""
        return self.raw.get(name.removeprefix("agi_"), default)


def parse_env_line(line: bytes | str) -> tuple[str, str] | None:
    """Parse one environment line; ``None`` for the blank line that ends the block.

    The name loses its ``agi_`` prefix; the value keeps inner spaces. Raises
    :class:`AgiProtocolError` for a line that is not ``agi_<name>: <value>``.
    """
    text = decode_line(line)
    if not text.strip():
        return None
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name.startswith("agi_") or len(name) <= len("agi_"):
        raise AgiProtocolError(f"not an AGI environment line: {_clip(text)!r}")
    # Asterisk writes exactly one space after the colon; values may start with more
    return name[len("agi_") :], value[1:] if value.startswith(" ") else value


def environment_from_pairs(pairs: Iterable[tuple[str, str]]) -> AgiEnvironment:
    """Build the environment from ``(name, value)`` pairs (names without ``agi_``)."""
    raw: dict[str, str] = {}
    for name, value in pairs:
        raw[name] = value
    args: list[str] = []
    # agi_arg_1..N are consecutive; stop at the first gap
    while f"arg_{len(args) + 1}" in raw:
        args.append(raw[f"arg_{len(args) + 1}"])
    return AgiEnvironment(
        network_script=raw.get("network_script", "").strip("/"),
        args=tuple(args),
        request=raw.get("request", ""),
        channel=raw.get("channel", ""),
        uniqueid=raw.get("uniqueid", ""),
        language=raw.get("language", ""),
        type=raw.get("type", ""),
        context=raw.get("context", ""),
        extension=raw.get("extension", ""),
        priority=raw.get("priority", ""),
        accountcode=raw.get("accountcode", ""),
        version=raw.get("version", ""),
        callerid=raw.get("callerid", ""),
        calleridname=raw.get("calleridname", ""),
        dnid=raw.get("dnid", ""),
        rdnis=raw.get("rdnis", ""),
        raw=MappingProxyType(raw),
    )


def parse_environment(block: bytes | str) -> AgiEnvironment:
    """Parse a whole environment block (as read from the socket).

    Parsing stops at the first blank line; a block without one is incomplete
    and refused. Accepts ``\\n`` and ``\\r\\n`` line endings.
    """
    text = block if isinstance(block, str) else block.decode("utf-8", errors="replace")
    pairs: list[tuple[str, str]] = []
    size = 0
    # the last piece after the final "\n" is an unterminated line: never the end
    for line in text.split("\n")[:-1]:
        if len(pairs) > MAX_ENV_LINES:
            raise AgiProtocolError(f"AGI environment has more than {MAX_ENV_LINES} lines")
        size += len(line.encode("utf-8", errors="replace")) + 1
        if size > MAX_ENV_BYTES:
            raise AgiProtocolError(f"AGI environment is larger than {MAX_ENV_BYTES} bytes")
        pair = parse_env_line(line)
        if pair is None:
            return environment_from_pairs(pairs)
        pairs.append(pair)
    raise AgiProtocolError("AGI environment block is not terminated by a blank line")


# ------------------------------------------------------------------ replies


@dataclass(frozen=True)
class AgiReply:
    """One reply from Asterisk to one command.

    ``result`` is the integer after ``result=`` (``None`` when absent or not an
    integer); ``result_text`` is that token verbatim (GET DATA's digits, which
    may have leading zeros or be empty). ``data`` is the text in parentheses,
    ``endpos`` the playback offset, ``message`` any remaining text (error
    descriptions, 520 usage text).
    """

    code: int
    result: int | None = None
    data: str | None = None
    endpos: int | None = None
    result_text: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def dead_channel(self) -> bool:
        """511: the channel hung up and this command needs a live one."""
        return self.code == 511


@dataclass(frozen=True)
class HangupNotice:
    """The unsolicited ``HANGUP`` line: the channel is gone; not a reply."""


_REPLY_200 = re.compile(
    r"""^200\ result=(?P<result>\S*)
        (?:\ \((?P<data>.*)\))?
        (?:\ endpos=(?P<endpos>-?\d+))?
        (?P<rest>.*)$""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"-?\d+")
_CODE = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -]|$)(?P<rest>.*)$", re.DOTALL)


def _to_int(token: str | None, what: str = "number") -> int | None:
    """An integer token; None when it is not one. Raises AgiProtocolError for a
    number longer than any Asterisk writes (never a bare ValueError)."""
    if token is None or not _INT.fullmatch(token):
        return None
    if len(token.lstrip("-")) > MAX_INT_DIGITS:
        raise AgiProtocolError(f"AGI reply {what} has {len(token)} digits: not Asterisk")
    return int(token)


def _result_int(token: str) -> int | None:
    """``result=``: an integer code, or GET DATA's digits (kept in result_text only)."""
    if len(token) > MAX_RESULT_CHARS:
        raise AgiProtocolError(f"AGI reply result has {len(token)} characters: not Asterisk")
    if _INT.fullmatch(token) and len(token.lstrip("-")) > MAX_INT_DIGITS:
        return None  # many digits typed into GET DATA: text, not a code
    return _to_int(token, "result")


def parse_reply_line(line: bytes | str) -> AgiReply:
    """Parse one single-line reply (not HANGUP, not a 520 continuation).

    Raises :class:`AgiProtocolError` for anything that is not ``NNN ...``.
    """
    text = decode_line(line)
    if text.startswith("200 result="):
        m = _REPLY_200.match(text)
        if m is None:  # pragma: no cover - the pattern matches every such line
            raise AgiProtocolError(f"unreadable AGI reply: {_clip(text)!r}")
        data = m.group("data")
        endpos = _to_int(m.group("endpos"), "endpos")
        return AgiReply(
            code=200,
            result=_result_int(m.group("result")),
            data=data,
            endpos=endpos,
            result_text=m.group("result"),
            message=m.group("rest").strip(),
        )
    m = _CODE.match(text)
    if m is None:
        raise AgiProtocolError(f"not an AGI reply: {_clip(text)!r}")
    rest = m.group("rest")
    result = None
    if rest.startswith("result="):
        token, _, rest = rest.partition(" ")
        result = _result_int(token[len("result=") :])
    return AgiReply(code=int(m.group("code")), result=result, message=rest.strip())


class ReplyAssembler:
    """Turns reply lines into replies, one line at a time (no I/O).

    ``feed`` returns an :class:`AgiReply` when a reply is complete, a
    :class:`HangupNotice` for the unsolicited HANGUP line, or ``None`` while a
    multi-line 520 reply or a ``100 Trying`` is still in progress.
    """

    #: a 520 usage text longer than this is not Asterisk
    MAX_USAGE_LINES = 500

    def __init__(self) -> None:
        self._usage: list[str] | None = None

    @property
    def in_progress(self) -> bool:
        return self._usage is not None

    def feed(self, line: bytes | str) -> AgiReply | HangupNotice | None:
        text = decode_line(line)
        if text.strip() == HANGUP_LINE:
            return HangupNotice()
        if self._usage is not None:
            end = text.find("520 End of proper usage.")
            if text.startswith("520 ") or end >= 0:
                if end > 0:
                    self._usage.append(text[:end])
                usage = "\n".join(self._usage).strip()
                self._usage = None
                return AgiReply(code=520, message=usage)
            if len(self._usage) >= self.MAX_USAGE_LINES:
                self._usage = None
                raise AgiProtocolError("AGI 520 usage text never ends")
            self._usage.append(text)
            return None
        if text.startswith("520-"):
            self._usage = []
            return None
        if not text.strip():
            # Asterisk never sends blank lines between replies; tolerate them
            return None
        reply = parse_reply_line(text)
        if reply.code == 100:
            return None
        return reply


# ----------------------------------------------------------------- commands


def quote_arg(value: str | int) -> str:
    """One command argument, double-quoted for Asterisk's ``parse_args``.

    Integers are written bare. Backslash and double quote are escaped with a
    backslash. Newlines, carriage returns and NUL cannot be carried on a
    command line and are refused.
    """
    if isinstance(value, bool):
        raise AgiProtocolError("AGI argument must be text or an integer, not a bool")
    if isinstance(value, int):
        return str(value)
    if any(ch in value for ch in "\r\n\x00"):
        raise AgiProtocolError(f"AGI argument contains a line break or NUL: {_clip(value)!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no bytes can carry it
        raise AgiProtocolError(f"AGI argument is not valid text: {_clip(value)!r}") from exc
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_VERB = re.compile(r"[A-Za-z][A-Za-z ]*[A-Za-z]|[A-Za-z]")


def build_command(verb: str, *args: str | int) -> str:
    """A complete command line without its newline: ``STREAM FILE "beep" "9"``.

    ``verb`` is the command's fixed words (letters and single spaces).
    """
    if not _VERB.fullmatch(verb) or "  " in verb:
        raise AgiProtocolError(f"not an AGI command verb: {_clip(verb)!r}")
    line = " ".join([verb.upper(), *(quote_arg(a) for a in args)])
    if len(line.encode("utf-8")) > MAX_COMMAND_BYTES:
        raise AgiProtocolError(
            f"AGI command {verb.upper()} is longer than {MAX_COMMAND_BYTES} bytes"
        )
    return line


def split_command(line: str) -> list[str]:
    """Split a command line the way Asterisk's ``parse_args`` (res_agi.c) does.

    Used by tests to prove that :func:`build_command` round-trips, and by the
    test peer that plays Asterisk's side of the wire.
    """
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
            continue
        if ch in " \t" and not quoted and not escaped:
            if current is not None:
                words.append("".join(current))
                current = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
        current.append(ch)
        escaped = False
    if current is not None:
        words.append("".join(current))
    return words


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
