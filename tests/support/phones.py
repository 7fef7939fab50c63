"""Simulated phones: SIPp user agent servers on loopback for the sandbox Asterisk.

Each phone is one ``sipp`` process (Debian ``sip-tester``) running a scenario
from ``tests/sipp/``; Asterisk reaches phone N as PJSIP endpoint
``sipp-phone-N`` at ``127.0.0.1:507N`` (``asterisk_conf/sandbox/pjsip_sandbox.conf``).
A number dialled as ``Local/<digits>@sandbox-phones`` goes to the phone named
by its LAST digit:

    1  answers, presses 9 about 1.5 s after the answer (RFC 4733)
    2  answers, presses nothing
    3  486 Busy Here
    4  rings, never answers
    8  answers, presses 8 about 1.5 s after the answer
    63 (numbers ending in 63) declines: 603 Decline
    ...91  answers, presses 9 during the message body
    ...81  answers, presses 9 about 1.5 s after the answer, hangs up 0.3 s later

(5, 6, 7, 9 and 0 are fast dialplan-only phones; they need no process.)

SIPp writes every SIP message it receives to a trace file (``-trace_msg``);
:meth:`Phones.invites` counts the distinct dialogs (Call-IDs) that started with
an INVITE, optionally only those for one dialled number, so retransmissions or
calls from other tests do not distort the count.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SIPP_DIR = Path(__file__).resolve().parents[1] / "sipp"
HOST = "127.0.0.1"

#: digit -> (scenario file, SIP port, RTP port)
PHONES: dict[int, tuple[str, int, int]] = {
    1: ("phone_answer_press9.xml", 5071, 6010),
    2: ("phone_answer_silent.xml", 5072, 6020),
    3: ("phone_busy.xml", 5073, 6030),
    4: ("phone_ring_no_answer.xml", 5074, 6040),
    8: ("phone_answer_press8.xml", 5078, 6080),
    # numbers ending in 91: presses 9 during the message body
    91: ("phone_answer_press9_late.xml", 5079, 6090),
    # numbers ending in 63: 603 Decline
    63: ("phone_decline.xml", 5076, 6060),
    # numbers ending in 81: presses 9, hangs up 0.3 s later (issue 7, C10)
    81: ("phone_answer_press9_hangup.xml", 5081, 6110),
}

#: names accepted by :meth:`Phones.invites` besides the digit itself
ALIASES: dict[str, int] = {
    "press9": 1,
    "silent": 2,
    "busy": 3,
    "noanswer": 4,
    "press8": 8,
    "press9late": 91,
    "decline": 63,
    "press9hangup": 81,
}

SEPARATOR = "-----------------------------------------------"


class PhoneError(RuntimeError):
    """A simulated phone could not start or is not running."""


@dataclass
class Phone:
    digit: int
    scenario: Path
    sip_port: int
    media_port: int
    trace: Path
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def command(self) -> list[str]:
        return [
            "sipp",
            "-sf",
            str(self.scenario),
            "-i",
            HOST,
            "-p",
            str(self.sip_port),
            "-mi",
            HOST,
            "-mp",
            str(self.media_port),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.trace),
            "-trace_err",
            "-error_file",
            str(self.log),
        ]


def udp_port_bound(port: int, host: str = HOST) -> bool:
    """True when some process has bound ``host:port`` (UDP), per /proc/net/udp."""
    want_ip = "".join(f"{int(part):02X}" for part in reversed(host.split(".")))
    want = f"{want_ip}:{port:04X}"
    any_ip = f"00000000:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1] in (want, any_ip) for line in lines if line.strip())


def count_invites(trace: Path, number: str | None = None) -> int:
    """Distinct dialogs started by an INVITE in a SIPp message trace.

    ``number``: count only INVITEs whose request URI's user part is this number
    (E.164 with or without "+").
    """
    try:
        text = trace.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    want = number.lstrip("+") if number else None
    call_ids: set[str] = set()
    for block in text.split(SEPARATOR):
        lines = block.strip().splitlines()
        # block: "<date>" / "UDP message received [n] bytes :" / "" / start line ...
        if len(lines) < 4 or "message received" not in lines[1]:
            continue
        start = next((ln for ln in lines[2:] if ln.strip()), "")
        if not start.startswith("INVITE "):
            continue
        uri = start.split()[1]
        user = uri.split(":", 1)[-1].split("@", 1)[0].lstrip("+")
        if want is not None and user != want:
            continue
        call_id = next(
            (ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("call-id:")),
            "",
        )
        call_ids.add(call_id or f"no-call-id-{len(call_ids)}")
    return len(call_ids)


class Phones:
    """The SIPp phones (all of PHONES by default), started together and stopped together."""

    def __init__(self, workdir: Path, digits: tuple[int, ...] = tuple(PHONES)) -> None:
        self.workdir = workdir
        self.phones: dict[int, Phone] = {}
        for digit in digits:
            scenario, sip_port, media_port = PHONES[digit]
            self.phones[digit] = Phone(
                digit=digit,
                scenario=SIPP_DIR / scenario,
                sip_port=sip_port,
                media_port=media_port,
                trace=workdir / f"phone{digit}.messages.log",
                log=workdir / f"phone{digit}.errors.log",
            )

    def start(self, timeout: float = 10.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        busy = [p.sip_port for p in self.phones.values() if udp_port_bound(p.sip_port)]
        if busy:
            raise PhoneError(
                f"UDP port(s) {busy} on {HOST} already in use: another SIPp still running? "
                "(stop it, then run the tests again)"
            )
        for phone in self.phones.values():
            for stale in (phone.trace, phone.log):
                stale.unlink(missing_ok=True)
            phone.process = subprocess.Popen(
                phone.command(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        for phone in self.phones.values():
            while not udp_port_bound(phone.sip_port):
                assert phone.process is not None
                code = phone.process.poll()
                if code is not None:
                    self.stop()
                    raise PhoneError(
                        f"sipp for phone {phone.digit} exited with {code}; see {phone.log}"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise PhoneError(f"sipp for phone {phone.digit} did not bind {phone.sip_port}")
                time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL; always reaped (no zombies)."""
        for phone in self.phones.values():
            proc = phone.process
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for phone in self.phones.values():
            proc = phone.process
            if proc is None:
                continue
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            phone.process = None

    def running(self) -> bool:
        return all(p.process is not None and p.process.poll() is None for p in self.phones.values())

    def phone(self, which: int | str) -> Phone:
        digit = ALIASES.get(str(which))
        if digit is None:
            try:
                digit = int(which)
            except ValueError as exc:
                raise PhoneError(f"no simulated phone {which!r}") from exc
        if digit not in self.phones:
            raise PhoneError(f"no SIPp phone {digit} (SIPp phones: {sorted(self.phones)})")
        return self.phones[digit]

    def invites(self, which: int | str, number: str | None = None) -> int:
        """INVITE dialogs phone ``which`` (digit or alias) received; optionally for one number."""
        return count_invites(self.phone(which).trace, number)

    def __enter__(self) -> Phones:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
