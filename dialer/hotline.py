"""The inbound opt-out hotline (COMPLIANCE.md C5): logic behind a tiny AGI protocol.

Asterisk runs ``agi_scripts/optout_hotline.py`` as a classic AGI program for
every call to the hotline (``[dialer-hotline]`` in asterisk_conf/extensions.conf).
That script only calls :func:`main`; everything else is here, and the call flow
(:func:`run_hotline`) talks to Asterisk only through :class:`AgiChannel`, so it
runs the same against pyst2 and against a scripted channel in tests.

Call flow::

    ANSWER
    caller ID missing / anonymous / not a valid number
        -> hotline-no-callerid, HANGUP                    (no revocation)
    caller-ID attestation read (STIR_SHAKEN function: "A-verified" ... "none")
    hotline-welcome          (any key stops it; "1" already confirms)
    hotline-press-1-confirm  (any key stops it), then WAIT FOR DIGIT
        other key -> hotline-invalid, ask again; nothing -> ask again;
        after ``tries`` questions -> goodbye, HANGUP      (no revocation)
    "1" -> Store.revoke_durably(number, HOTLINE, source_ref=agi_uniqueid,
                                attestation=...)
           DURABLE, and only then hotline-done, HANGUP    (C5, like C10)

Trust in caller ID (issue 8 item 7): anyone can send any caller ID, so a
hotline revocation records how far the trunk vouched for it. Asterisk's
res_stir_shaken verifies an incoming call's SIP Identity header and exposes
the result through the ``STIR_SHAKEN`` dialplan function
(docs.asterisk.org, Dialplan_Functions/STIR_SHAKEN: ``count``, then per
identity ``attestation`` A/B/C and ``verify_result`` "success" or a failure
code). Only "A-verified" (the carrier vouches that the caller may use the
number) counts as attested; the others are listed by ``dialer contacts
review`` and counted in the C20 report. The revocation is honoured either
way: an opt-out is the safe direction (C5).

``Playback()`` would swallow the keypress (DESIGN.md), so prompts are played
with ``STREAM FILE`` and escape digits, then ``WAIT FOR DIGIT``.

A classic AGI program's stdout *is* the AGI command channel: nothing but AGI
commands may be written there. Logs go to stderr (Asterisk's console log),
masked (C18); pyst2's own debug chatter, which prints the caller's number,
is discarded. Any failure -> an apology, HANGUP, a non-zero exit code, never a
traceback on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

from dialer.audio import prompts as prompt_names
from dialer.consent.model import RevocationChannel
from dialer.errors import DialerError, NotFoundError, NumberError, TelephonyError
from dialer.log import configure_logging
from dialer.masking import mask_number
from dialer.model.consents import ATTESTED, NO_ATTESTATION
from dialer.numbers import normalise
from dialer.settings import Settings, config_path, load_settings
from dialer.store.store import Store

log = structlog.get_logger("dialer.hotline")

#: every key a caller can press: any of them interrupts a prompt (then we judge it)
ANY_KEY = "0123456789*#"
CONFIRM_KEY = "1"
#: how long to wait for a key after the question has been asked
DIGIT_TIMEOUT_MS = 6000
#: how many times the question is asked before we give up without revoking
DEFAULT_TRIES = 2
#: ``agi_callerid`` values that mean "no caller ID" (Asterisk, SIP trunks, carriers)
ANONYMOUS_CALLER_IDS = frozenset(
    {"", "unknown", "anonymous", "restricted", "private", "unavailable", "withheld", "<unknown>"}
)
#: Asterisk's core sounds (asterisk-core-sounds-*): the apology when no
#: ``hotline-error`` prompt is installed. Relative names: Asterisk picks the
#: channel's language.
CORE_APOLOGY = ("im-sorry", "please-try-call-later")
HOTLINE_ERROR = "hotline-error"
RECORDED_BY = "hotline"
#: identities looked at on one call (a trunk adds one, rarely two)
MAX_IDENTITIES = 4


class CallerHangup(TelephonyError):
    """The caller hung up (a normal end of a hotline call, not a failure)."""


class AgiChannel(Protocol):
    """The few AGI commands the hotline needs. Implementations raise
    :class:`CallerHangup` when the channel is gone and :class:`TelephonyError`
    when Asterisk misbehaves."""

    @property
    def env(self) -> Mapping[str, str]: ...

    def answer(self) -> None: ...

    def stream_file(self, stem: str, escape_digits: str = "") -> str:
        """Play a sound file (no extension); the key that stopped it, or ``""``."""
        ...

    def wait_for_digit(self, timeout_ms: int) -> str:
        """The key pressed within ``timeout_ms``, or ``""``."""
        ...

    def get_variable(self, name: str) -> str:
        """A channel variable or dialplan function's value; ``""`` when unset."""
        ...

    def hangup(self) -> None: ...


