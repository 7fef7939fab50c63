"""Engine throughput against the sandbox Asterisk (a benchmark, not a test).

Places N real calls through AMI → Asterisk → dialplan phone 5 (answers, presses
9 after 1.5 s) → FastAGI message → keypad revocation committed → confirmation
→ hangup. Every call passes the full gate with a store look-up and four store
writes (decision, answered, revocation + audit, outcome).

    sudo .venv/bin/python bench/campaign_throughput.py [calls] [concurrency]

Prints calls/s and the time per call; needs the sandbox running
(scripts/asterisk-sandbox start).
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.sandbox import ensure_sandbox  # noqa: E402
from support.workspace import make_workspace  # noqa: E402

from dialer.campaign.engine import Engine  # noqa: E402
from dialer.store.store import Store  # noqa: E402


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    box = ensure_sandbox()
    root = Path(tempfile.mkdtemp(prefix="dialer-bench-"))
    ws = make_workspace(root, box, max_concurrent=concurrency, calls_per_second=1000)
    contacts = root / "contacts.csv"
    with contacts.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "phone"])
        for i in range(calls):
            # New York numbers ending in 5: the sandbox's "answers, presses 9" phone
            writer.writerow([f"c{i}", f"+1212{200 + i // 1000:03d}{i % 1000:03d}5"])
    ws.ok("contacts", "import", str(contacts), "--list", "bench")
    ws.ok("recordings", "add", str(REPO / "recordings/samples/en/example-body.wav"), "--name", "m")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    # emergency: no consent or window needed, so the benchmark runs at any hour;
    # the gate still reads every number's facts from the store before each call
    ws.ok(
        "campaign",
        "create",
        "bench",
        "--purpose",
        "emergency",
        "--category",
        "closure",
        "--authorized-by",
        "benchmark",
        "--list",
        "bench",
        "--message",
        "m",
        "--caller-id",
        "+12125550100",
    )
    settings = ws.settings()

    async def run() -> tuple[float, float, Counter[str]]:
        store = await Store.open(settings.store.path, settings.store.key_file)
        try:
            async with Engine(settings, store) as engine:
                started = time.perf_counter()
                cpu = time.process_time()
                summary = await engine.run_campaign("bench")
                cpu = time.process_time() - cpu
                return time.perf_counter() - started, cpu, summary.outcomes
        finally:
            await store.close()

    seconds, cpu, outcomes = asyncio.run(run())
    print(f"calls placed:        {sum(outcomes.values())} (outcomes: {dict(outcomes)})")
    print(f"max concurrent:      {concurrency}")
    print(f"wall time:           {seconds:.1f} s")
    print(f"throughput:          {sum(outcomes.values()) / seconds:.1f} calls/s")
    # CPU time of the engine process: steadier than calls/s on a busy machine
    print(f"engine CPU per call: {1000 * cpu / max(1, sum(outcomes.values())):.2f} ms")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
    print(f"workspace:           {root}")


if __name__ == "__main__":
    main()
