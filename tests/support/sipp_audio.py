"""What a SIPp phone *heard*: the message audio Asterisk sent to it, per call.

SIPp answers and keeps the dialog, but does not record the RTP it receives.
To know whether a person "heard the complete message" (issue 13: nobody hears
it twice), this taps the loopback interface (an ``AF_PACKET`` socket: needs
root, like the sandbox) and counts the G.711 RTP packets sent to the phone's
media port, per sending port and time. Each call's INVITE in the phone's SIPp
trace carries Asterisk's RTP port for that call (SDP ``m=audio``), so the
packets of one call are those from that port between its INVITE and its end.

Asterisk sends a packet every 20 ms while it plays a file to the call and
none while the AGI waits for a key (the ``Listen`` after the message), so a
call's packet count is how much of the message it carried.
"""

from __future__ import annotations

import bisect
import datetime as dt
import socket
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

_SEPARATOR = "-----------------------------------------------"
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # lo shows each packet twice: once outgoing, once incoming
RTP_PCMU = 0


@dataclass
class Dialog:
    """One call a SIPp phone received (from its ``-trace_msg`` file)."""

    call_id: str
    number: str  # the dialled number, digits only
    invited: float  # epoch seconds
    rtp_port: int | None  # Asterisk's RTP port for this call
    ended: float | None = None  # BYE received or sent, or CANCEL


def _when(stamp: str) -> float:
    # SIPp writes local time: "2026-12-02 09:21:05.089021"
    return dt.datetime.fromisoformat(stamp.strip()).timestamp()


def dialogs(trace: Path) -> list[Dialog]:
    """Every call the phone got, in order, with its RTP port and its end."""
    try:
        text = trace.read_text(errors="replace")
    except FileNotFoundError:
        return []
    found: dict[str, Dialog] = {}
    for block in text.split(_SEPARATOR)[1:]:
        lines = block.splitlines()
        if len(lines) < 4:
            continue
        stamp = lines[0]
        start = next((ln for ln in lines[2:] if ln.strip()), "")
        call_id = next(
            (ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("call-id:")), ""
        )
        received = "message received" in lines[1]
        if received and start.startswith("INVITE ") and call_id not in found:
            user = start.split()[1].split(":", 1)[-1].split("@", 1)[0].lstrip("+")
            port = next((int(ln.split()[1]) for ln in lines if ln.startswith("m=audio ")), None)
            found[call_id] = Dialog(call_id, user, _when(stamp), port)
        elif call_id in found and (start.startswith("BYE ") or start.startswith("CANCEL ")):
            dialog = found[call_id]
            dialog.ended = dialog.ended or _when(stamp)
    return sorted(found.values(), key=lambda d: d.invited)


class RtpTap:
    """Counts RTP (PCMU) packets sent to one UDP port on loopback, by source port."""

    def __init__(self, dst_port: int, interface: str = "lo") -> None:
        self.dst_port = dst_port
        self.interface = interface
        self._times: dict[int, list[float]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.packets = 0

    def start(self) -> RtpTap:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
        sock.bind((self.interface, 0))
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="rtp-tap", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> RtpTap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._sock is not None
        want = struct.pack("!H", self.dst_port)
        while not self._stop.is_set():
            try:
                frame, address = self._sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if address[2] == PACKET_OUTGOING or frame[12:14] != b"\x08\x00":
                continue
            ihl = (frame[14] & 0x0F) * 4
            if frame[23] != socket.IPPROTO_UDP:
                continue
            udp = 14 + ihl
            if frame[udp + 2 : udp + 4] != want:
                continue
            rtp = frame[udp + 8 :]
            if len(rtp) < 12 or rtp[1] & 0x7F != RTP_PCMU:
                continue
            (sport,) = struct.unpack("!H", frame[udp : udp + 2])
            self._times[sport].append(time.time())
            self.packets += 1

    def count(self, port: int | None, start: float, end: float) -> int:
        """Packets from ``port`` between ``start`` and ``end`` (epoch seconds)."""
        if port is None:
            return 0
        times = self._times.get(port, [])
        return bisect.bisect_right(times, end) - bisect.bisect_left(times, start)

    def heard(self, dialog: Dialog, *, until: float | None = None) -> int:
        """The audio packets one call carried to the phone."""
        end = (dialog.ended or until or time.time()) + 0.5
        return self.count(dialog.rtp_port, dialog.invited - 0.5, end)
