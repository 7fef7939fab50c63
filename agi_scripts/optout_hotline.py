#!/usr/bin/env python3
"""Classic AGI program for the inbound opt-out hotline (COMPLIANCE.md C5).

Asterisk runs it from ``[dialer-hotline]`` as ``AGI(dialer-optout-hotline[,LANGUAGE])``;
the installed wrapper sets ``DIALER_CONFIG`` and ``PYTHONPATH`` and execs this
file. All logic lives in ``dialer.hotline`` (tested there); this file only
guards the AGI channel.

stdout is the AGI command channel: before anything is imported, ``sys.stdout``
is pointed at stderr so no stray output (a warning, a print) can ever reach
Asterisk as a command; the real stdout is handed to ``dialer.hotline.main``.
If the dialer itself cannot even be imported, the caller still hears an
apology (Asterisk's core sounds) and the call is hung up.
"""

from __future__ import annotations

import sys
import traceback

AGI_OUT = sys.stdout
sys.stdout = sys.stderr


def _fallback_apology() -> None:
    """Raw AGI, no library: read the environment, say sorry, hang up."""
    try:
        while sys.stdin.readline().strip():
            pass
        for command in (
            'STREAM FILE im-sorry ""',
            'STREAM FILE please-try-call-later ""',
            "HANGUP",
        ):
            AGI_OUT.write(command + "\n")
            AGI_OUT.flush()
            if not sys.stdin.readline():
                break
    except OSError:
        pass


def run() -> int:
    try:
        from dialer.hotline import main
    except Exception:  # the installation is broken; no number can be in this trace
        traceback.print_exc(file=sys.stderr)
        _fallback_apology()
        return 70  # EX_SOFTWARE
    return main(sys.argv[1:], agi_stdout=AGI_OUT)


if __name__ == "__main__":
    sys.exit(run())
