"""The call-in recording line (issue 14 item 3) refuses wrong PINs: three tries, each
audited, then goodbye; nothing is recorded and no RECORD FILE is ever sent.

The record route runs in a real FastAGI server on a real store, with a real
console account and PIN (``dialer users phone-pin``). Asterisk's side is the
raw-socket AGI peer (tests/support/agi_peer.py): the bytes res_agi.c writes, so
the wrong-PIN path runs exactly as on a live line (the right-PIN path is live:
tests/integration/test_record_by_phone_live.py).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from support.agi_peer import AsteriskPeer
from support.store import audit_kinds
from support.webapp import add_user, dialer

from dialer.recorder.route import PIN_DIGITS, PIN_TIMEOUT_MS, PIN_TRIES, Recorder, record_route
from dialer.settings import load_settings
from dialer.store.store import Store
from dialer.telephony.fastagi import FastAgiServer


def test_three_wrong_pins_end_the_call_audited_and_nothing_is_recorded(tmp_path: Path) -> None:
    config = tmp_path / "dialer.toml"
    dialer(config, "init", "--callback", "+12125550111", "--hotline", "+12125550199")
    add_user(config, "ruiz", "staff")
    match = re.search(r"phone PIN of 'ruiz': (\d{6})", dialer(config, "users", "phone-pin", "ruiz"))
    assert match
    pin = match.group(1)
    wrong = [f"{(int(pin) + n) % 1_000_000:06d}" for n in (1, 2)] + ["12ab"]  # not digits
    settings = load_settings(config)
    before = audit_kinds(settings.store.path)

    async def call() -> list[list[str]]:
        store = await Store.open(settings.store.path, settings.store.key_file)
        sent: list[list[str]] = []
        try:
            server = FastAgiServer(
                {"record": record_route(Recorder(settings, store))}, "127.0.0.1", 0
            )
            async with server:
                peer = await AsteriskPeer.connect(server.bound_port)
                await peer.send_env("record", args=())  # the line: no call id
                sent.append(await peer.expect())
                await peer.reply("200 result=0")  # ANSWER
                for typed in wrong:
                    sent.append(await peer.expect())  # GET DATA enter-pin
                    await peer.reply(f"200 result={typed}")
                    sent.append(await peer.expect())  # STREAM FILE pin-wrong
                    await peer.reply("200 result=0 endpos=8000")
                sent.append(await peer.expect())  # STREAM FILE goodbye
                await peer.reply("200 result=0 endpos=8000")
                sent.append(await peer.expect())  # HANGUP
                await peer.reply("200 result=1")
                await peer.expect_closed(10)
                await peer.close()
            assert await store.recordings.all() == []
        finally:
            await store.close()
        return sent

    sent = asyncio.run(call())

    verbs = [" ".join(c[:2]) for c in sent]
    assert verbs == ["ANSWER"] + ["GET DATA", "STREAM FILE"] * PIN_TRIES + ["STREAM FILE", "HANGUP"]
    assert sent[1][3:] == [str(PIN_TIMEOUT_MS), str(PIN_DIGITS)]
    assert not any(c[0] == "RECORD" for c in sent)
    after = audit_kinds(settings.store.path)
    assert after.get("phone-pin-refused", 0) - before.get("phone-pin-refused", 0) == PIN_TRIES
    assert "phone-recording" not in after  # nobody got in: no recording call happened
    assert not list((settings.audio.sounds_dir / "incoming").glob("*"))