class Revoker(Protocol):
    """Records a hotline revocation; returns what to log ("revocation 12") once
    it is DURABLE (in the store, or in the fsynced revocation journal)."""

    def __call__(self, number: str, source_ref: str, attestation: str) -> str: ...


class HotlineOutcome(StrEnum):
    REVOKED = "revoked"
    NO_CALLER_ID = "no-caller-id"
    NOT_CONFIRMED = "not-confirmed"
    HUNG_UP = "hung-up"
    FAILED = "failed"


@dataclass(frozen=True)
class HotlineResult:
    outcome: HotlineOutcome
    #: "revocation 12", or the journal entry while the store was unavailable
    revocation: str | None = None
    #: masked caller number (C18), empty when there was none
    number: str = ""
    detail: str = ""
    #: process exit code for the AGI script
    exit_code: int = 0


@dataclass(frozen=True)
class HotlinePrompts:
    """Sound files (absolute stems, no extension, or core sound names)."""

    welcome: str
    confirm: str
    done: str
    no_caller_id: str
    invalid: str
    goodbye: str
    apology: tuple[str, ...] = CORE_APOLOGY


# -- pure helpers ---------------------------------------------------------------------


def caller_number(env: Mapping[str, str], default_region: str) -> str | None:
    """The caller's E.164 number from the AGI environment, or None when there is
    none we can trust to revoke (missing, anonymous, or not a valid number)."""
    raw = env.get("agi_callerid", "").strip()
    if raw.lower() in ANONYMOUS_CALLER_IDS:
        return None
    try:
        return normalise(raw, default_region)
    except NumberError:
        return None


def caller_attestation(read: Callable[[str], str]) -> str:
    """How far the trunk vouched for this call's caller ID (see the module docstring).

    ``read`` returns a dialplan function's value (AGI GET VARIABLE). The best
    verified identity wins ("A-verified" over "B-verified"); with identities
    but none verified, the first failure ("failed:invalid_or_no_attest");
    with none at all, or without res_stir_shaken, "none".
    """
    count = read("STIR_SHAKEN(count)").strip()
    if not count.isdigit() or int(count) == 0:
        return NO_ATTESTATION
    best = ""
    failures: list[str] = []
    for index in range(min(int(count), MAX_IDENTITIES)):
        result = read(f"STIR_SHAKEN({index},verify_result)").strip().lower()
        level = read(f"STIR_SHAKEN({index},attestation)").strip().upper()[:1]
        if result == "success" and level in ("A", "B", "C"):
            best = min(best or level, level)
        else:
            failures.append("".join(ch for ch in result if ch.isalnum() or ch in "_-")[:40])
    if best:
        return f"{best}-verified"
    return f"failed:{failures[0] or 'unknown'}"


def is_attested(attestation: str | None) -> bool:
    """True only for a fully attested, verified caller ID (STIR/SHAKEN "A")."""
    return attestation == ATTESTED


def resolve_prompts(
    language: str, *, sounds_dir: Path | None, default_language: str
) -> HotlinePrompts:
    """The hotline prompts for ``language``: operator overrides
    (``<sounds_dir>/prompt-overrides``, as the engine uses) first, then the
    shipped set; a missing language falls back to the default language."""
    library = prompt_names.prompt_library(
        override_dir=sounds_dir / "prompt-overrides" if sounds_dir else None,
        default_language=default_language,
    )

    def stem(name: str) -> str:
        return str(library.resolve(name, language).stem)

    try:
        apology: tuple[str, ...] = (stem(HOTLINE_ERROR),)
    except NotFoundError:
        apology = CORE_APOLOGY
    return HotlinePrompts(
        welcome=stem(prompt_names.HOTLINE_WELCOME),
        confirm=stem(prompt_names.HOTLINE_PRESS_1_CONFIRM),
        done=stem(prompt_names.HOTLINE_DONE),
        no_caller_id=stem(prompt_names.HOTLINE_NO_CALLERID),
        invalid=stem(prompt_names.HOTLINE_INVALID),
        goodbye=stem(prompt_names.GOODBYE),
        apology=apology,
    )


# -- the call flow -------------------------------------------------------------------------


