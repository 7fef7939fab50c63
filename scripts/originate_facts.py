"""What Asterisk reports for each sandbox phone, originated directly or through the hop.

A measuring tool (not a test): for every simulated phone it sends one AMI
Originate exactly as the engine would and prints what came back: the
OriginateResponse ``Response``/``Reason``, every ``Hangup`` event of the call
(matched by the ``ChannelId`` we assigned, the ``-2`` id of a Local channel's
second half, or the ``Linkedid``) with its Q.850 ``Cause``, the dialplan's
``DialerDial`` report (hop only) and the digits a FastAGI route heard.

    flock /tmp/dialer-sandbox.lock .venv/bin/python scripts/originate_facts.py [MODE]

MODE is ``direct``, ``hop``, ``trunk`` or ``all`` (the default).
``direct``: Channel = the sandbox's dial string itself
(``Local/{digits}@sandbox-phones``) into ``dialer-answered``. ``hop``:
Channel = ``Local/dial@dialer-outbound``, which ``Dial()``s the dial string
(the engine's way before issue #11). ``trunk``: Channel = ``PJSIP/...``
straight to the SIPp phone, no Local channel at all: the reference a real SIP
trunk gives.
Needs root (the sandbox) and the SIPp phones' ports free.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from support.phones import Phones  # noqa: E402
from support.sandbox import ensure_sandbox  # noqa: E402

from dialer.telephony.ami import AmiClient, CallEvents, OriginateResult  # noqa: E402
from dialer.telephony.fastagi import AgiSession, CallHungUp, FastAgiServer  # noqa: E402

#: (label, number): the last digit(s) pick the phone (extensions_sandbox.conf)
CASES = [
    ("SIPp answer + 9", "12025550131"),
    ("SIPp answer + 8", "12025550138"),
    ("SIPp answer, silent", "12025550132"),
    ("SIPp busy 486", "12025550133"),
    ("SIPp decline 603", "12025550163"),
    ("SIPp ring, no answer", "12025550134"),
    ("local answer + 9", "12025550135"),
    ("local unallocated", "12025550137"),
    ("local congestion", "12025550130"),
    ("local Busy()", "12025550139"),
    ("no such endpoint", "12025550132"),
]
RING_S = 4
#: the SIPp phones as PJSIP endpoints (pjsip_sandbox.conf), for ``trunk`` mode
TRUNK_ENDPOINTS = {
    "SIPp answer + 9": "sipp-phone-1",
    "SIPp answer + 8": "sipp-phone-8",
    "SIPp answer, silent": "sipp-phone-2",
    "SIPp busy 486": "sipp-phone-3",
    "SIPp decline 603": "sipp-phone-decline",
    "SIPp ring, no answer": "sipp-phone-4",
    "no such endpoint": "no-such-endpoint",
}
MODES = ("direct", "hop", "trunk")


@dataclass
class Seen:
    digits: str = ""
    answered: bool = False
    hangups: list[str] = field(default_factory=list)


async def measure(mode: str) -> None:
    box = ensure_sandbox()
    heard: dict[str, Seen] = {}

    async def route(session: AgiSession) -> None:
        seen = heard.setdefault(session.env.args[0] if session.env.args else "?", Seen())
        seen.answered = True
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                digit = await session.wait_for_digit(500)
                if digit:
                    seen.digits += digit
                    break
            await session.hangup()
        except CallHungUp:
            pass

    async with FastAgiServer({"broadcast": route}, "127.0.0.1", 0) as agi:
        ami = AmiClient(box.ami_host, box.ami_port, box.ami_user, box.ami_secret())
        await ami.connect()
        try:
            for which in MODES if mode == "all" else (mode,):
                print(f"\n== {which} originate ==")
                cases = [c for c in CASES if which != "trunk" or c[0] in TRUNK_ENDPOINTS]
                results = await asyncio.gather(
                    *(_one(ami, agi.bound_port, which, label, n) for label, n in cases)
                )
                for (label, _), (call_id, result, events, took) in zip(cases, results, strict=True):
                    _print(label, call_id, result, events, heard.get(call_id), took)
        finally:
            await ami.close()


async def _one(
    ami: AmiClient, agi_port: int, mode: str, label: str, number: str
) -> tuple[str, OriginateResult | None, CallEvents, float]:
    call_id = f"facts-{uuid.uuid4().hex[:12]}"
    dial = f"Local/{number}@sandbox-phones"
    variables = {"CALL_ID": call_id, "DIALER_AGI": f"agi://127.0.0.1:{agi_port}"}
    if label == "no such endpoint":
        # a channel Asterisk cannot even create (unknown endpoint / context)
        dial = f"Local/{number}@no-such-context"
    if mode == "trunk":
        # a real SIP channel straight to the SIPp phone: what a district's trunk gives
        channel = f"PJSIP/{number}@{TRUNK_ENDPOINTS[label]}"
    elif mode == "hop":
        channel = "Local/dial@dialer-outbound"
        variables = {
            "__CALL_ID": call_id,
            "__DIALER_DIAL": dial,
            "__DIALER_RING": str(RING_S),
            "__DIALER_AGI": f"agi://127.0.0.1:{agi_port}",
        }
    else:
        channel = dial
    start = time.monotonic()
    events = ami.calls.register(call_id)
    result: OriginateResult | None
    try:
        result = await ami.originate(
            call_id,
            channel=channel,
            context="dialer-answered",
            exten="s",
            priority=1,
            caller_id='"Facts" <+12025550100>',
            variables=variables,
            timeout_s=RING_S,
        )
    except Exception as exc:  # report, do not stop the table
        print(f"{label}: originate raised {exc!r}")
        result = None
    await events.wait_finished(30)
    await asyncio.sleep(1.5)  # late Hangup events of the other legs
    return call_id, result, events, time.monotonic() - start


def _print(
    label: str,
    call_id: str,
    result: OriginateResult | None,
    events: CallEvents,
    seen: Seen | None,
    took: float,
) -> None:
    head = (
        f"Response={result.response} Reason={result.reason}" if result else "no OriginateResponse"
    )
    legs = []
    for h in events.hangups:
        role = {call_id: ";1", f"{call_id}-2": ";2"}.get(h.uniqueid, h.channel.split("/")[0])
        legs.append(f"{role}:{h.cause}")
    dial = f" DialerDial={events.dial_status}/{events.dial_cause}" if events.dial_status else ""
    agi = f" AGI digits={seen.digits!r}" if seen and seen.answered else " no AGI"
    print(f"{label:22} {head:28} hangups[{' '.join(legs)}]{dial}{agi} ({took:.1f} s)")


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "all"
    if mode not in (*MODES, "all"):
        sys.exit("usage: originate_facts.py [direct|hop|trunk|all]")
    with tempfile.TemporaryDirectory(prefix="dialer-facts-") as tmp, Phones(Path(tmp)):
        asyncio.run(measure(mode))


if __name__ == "__main__":
    main()
