"""How one call is originated: the callee's channel directly, or through the dialplan hop.

Pure (no I/O): the Originate's ``Channel``, ``Variable`` headers and ``Timeout``
for one call, from the ``[asterisk]`` settings. Every outbound call (campaign
attempts, test calls, record-by-phone call-backs) is built here, so they all
take the same path to the callee.

Direct (the default, issue #11): ``Channel`` is the configured dial string
itself (the trunk channel, ``PJSIP/+12025550123@trunk``), sent straight into
the answered context. One channel per call, no ``Dial()``: on the sandbox's
2 cores Asterisk spent 13-15 ms of CPU per call instead of 24 ms and carried
101 calls/s at 800 concurrent instead of 58 (DESIGN.md). The Originate's own
``Timeout`` is the ring time. Failures are told apart by the OriginateResponse
``Reason`` (meaningful for a non-Local channel: 3 ring timeout, 5 busy,
8 congestion) and the Q.850 ``Cause`` of the channel's ``Hangup`` event
(matched by the ``ChannelId`` we assign); there is no ``DialerDial`` report
(telephony/outcomes.py reads them, finest first).

Hop (``dial_via_dialplan = true``, only for a channel type that cannot be
originated directly): ``Local/dial@<originate_context>``, whose dialplan
``Dial()``s the dial string and reports ``DialerDial`` (extensions.conf). The
variables carry the ``__`` prefix so the Local channel's ``;2`` half (and the
callee's channel) inherit them; ``Dial()`` does the ring timeout, so the
Originate waits a little longer than it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialer.settings import AsteriskSettings

__all__ = ["HOP_GRACE_S", "OriginateSpec", "originate_spec"]

#: the hop: Dial() in [dialer-outbound] times the ring; the Originate of the
#: Local channel must not give up before it does
HOP_GRACE_S = 5


@dataclass(frozen=True)
class OriginateSpec:
    """The parts of one AMI Originate that depend on the path to the callee."""

    channel: str
    variables: Mapping[str, str]
    #: the Originate's ``Timeout`` header, in seconds
    timeout_s: float
    #: True: the dialplan reports the Dial() result (UserEvent DialerDial)
    dial_report: bool


def dial_target(asterisk: AsteriskSettings, number: str) -> str:
    """The configured dial string filled in for one E.164 number."""
    return asterisk.dial_string.format(e164=number, digits=number.lstrip("+"))


def originate_spec(
    asterisk: AsteriskSettings,
    *,
    number: str,
    call_id: str,
    agi_url: str,
    extra: Mapping[str, str] | None = None,
) -> OriginateSpec:
    """How to originate the call ``call_id`` to ``number`` (see the module doc).

    ``extra`` variables (``DIALER_AMD``, ``AMDSTATUS``) are set on the answered
    channel only, never inherited.
    """
    target = dial_target(asterisk, number)
    ring = asterisk.ring_timeout
    if asterisk.dial_via_dialplan:
        variables = {
            "__CALL_ID": call_id,
            "__DIALER_DIAL": target,
            "__DIALER_RING": str(ring),
            "__DIALER_AGI": agi_url,
            **(extra or {}),
        }
        return OriginateSpec(
            channel=f"Local/dial@{asterisk.originate_context}",
            variables=variables,
            timeout_s=ring + HOP_GRACE_S,
            dial_report=True,
        )
    # Originate sets these on the callee's channel, the one that runs the
    # answered context and its AGI: nothing needs to inherit them
    direct = {"CALL_ID": call_id, "DIALER_AGI": agi_url, **(extra or {})}
    return OriginateSpec(channel=target, variables=direct, timeout_s=ring, dial_report=False)
