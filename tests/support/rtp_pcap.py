"""Speech as RTP in a pcap file, for SIPp's ``play_pcap_audio`` (tests only).

A simulated phone that *speaks* (record by phone, issue 14) needs audio SIPp
can send: SIPp replays the UDP payloads of a pcap file at the pace of its
timestamps, to the media address Asterisk offered. We make that file from
espeak-ng speech: ffmpeg turns it into 8 kHz G.711 mu-law (the sandbox
endpoints allow ulaw only), cut into 20 ms RTP packets (payload type 0), each
wrapped in Ethernet/IPv4/UDP headers as libpcap expects (link type 1).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from support.audio_files import speech_wav

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
_ETH = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
_SSRC = 0x5EED1234


def _ipv4_udp(payload: bytes, sport: int = 6100, dport: int = 6000) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        total,
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    checksum = 0
    for (word,) in struct.iter_unpack("!H", header):
        checksum += word
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    header = header[:10] + struct.pack("!H", ~checksum & 0xFFFF) + header[12:]
    return header + udp


def mulaw_of(wav: Path, out: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ar", "8000", "-ac", "1",
         "-f", "mulaw", str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


def write_rtp_pcap(mulaw: bytes, path: Path) -> float:
    """Write ``mulaw`` as 20 ms RTP packets; returns the audio's length in seconds."""
    frames = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] += b"\xff" * (FRAME_BYTES - len(frames[-1]))  # mu-law silence
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, frame in enumerate(frames):
        rtp = struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0x00, n, n * FRAME_BYTES, _SSRC)
        packet = _ETH + _ipv4_udp(rtp + frame)
        micros = n * 20_000
        out.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(packet), len(packet))
        )
        out.append(packet)
    path.write_bytes(b"".join(out))
    return len(frames) * 0.02


_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def write_dtmf_pcap(keys: str, path: Path, *, gap_ms: int = 300) -> float:
    """Keys as RFC 4733 events (payload type 101), one after another; returns seconds.

    SIPp's shipped ``dtmf_2833_N.pcap`` files all carry the same RTP timestamp,
    so Asterisk takes two of them in a row for one long key press and keeps
    one digit; a real phone gives every press its own timestamp, as here.
    """
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    seq, at_ms = 0, 0
    for key in keys:
        event = _EVENTS[key]
        stamp = at_ms * 8
        packets = [(n * 160, False) for n in range(1, 6)] + [(800, True)] * 3
        for n, (duration, end) in enumerate(packets):
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
            rtp = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | 101, seq, stamp, _SSRC + 1)
            packet = _ETH + _ipv4_udp(rtp + payload)
            micros = (at_ms + 20 * min(n, 5)) * 1000
            seconds, fraction = divmod(micros, 1_000_000)
            out.append(struct.pack("<IIII", seconds, fraction, len(packet), len(packet)))
            out.append(packet)
            seq += 1
        at_ms += 100 + gap_ms
    path.write_bytes(b"".join(out))
    return at_ms / 1000


def speech_pcap(folder: Path, text: str, voice: str = "en-us") -> tuple[Path, float, Path]:
    """(pcap, seconds of audio, the source WAV) of ``text`` spoken by espeak-ng."""
    wav = speech_wav(folder / "speech.wav", text, voice)
    mulaw = mulaw_of(wav, folder / "speech.ulaw")
    pcap = folder / "speech.pcap"
    return pcap, write_rtp_pcap(mulaw, pcap), wav
