"""A million contacts in bounded memory (issue 11): the figures of its table.

    flock /tmp/dialer-sandbox.lock .venv/bin/python bench/contacts_scale.py [rows] [phases]

``rows`` defaults to 1,000,000; ``phases`` (comma-separated, default all):

- ``import``: ``dialer contacts import`` of a generated export (bench/contacts_list.py)
  as its own process: wall time, peak RSS of the command and of its whole
  process tree (the import prepares rows in worker processes);
- ``create``: ``dialer campaign create`` over that list: time and peak RSS;
- ``revoke``: p50/p99 of staff, SMS and keypad revocations (``Store.revoke_durably``,
  the one function every channel ends in), first on a quiet store, then while
  a second million-row import runs and a campaign places real calls through the
  sandbox (phone 5 answers and presses 9: a keypad revocation per call);
- ``run``: ``dialer campaign run`` over the million-contact list for
  ``RUN_SECONDS``: its RSS every second (steady means flat);
- ``report``: how long ``campaign report --json`` / ``--csv`` take to print
  their first line on that campaign;
- ``invalid``: ``contacts import --strict`` of ``rows`` invalid rows: exit code,
  time, peak RSS, and that no list was published.

Needs the sandbox Asterisk (scripts/asterisk-sandbox start); run it under the
sandbox lock so other tests do not distort the figures. Prints a table.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from contacts_list import write as write_list  # noqa: E402
from support.sandbox import ensure_sandbox  # noqa: E402
from support.workspace import CALLER_ID, Workspace, make_workspace  # noqa: E402

from dialer.campaign.engine import Engine  # noqa: E402
from dialer.consent.model import RevocationChannel  # noqa: E402
from dialer.sms import handle_inbound_sms  # noqa: E402
from dialer.store.store import Store  # noqa: E402

RUN_SECONDS = 60
KEYPAD_CALLS = 3000


# -- measuring a command ---------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(_children(current))
    return out


class Sampler:
    """Peak RSS of a process and of its whole tree, sampled every 50 ms."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid = pid
        self.every = every
        self.main_kb = 0
        self.tree_kb = 0
        self.series: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            main = _rss_kb(self.pid)
            tree = sum(_rss_kb(p) for p in _tree(self.pid))
            self.main_kb = max(self.main_kb, main)
            self.tree_kb = max(self.tree_kb, tree)
            self.series.append((time.perf_counter() - self._started, main))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def dialer_command(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "dialer", "--config", str(ws.config), *args]


def timed(ws: Workspace, *args: str) -> tuple[float, Sampler, str]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        dialer_command(ws, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    sampler = Sampler(proc.pid)
    output = proc.communicate()[0].decode()
    elapsed = time.perf_counter() - started
    sampler.stop()
    if proc.returncode != 0:
        raise SystemExit(f"dialer {' '.join(args)} failed:\n{output[-2000:]}")
    return elapsed, sampler, output


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


# -- phases ------------------------------------------------------------------------------


def phase_import(ws: Workspace, export: Path, rows: int, table: list[tuple[str, str]]) -> None:
    elapsed, sampler, _ = timed(ws, "contacts", "import", str(export), "--list", "big")
    table.append(
        (
            f"contacts import, {rows:,} rows",
            f"{elapsed:.1f} s; peak RSS {mb(sampler.main_kb)} (command), "
            f"{mb(sampler.tree_kb)} (with its workers)",
        )
    )


def phase_create(ws: Workspace, rows: int, table: list[tuple[str, str]]) -> None:
    elapsed, sampler, _ = timed(
        ws,
        "campaign",
        "create",
        "big",
        "--purpose",
        "emergency",
        "--category",
        "closure",
        "--authorized-by",
        "benchmark",
        "--list",
        "big",
        "--message",
        "m",
        "--caller-id",
        CALLER_ID,
    )
    table.append(
        (
            f"campaign create over {rows:,} contacts",
            f"{elapsed:.2f} s; peak RSS {mb(sampler.main_kb)}",
        )
    )


def _percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms (n={len(ordered)})"
    )


