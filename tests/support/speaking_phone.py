"""A staff phone that speaks: SIPp sending espeak-ng speech as RTP (record by phone, issue 14).

Two shapes, each one SIPp process started by the test that needs it:

* :func:`answering` (user agent server on 127.0.0.1:5077, endpoint
  ``sipp-phone-speak``; numbers ending in 72 reach it): answers, waits for the
  "record after the tone" prompt, speaks, keeps sending silence (a real phone
  never stops sending RTP, and Asterisk's silence detection needs frames), then
  presses 1 to keep the take.
* :func:`calling_in` (user agent client from 127.0.0.1:5082, From user
  ``sandbox-staff``): calls the recording line, types a PIN and #, then speaks
  and presses 1 the same way.

Optional: ``hang_up_after_speech`` ends the call (BYE) after the speech instead
of pressing 1: the "hung up before keeping" case.

The scenarios are written per test from the templates below (the pcap path,
the PIN and the timing differ). SIPp replays a pcap in its own thread, so
every ``play_pcap_audio`` is followed by a pause as long as the audio.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from support.phones import count_invites, udp_port_bound
from support.rtp_pcap import mulaw_of, write_dtmf_pcap, write_rtp_pcap

DTMF = "/usr/share/sip-tester/dtmf_2833_{}.pcap"
ANSWER_PORTS = (5077, 6070)
CALLER_PORTS = (5082, 6120)
#: the prompt before the tone ("Record your message after the tone...") plus the beep
TONE_AFTER_MS = 5200
#: silence sent after the speech: more than RECORD FILE's s=3
TRAILING_SILENCE_S = 6.0

_SDP = """v=0
      o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv"""


def _play(pcap: str, ms: int) -> str:
    return (
        f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        f'  <pause milliseconds="{ms}"/>\n'
    )


def _ending(hang_up: bool) -> str:
    if hang_up:
        return """  <send>
    <![CDATA[

      BYE [$asterisk_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$our_uri];tag=[pid]SIPpTag01[call_number]
      To: [$asterisk_from]
      [last_Call-ID:]
      CSeq: 9 BYE
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" timeout="10000"/>
"""
    return """  <recv request="BYE" timeout="180000"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"""


def _speech_then_keep(speech: str, speech_ms: int, hang_up: bool) -> str:
    body = _play(speech, speech_ms)
    if hang_up:
        return body
    # the take ends ~3 s after the speech (RECORD FILE s=3); the trailing silence
    # lasts 6 s, so 1 lands while the take is played back, and Asterisk may hang up
    # any time after it (a BYE during a pause would abort the scenario)
    return body + _play(DTMF.format(1), 200)


def _invite(hang_up: bool) -> str:
    if not hang_up:
        return '<recv request="INVITE" crlf="true"/>'
    # kept for a BYE of our own (the roles of From and To swap in it); SIPp refuses a
    # variable that is set but never used, so only this scenario sets them
    return """<recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="asterisk_from"/>
      <ereg regexp="&lt;[^>]*&gt;" search_in="hdr" header="To:" check_it="true"
            assign_to="our_uri"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true"
            assign_to="asterisk_contact"/>
    </action>
  </recv>"""


def answering_scenario(speech: str, speech_ms: int, *, hang_up: bool = False) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- TEST ONLY: a staff phone that answers and records a message (issue 14). -->
<scenario name="answer-speak">
{_invite(hang_up)}
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      {_SDP}

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="{TONE_AFTER_MS}"/>
{_speech_then_keep(speech, speech_ms, hang_up)}{_ending(hang_up)}</scenario>
"""


def calling_scenario(speech: str, speech_ms: int, keys: str, keys_ms: int, line: int) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- TEST ONLY: a staff phone that calls the recording line, types its PIN and records. -->
<scenario name="call-in-speak">
  <send retrans="500">
    <![CDATA[

      INVITE sip:{line}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sandbox-staff@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{line}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sandbox-staff@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      {_SDP}

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Contact: <sip:sandbox-staff@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="1500"/>
{_play(keys, keys_ms)}  <pause milliseconds="{TONE_AFTER_MS}"/>
{_speech_then_keep(speech, speech_ms, False)}{_ending(False)}</scenario>
"""


@dataclass
class SpeakingPhone:
    process: subprocess.Popen[bytes]
    trace: Path
    log: Path

    def invites(self, number: str | None = None) -> int:
        return count_invites(self.trace, number)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def speech_audio(folder: Path, wav: Path) -> tuple[Path, int]:
    """The pcap of ``wav`` followed by trailing silence, and the milliseconds it lasts."""
    mulaw = mulaw_of(wav, folder / "speech.ulaw")
    mulaw += b"\xff" * int(8000 * TRAILING_SILENCE_S)
    pcap = folder / "speech.pcap"
    seconds = write_rtp_pcap(mulaw, pcap)
    return pcap, int(seconds * 1000)


def _start(
    folder: Path, name: str, scenario: str, ports: tuple[int, int], *extra: str
) -> SpeakingPhone:
    if udp_port_bound(ports[0]):
        raise RuntimeError(f"UDP port {ports[0]} is in use: another SIPp still running?")
    xml = folder / f"{name}.xml"
    xml.write_text(scenario, encoding="iso-8859-1")
    trace, log = folder / f"{name}.messages.log", folder / f"{name}.errors.log"
    process = subprocess.Popen(
        ["sipp", *extra, "-sf", str(xml), "-i", "127.0.0.1", "-p", str(ports[0]),
         "-mi", "127.0.0.1", "-mp", str(ports[1]), "-nostdin", "-trace_msg",
         "-message_file", str(trace), "-trace_err", "-error_file", str(log)],
        cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    return SpeakingPhone(process, trace, log)


def answering(folder: Path, wav: Path, *, hang_up_after_speech: bool = False) -> SpeakingPhone:
    pcap, ms = speech_audio(folder, wav)
    phone = _start(
        folder, "answering", answering_scenario(str(pcap), ms, hang_up=hang_up_after_speech),
        ANSWER_PORTS,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not udp_port_bound(ANSWER_PORTS[0]):
        if phone.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the speaking SIPp phone did not start; see {phone.log}")
        time.sleep(0.05)
    return phone


def calling_in(folder: Path, wav: Path, pin: str, agi_port: int) -> SpeakingPhone:
    """Call the recording line (127.0.0.1:5060) once; the process exits when the call ends."""
    pcap, ms = speech_audio(folder, wav)
    keys = folder / "pin.pcap"
    keys_ms = int(write_dtmf_pcap(pin + "#", keys) * 1000)
    return _start(
        folder, "calling", calling_scenario(str(pcap), ms, str(keys), keys_ms, agi_port),
        CALLER_PORTS,
        "127.0.0.1:5060", "-m", "1",
    )  # fmt: skip
