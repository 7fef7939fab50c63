"""How a call is originated (telephony/dialout.py): direct by default, the hop by setting."""

from __future__ import annotations

from dataclasses import replace

from dialer.settings import AsteriskSettings
from dialer.telephony.dialout import HOP_GRACE_S, originate_spec

NUMBER = "+12125550123"
AGI = "agi://127.0.0.1:4573"


def test_the_default_originates_the_trunk_channel_itself() -> None:
    asterisk = AsteriskSettings(dial_string="PJSIP/{e164}@trunk", ring_timeout=25)
    assert asterisk.dial_via_dialplan is False
    spec = originate_spec(
        asterisk, number=NUMBER, call_id="abc", agi_url=AGI, extra={"DIALER_AMD": "no"}
    )
    assert spec.channel == "PJSIP/+12125550123@trunk"
    # the Originate itself times the ring: Reason 3 when nobody answers
    assert spec.timeout_s == 25
    assert spec.dial_report is False
    # set on the callee's channel, which runs the answered context: no inheritance,
    # and no dial string or ring time for a dialplan that is not in the path
    assert dict(spec.variables) == {"CALL_ID": "abc", "DIALER_AGI": AGI, "DIALER_AMD": "no"}


def test_digits_fill_a_sandbox_style_dial_string() -> None:
    asterisk = AsteriskSettings(dial_string="Local/{digits}@sandbox-phones")
    spec = originate_spec(asterisk, number=NUMBER, call_id="abc", agi_url=AGI)
    assert spec.channel == "Local/12125550123@sandbox-phones"


def test_the_hop_is_a_setting_and_keeps_the_dialplan_report() -> None:
    asterisk = replace(
        AsteriskSettings(dial_string="DAHDI/g1/{digits}", ring_timeout=20),
        dial_via_dialplan=True,
        originate_context="dialer-outbound",
    )
    spec = originate_spec(
        asterisk, number=NUMBER, call_id="abc", agi_url=AGI, extra={"AMDSTATUS": "MACHINE"}
    )
    assert spec.channel == "Local/dial@dialer-outbound"
    assert spec.dial_report is True
    # Dial() times the ring; the Originate must outlast it
    assert spec.timeout_s == 20 + HOP_GRACE_S
    assert dict(spec.variables) == {
        "__CALL_ID": "abc",
        "__DIALER_DIAL": "DAHDI/g1/12125550123",
        "__DIALER_RING": "20",
        "__DIALER_AGI": AGI,
        "AMDSTATUS": "MACHINE",  # the answered half only
    }