def _timing_revocations(latencies: dict[str, list[float]]) -> Callable[[], None]:
    """Time every ``Store.revoke_durably`` (keypad route, SMS handler, staff) in this process."""
    original = Store.revoke_durably

    async def timed_revoke(self: Store, number: str, channel: RevocationChannel, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(self, number, channel, **kw)
        finally:
            latencies[channel.value].append(time.perf_counter() - started)

    Store.revoke_durably = timed_revoke  # type: ignore[method-assign]

    def undo() -> None:
        Store.revoke_durably = original  # type: ignore[method-assign]

    return undo


async def _staff_and_sms(store: Store, until: Callable[[], bool], tag: str) -> None:
    n = 0
    while not until():
        n += 1
        await store.revoke_durably(
            f"+1415555{n % 10000:04d}", RevocationChannel.STAFF, recorded_by="bench"
        )
        await handle_inbound_sms(store, f"+1415666{n % 10000:04d}", "STOP", f"{tag}-{n}")
        await asyncio.sleep(0.05)


def phase_revoke(ws: Workspace, export: Path, table: list[tuple[str, str]]) -> None:
    settings = ws.settings()
    keypad = ws.root / "keypad.csv"
    with keypad.open("w") as handle:
        handle.write("id,phone\n")
        # New York numbers ending in 5: the sandbox phone that answers and presses 9
        handle.writelines(
            f"k{i},+1212{300 + i // 1000:03d}{i % 1000:03d}5\n" for i in range(KEYPAD_CALLS)
        )
    ws.ok("contacts", "import", str(keypad), "--list", "keypad")
    ws.ok(
        "campaign", "create", "keypad", "--purpose", "emergency", "--category", "closure",
        "--authorized-by", "benchmark", "--list", "keypad", "--message", "m",
        "--caller-id", CALLER_ID,
    )  # fmt: skip
    quiet: dict[str, list[float]] = defaultdict(list)
    loaded: dict[str, list[float]] = defaultdict(list)

    async def measure() -> None:
        store = await Store.open(settings.store.path, settings.store.key_file)
        try:
            undo = _timing_revocations(quiet)
            deadline = time.monotonic() + 5
            await _staff_and_sms(store, lambda: time.monotonic() > deadline, "quiet")
            undo()
            undo = _timing_revocations(loaded)
            importer = subprocess.Popen(  # noqa: ASYNC220 (started, never waited on here)
                dialer_command(ws, "contacts", "import", str(export), "--list", "big2"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            async with Engine(settings, store) as engine:
                campaign = asyncio.create_task(engine.run_campaign("keypad"))
                await asyncio.sleep(2)  # calls under way before the import starts writing
                await _staff_and_sms(store, lambda: importer.poll() is not None, "loaded")
                campaign.cancel()
                await asyncio.gather(campaign, return_exceptions=True)
            undo()
            if importer.returncode != 0:
                raise SystemExit("the second import failed")
        finally:
            await store.close()

    asyncio.run(measure())
    for channel in ("staff", "sms"):
        table.append((f"{channel} revocation, quiet store", _percentiles(quiet[channel])))
    for channel in ("staff", "sms", "keypad"):
        table.append(
            (
                f"{channel} revocation during a 1M import + running campaign",
                _percentiles(loaded[channel]),
            )
        )


def phase_run(ws: Workspace, table: list[tuple[str, str]]) -> None:
    proc = subprocess.Popen(
        dialer_command(ws, "campaign", "run", "big", "--json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = Sampler(proc.pid, every=1.0)
    time.sleep(RUN_SECONDS)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
    sampler.stop()
    series = [kb for _, kb in sampler.series if kb]
    half = series[len(series) // 2 :]
    table.append(
        (
            f"campaign run over the big list, {RUN_SECONDS} s",
            f"RSS after 10 s {mb(series[min(10, len(series) - 1)])}, "
            f"last half {mb(min(half))}-{mb(max(half))}, peak {mb(max(series))}",
        )
    )


def _first_line(ws: Workspace, *args: str) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        dialer_command(ws, *args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - started
    for _ in iter(lambda: proc.stdout.read(1 << 16) if proc.stdout else b"", b""):
        pass
    proc.wait()
    return first, time.perf_counter() - started


def phase_report(ws: Workspace, table: list[tuple[str, str]]) -> None:
    for flag in ("--json", "--csv"):
        first, whole = _first_line(ws, "campaign", "report", "big", flag)
        table.append((f"campaign report {flag}", f"first line {first:.2f} s, all {whole:.1f} s"))


def phase_invalid(ws: Workspace, rows: int, table: list[tuple[str, str]]) -> None:
    """Bad input at scale: ``rows`` invalid rows, ``--strict``: a clear refusal, bounded
    memory, nothing published."""
    bad = ws.root / "invalid.csv"
    with bad.open("w") as handle:
        handle.write("id,phone\n")
        handle.writelines(f"s{i},555-{i % 100:02d}\n" for i in range(rows))
    started = time.perf_counter()
    proc = subprocess.Popen(
        dialer_command(ws, "contacts", "import", str(bad), "--list", "bad", "--strict"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sampler = Sampler(proc.pid)
    output = proc.communicate()[0].decode()
    elapsed = time.perf_counter() - started
    sampler.stop()
    listed = json.loads(ws.ok("contacts", "lists", "--json"))
    published = any(row.get("list") == "bad" for row in listed)
    first = next((ln for ln in output.splitlines() if "invalid" in ln), output[:120])
    table.append(
        (
            f"contacts import --strict, {rows:,} invalid rows",
            f"exit {proc.returncode} in {elapsed:.1f} s; peak RSS {mb(sampler.main_kb)} "
            f"(command), {mb(sampler.tree_kb)} (with workers); list published: "
            f"{published}; says: {first.strip()[:100]}",
        )
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    phases = (
        sys.argv[2].split(",")
        if len(sys.argv) > 2
        else ["import", "create", "revoke", "run", "report", "invalid"]
    )
    box = ensure_sandbox()
    root = Path(tempfile.mkdtemp(prefix="dialer-scale-"))
    ws = make_workspace(root, box, max_concurrent=100, calls_per_second=50)
    ws.ok("recordings", "add", str(REPO / "recordings/samples/en/example-body.wav"), "--name", "m")
    ws.ok("callerid", "add", CALLER_ID, "--label", "office")
    export = write_list(rows, root / "export.csv")
    table: list[tuple[str, str]] = []
    steps: dict[str, Callable[[], None]] = {
        "import": lambda: phase_import(ws, export, rows, table),
        "create": lambda: phase_create(ws, rows, table),
        "revoke": lambda: phase_revoke(ws, export, table),
        "run": lambda: phase_run(ws, table),
        "report": lambda: phase_report(ws, table),
        "invalid": lambda: phase_invalid(ws, rows, table),
    }
    for phase in phases:
        steps[phase]()
        print(f"{phase}: {table[-1][1]}", flush=True)
    width = max(len(k) for k, _ in table)
    print(f"\n{'what'.ljust(width)}  figure\n{'-' * width}  {'-' * 60}")
    for what, figure in table:
        print(f"{what.ljust(width)}  {figure}")
    print(f"\n(workspace kept in {root})")


if __name__ == "__main__":
    main()