def run_hotline(
    agi: AgiChannel,
    revoke: Revoker,
    prompts: HotlinePrompts,
    *,
    default_region: str,
    tries: int = DEFAULT_TRIES,
    digit_timeout_ms: int = DIGIT_TIMEOUT_MS,
) -> HotlineResult:
    """One hotline call, start to hangup. Never raises for a caller's hangup or a
    store failure: the result says what happened (and the exit code to use)."""
    source_ref = agi.env.get("agi_uniqueid", "")
    number: str | None = None
    masked = ""
    revocation: str | None = None
    try:
        agi.answer()
        number = caller_number(agi.env, default_region)
        if number is None:
            log.info("hotline.no_caller_id", uniqueid=source_ref)
            agi.stream_file(prompts.no_caller_id)
            agi.hangup()
            return HotlineResult(HotlineOutcome.NO_CALLER_ID, detail="no usable caller ID")
        masked = mask_number(number)
        # read before the question: once 1 is pressed nothing may stand between
        # the caller and the revocation (a hang-up then still revokes)
        attestation = _read_attestation(agi)
        if not _confirmed(agi, prompts, tries, digit_timeout_ms):
            log.info("hotline.not_confirmed", number=masked, uniqueid=source_ref)
            agi.stream_file(prompts.goodbye)
            agi.hangup()
            return HotlineResult(HotlineOutcome.NOT_CONFIRMED, number=masked)
        # C5: the revocation is durable before the caller hears it is done
        revocation = revoke(number, source_ref, attestation)
        log.info(
            "hotline.revoked",
            number=masked,
            revocation=revocation,
            uniqueid=source_ref,
            attestation=attestation,
        )
        agi.stream_file(prompts.done)
        agi.hangup()
        return HotlineResult(HotlineOutcome.REVOKED, revocation, masked)
    except CallerHangup:
        if revocation is not None:
            # hung up during the confirmation: the revocation stands
            return HotlineResult(HotlineOutcome.REVOKED, revocation, masked, "hung up")
        log.info("hotline.hung_up", number=masked, uniqueid=source_ref)
        return HotlineResult(HotlineOutcome.HUNG_UP, number=masked)
    except DialerError as exc:
        log.error("hotline.failed", number=masked, uniqueid=source_ref, error=str(exc))
        apologise(agi, prompts.apology)
        return HotlineResult(
            HotlineOutcome.FAILED, revocation, masked, str(exc), exit_code=exc.exit_code
        )


def _read_attestation(agi: AgiChannel) -> str:
    try:
        return caller_attestation(agi.get_variable)
    except CallerHangup:
        raise
    except TelephonyError as exc:  # Asterisk could not say: recorded as unattested
        log.warning("hotline.attestation_unreadable", error=str(exc))
        return "unreadable"


def _confirmed(agi: AgiChannel, prompts: HotlinePrompts, tries: int, timeout_ms: int) -> bool:
    """Ask (up to ``tries`` times) for the confirmation key; True once it is pressed."""
    key = agi.stream_file(prompts.welcome, ANY_KEY)
    for _ in range(tries):
        if not key:
            key = agi.stream_file(prompts.confirm, ANY_KEY)
        if not key:
            key = agi.wait_for_digit(timeout_ms)
        if key == CONFIRM_KEY:
            return True
        if key:
            agi.stream_file(prompts.invalid)
        key = ""
    return False


def apologise(agi: AgiChannel, apology: Sequence[str]) -> None:
    """Best effort: say sorry and hang up; the channel may already be gone."""
    with contextlib.suppress(TelephonyError):
        for stem in apology:
            agi.stream_file(stem)
        agi.hangup()


# -- the store, as the AGI script uses it ----------------------------------------------------------


class StoreRevoker:
    """Opens the store once per call and revokes through :meth:`Store.revoke_durably`
    (the one revocation function, C5). The AGI flow is synchronous, so every
    store call runs to completion on this object's own event loop."""

    def __init__(self, settings: Settings) -> None:
        self._runner = asyncio.Runner()
        self._store: Store | None = None
        self._settings = settings

    def open(self) -> None:
        """Open (and migrate) the store up front, so a broken installation is
        noticed before the caller is asked to press 1."""
        if self._store is None:
            cfg = self._settings.store
            self._store = self._runner.run(Store.open(cfg.path, cfg.key_file))

    def __call__(self, number: str, source_ref: str, attestation: str) -> str:
        self.open()
        assert self._store is not None
        result = self._runner.run(
            self._store.revoke_durably(
                number,
                RevocationChannel.HOTLINE,
                source_ref=source_ref,
                recorded_by=RECORDED_BY,
                attestation=attestation,
            )
        )
        return result.reference

    def close(self) -> None:
        try:
            if self._store is not None:
                self._runner.run(self._store.close())
        finally:
            self._store = None
            self._runner.close()


