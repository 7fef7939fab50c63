"""Direct originate: every outcome and Q.850 cause, through the real sandbox (issue 11 item 1).

One campaign over one phone of each kind, run twice on the same sandbox: once
the default way (the dial string ``Local/{digits}@sandbox-phones`` originated
straight into ``[dialer-answered]``, telephony/dialout.py) and once through
the dialplan hop (``dial_via_dialplan = true``, ``Local/dial@dialer-outbound``
``Dial()``s it and reports ``DialerDial``). The report must show the same
outcome and the same Q.850 cause for every phone either way, and each phone
must get exactly one INVITE (no double call). Busy from a SIP 486 and from the
dialplan, no answer, unallocated, congestion, decline (SIP 603), answer + 9
(keypad revocation committed), answer + 8 (suppressed for review).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.phones import Phones
from support.sample import daytime_prefix, sample_number
from support.sandbox import Sandbox
from support.workspace import make_workspace

pytestmark = pytest.mark.integration

#: contact -> (sandbox phone: (serial, last digit), outcome, Q.850 cause the report shows)
MATRIX: dict[str, tuple[tuple[int, int], str, int | None]] = {
    "press9": ((0, 1), "opted-out", None),
    "press8": ((0, 8), "wrong-number", None),
    "busy-sip": ((0, 3), "busy", 17),  # SIPp 486 Busy Here
    "decline": ((6, 3), "busy", 21),  # ...63: SIPp 603 Decline (call rejected)
    "noanswer": ((0, 4), "no-answer", 19),  # rings, the ring timeout ends it
    "unallocated": ((0, 7), "failed", 1),
    "congestion": ((0, 0), "failed", 34),
    "busy-pbx": ((0, 9), "busy", 17),
}
#: the SIPp phone each contact reaches (the others are dialplan-only)
SIPP = {"press9": 1, "press8": 8, "busy-sip": 3, "decline": 63, "noanswer": 4}


@pytest.mark.parametrize("via_dialplan", [False, True], ids=["direct", "dialplan-hop"])
def test_every_outcome_and_cause_direct_or_through_the_hop(
    tmp_path: Path, sandbox: Sandbox, phones: Phones, via_dialplan: bool
) -> None:
    ws = make_workspace(tmp_path, sandbox, ring_timeout=4, dial_via_dialplan=via_dialplan)
    assert ws.settings().asterisk.dial_via_dialplan is via_dialplan
    prefix = daytime_prefix()
    numbers = {k: sample_number(prefix, *phone) for k, (phone, _, _) in MATRIX.items()}
    ws.school_campaign(numbers, create=("--max-attempts", "1"))
    before = {k: phones.invites(SIPP[k], numbers[k]) for k in SIPP}

    report = json.loads(ws.ok("campaign", "run", "c", "--json"))

    rows = {c["contact"]: c for c in report["per_contact"]}
    seen = {k: (rows[k]["outcome"], rows[k]["hangup_cause"]) for k in MATRIX}
    expected = {k: (outcome, cause) for k, (_, outcome, cause) in MATRIX.items()}
    # answered calls: the cause is whatever ended the line (16 normal, ...): not
    # part of the matrix
    for k in ("press9", "press8"):
        seen[k] = (seen[k][0], None)
    assert seen == expected, json.dumps(rows, indent=1)
    if via_dialplan:
        assert rows["busy-sip"]["dial_status"] == "BUSY"
        assert rows["noanswer"]["dial_status"] == "NOANSWER"
    else:
        # no Dial() in the path: nothing claims a DIALSTATUS
        assert {rows[k]["dial_status"] for k in MATRIX} == {None}
    # one INVITE per SIPp phone: nobody was rung twice
    for k, phone in SIPP.items():
        assert phones.invites(phone, numbers[k]) == before[k] + 1, k
    with sqlite3.connect(ws.settings().store.path) as db:
        revocations = db.execute("SELECT channel, source_ref FROM revocations").fetchall()
        suppressed = db.execute("SELECT COUNT(*) FROM suppressions").fetchone()
    assert revocations == [("keypad", rows["press9"]["call_id"])]
    assert suppressed == (1,)  # the 8: suppressed for staff review (C16)