# -- pyst2 adapter and the program ------------------------------------------------------------


class _Discard(io.TextIOBase):
    """pyst2 writes its debug chatter (including the caller's number) to the
    stderr it is given; C18 forbids that in logs, so it goes nowhere."""

    def write(self, text: str) -> int:
        return len(text)


class PystChannel:
    """:class:`AgiChannel` over pyst2's classic AGI (stdin/stdout)."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        from asterisk import agi as pyst  # untyped; imported here so tests need no pyst2

        self._pyst = pyst
        try:
            self._agi: Any = pyst.AGI(stdin=stdin, stdout=stdout, stderr=_Discard())
        except (OSError, ValueError, UnicodeError) as exc:
            raise TelephonyError(f"cannot read the AGI environment: {exc}") from exc

    @property
    def env(self) -> Mapping[str, str]:
        env: dict[str, str] = self._agi.env
        return env

    def _do(self, method: str, *args: Any) -> Any:
        pyst = self._pyst
        try:
            return getattr(self._agi, method)(*args)
        except (pyst.AGIHangup, pyst.AGIAppError) as exc:
            # AGIAppError is "result=-1": the application failed, i.e. the channel hung up
            raise CallerHangup(f"caller hung up during {method}") from exc
        except pyst.AGIUnknownError as exc:
            if exc.args and exc.args[0] == 511:  # "command not permitted on a dead channel"
                raise CallerHangup(f"caller hung up before {method}") from exc
            raise TelephonyError(f"AGI {method} failed: {exc}") from exc
        except pyst.AGIException as exc:
            raise TelephonyError(f"AGI {method} failed: {exc}") from exc
        except OSError as exc:
            raise CallerHangup(f"AGI channel closed during {method}: {exc}") from exc

    def answer(self) -> None:
        self._do("answer")

    def stream_file(self, stem: str, escape_digits: str = "") -> str:
        return str(self._do("stream_file", stem, escape_digits) or "")

    def wait_for_digit(self, timeout_ms: int) -> str:
        return str(self._do("wait_for_digit", timeout_ms) or "")

    def get_variable(self, name: str) -> str:
        return str(self._do("get_variable", name) or "")

    def hangup(self) -> None:
        self._do("hangup")


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    agi_stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The AGI program: ``AGI(dialer-optout-hotline[,LANGUAGE])``. Returns the exit code.

    ``agi_stdout`` is the AGI command channel (the process's real stdout); the
    script points ``sys.stdout`` at stderr before calling this, so a stray
    ``print`` can never corrupt the AGI conversation.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    err = stderr or sys.stderr
    configure_logging("info", stream=err)
    in_stream = stdin or io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    out_stream = agi_stdout or sys.__stdout__ or sys.stdout
    try:
        channel = PystChannel(in_stream, out_stream)
    except DialerError as exc:
        log.error("hotline.no_agi", error=str(exc))
        return exc.exit_code
    revoker: StoreRevoker | None = None
    try:
        settings = load_settings(config_path())
        configure_logging(settings.logging.level, json=settings.logging.json, stream=err)
        language = (args[0] if args else "") or settings.audio.default_language
        prompts = resolve_prompts(
            language,
            sounds_dir=settings.audio.sounds_dir,
            default_language=settings.audio.default_language,
        )
        revoker = StoreRevoker(settings)
        revoker.open()
    except DialerError as exc:
        log.error("hotline.not_ready", error=str(exc))
        apologise(channel, CORE_APOLOGY)
        if revoker is not None:
            _close_quietly(revoker)
        return exc.exit_code
    try:
        result = run_hotline(
            channel, revoker, prompts, default_region=settings.organisation.default_region
        )
        log.info("hotline.done", outcome=result.outcome.value, number=result.number)
        return result.exit_code
    except Exception as exc:  # a bug: still no traceback on stdout, and an apology
        log.exception("hotline.crashed", error=str(exc))
        apologise(channel, prompts.apology)
        return 1
    finally:
        _close_quietly(revoker)


def _close_quietly(revoker: StoreRevoker) -> None:
    try:
        revoker.close()
    except Exception as exc:  # closing must not turn a good call into a failure
        log.warning("hotline.close_failed", error=str(exc))
