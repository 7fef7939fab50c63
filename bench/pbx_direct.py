"""The engine against a bare panoramisk loop, in the same run (issue #11 item 5).

Both halves place the same calls through the sandbox Asterisk, one after the
other: phone 5 (numbers ending in 5) answers, presses 9 after 1.5 s; the AGI
plays the campaign's message until the 9, then the opt-out confirmation, then
hangs up. Both originate the callee channel directly into ``dialer-answered``.

- the **bare loop**: panoramisk's ``Manager`` and a minimal FastAGI server, no
  store, no gate, nothing but Originate → AGI → Hangup, with the same sound
  files the engine plays;
- the **engine**: ``Engine.run_campaign`` over a campaign of the same size
  (gate with store look-up per attempt, decision and outcome rows, the keypad
  revocation committed before the confirmation, progress marks).

Each half runs in its own child process, so its CPU time is its own
(``time.process_time`` around the calls, and the whole process, set-up
included). Asterisk's CPU comes from ``/proc/<pid>/stat`` of the sandbox's
asterisk process, read before and after each half.

    flock /tmp/dialer-sandbox.lock .venv/bin/python bench/pbx_direct.py [calls] [concurrency]

Defaults: 3,000 calls at 800 concurrent. Targets: engine calls/s >= 90% of the
bare loop's, engine CPU per call <= 2x the bare loop's, Asterisk CPU per call
<= 15 ms. Needs root (the sandbox).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from support.sandbox import Sandbox, ensure_sandbox  # noqa: E402
from support.workspace import make_workspace  # noqa: E402

CAMPAIGN = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ set-up


def prepare(root: Path, box: Sandbox, calls: int, concurrency: int) -> Path:
    """A workspace with a campaign of ``calls`` phone-5 contacts; returns its config."""
    ws = make_workspace(
        root, box, max_concurrent=concurrency, calls_per_second=1000, ring_timeout=10
    )
    contacts = root / "contacts.csv"
    with contacts.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "phone"])
        for i in range(calls):
            # New York numbers ending in 5: the "answers, presses 9" dialplan phone
            writer.writerow([f"c{i}", f"+1212{200 + i // 1000:03d}{i % 1000:03d}5"])
    ws.ok("contacts", "import", str(contacts), "--list", "bench")
    ws.ok("recordings", "add", str(REPO / "recordings/samples/en/example-body.wav"), "--name", "m")
    ws.ok("callerid", "add", "+12125550100", "--label", "office")
    # emergency: no consent or calling window needed, so it runs at any hour;
    # the gate still reads every number's facts from the store before each call
    ws.ok(
        "campaign",
        "create",
        CAMPAIGN,
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
    return ws.config


def asterisk_cpu_s(pid: int) -> float:
    """utime + stime of the asterisk process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------- bare loop


async def bare_loop(config: Path, calls: int, concurrency: int) -> dict[str, Any]:
    from panoramisk.manager import Manager

    from dialer.settings import load_settings
    from dialer.store.store import Store

    settings = load_settings(config)
    # the same sound files the engine plays (set-up: not timed)
    store = await Store.open(settings.store.path, settings.store.key_file)
    try:
        from dialer.campaign.messages import MessagePlanner

        campaign = await store.campaigns.get(CAMPAIGN)
        contact = (await store.contacts.contacts(campaign.list_id))[0]
        plan = await MessagePlanner(settings, store).plan(campaign, contact)
    finally:
        await store.close()
    segments = list(plan.segments)
    confirmation = plan.optout_confirmation
    numbers = [f"1212{200 + i // 1000:03d}{i % 1000:03d}5" for i in range(calls)]

    hung_up: dict[str, asyncio.Future[None]] = {}
    outcomes: Counter[str] = Counter()

    async def agi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        try:
            while (line := (await reader.readline()).decode(errors="replace").strip()) != "":
                key, _, value = line.partition(":")
                env[key] = value.strip()

            async def command(text: str) -> str:
                writer.write(text.encode() + b"\n")
                await writer.drain()
                while True:
                    reply = (await reader.readline()).decode(errors="replace")
                    if not reply:
                        raise ConnectionError
                    if not reply.startswith("HANGUP"):
                        return reply

            digit = ""
            for segment in segments:
                reply = await command(f'STREAM FILE {segment} "9"')
                code = reply.split("result=", 1)[1].split()[0] if "result=" in reply else "-1"
                if code == "57":
                    digit = "9"
                    break
                if code.startswith("-"):
                    break
            if digit == "9":
                await command(f'STREAM FILE {confirmation} ""')
                outcomes["opted-out"] += 1
            else:
                outcomes["completed"] += 1
            await command("HANGUP")
        except (ConnectionError, IndexError):
            outcomes["agi-ended"] += 1
        finally:
            writer.close()

    server = await asyncio.start_server(agi, "127.0.0.1", 0, backlog=1024)
    agi_url = f"agi://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    secret = settings.ami_secret()
    manager = Manager(
        host=settings.asterisk.ami_host,
        port=settings.asterisk.ami_port,
        username=settings.asterisk.ami_user,
        secret=secret,
        events="call,user,dtmf",
    )

    def on_hangup(_manager: object, event: Any) -> None:
        future = hung_up.get(event.get("Uniqueid", ""))
        if future is not None and not future.done():
            future.set_result(None)

    manager.register_event("Hangup", on_hangup)
    await manager.connect()
    await asyncio.sleep(0)  # panoramisk's connection_made callback sends the Login
    login = await asyncio.wait_for(manager.authenticated_future, 10)
    if not login.success:
        sys.exit("bare loop: AMI login refused")
    slots = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        call_id = f"bare-{os.getpid()}-{i}"
        done = hung_up[call_id] = loop.create_future()
        try:
            reply = await manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": f"Local/{numbers[i]}@sandbox-phones",
                    "Context": settings.asterisk.answered_context,
                    "Exten": "s",
                    "Priority": "1",
                    "Async": "true",
                    "Timeout": "15000",
                    "CallerID": '"Bench" <+12125550100>',
                    "ChannelId": call_id,
                    "Variable": [f"CALL_ID={call_id}", f"DIALER_AGI={agi_url}"],
                }
            )
            last = reply[-1] if isinstance(reply, list) else reply
            answered = last.get("Response") == "Success"
            if not answered:
                outcomes[f"not-answered (reason {last.get('Reason', '?')})"] += 1
            try:
                # an unanswered call's channel may never have existed: no Hangup then
                await asyncio.wait_for(done, 60 if answered else 5)
            except TimeoutError:
                outcomes["no Hangup event" if answered else "no channel"] += 1
        finally:
            hung_up.pop(call_id, None)
            slots.release()

    cpu0, started = time.process_time(), time.perf_counter()
    tasks = []
    for i in range(calls):
        await slots.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    manager.close()
    server.close()
    return {"seconds": seconds, "cpu": cpu, "outcomes": dict(outcomes)}


# ------------------------------------------------------------------ engine


async def engine_run(config: Path) -> dict[str, Any]:
    from dialer.campaign.engine import Engine
    from dialer.settings import load_settings
    from dialer.store.store import Store

    settings = load_settings(config)
    store = await Store.open(settings.store.path, settings.store.key_file)
    try:
        async with Engine(settings, store) as engine:
            cpu0, started = time.process_time(), time.perf_counter()
            summary = await engine.run_campaign(CAMPAIGN)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        await store.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "outcomes": dict(summary.outcomes),
        "direct": getattr(settings.asterisk, "dial_via_dialplan", True) is False,
    }


def child(phase: str, config: Path, calls: int, concurrency: int) -> None:
    raise_fd_limit()
    if phase == "bare":
        figures = asyncio.run(bare_loop(config, calls, concurrency))
    else:
        figures = asyncio.run(engine_run(config))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu_with_setup"] = usage.ru_utime + usage.ru_stime
    print("FIGURES " + json.dumps(figures), flush=True)


# ------------------------------------------------------------------- parent


def run_phase(phase: str, config: Path, calls: int, concurrency: int, pid: int) -> dict[str, Any]:
    ast0 = asterisk_cpu_s(pid)
    done = subprocess.run(
        [sys.executable, __file__, "--child", phase, str(config), str(calls), str(concurrency)],
        capture_output=True,
        text=True,
        check=False,
    )
    ast1 = asterisk_cpu_s(pid)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("FIGURES ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"{phase} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(line.removeprefix("FIGURES "))
    figures["asterisk_cpu"] = ast1 - ast0
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        phase, config, calls, concurrency = sys.argv[2:6]
        child(phase, Path(config), int(calls), int(concurrency))
        return
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 800
    box = ensure_sandbox()
    pid = box.pid()
    root = Path(tempfile.mkdtemp(prefix="dialer-bench-"))
    config = prepare(root, box, calls, concurrency)
    bare = run_phase("bare", config, calls, concurrency, pid)
    engine = run_phase("engine", config, calls, concurrency, pid)

    def row(name: str, f: dict[str, Any]) -> None:
        print(
            f"{name:8} {calls / f['seconds']:7.1f} calls/s  "
            f"{f['cpu'] / calls * 1000:6.2f} ms CPU/call "
            f"({f['cpu_with_setup'] / calls * 1000:.2f} with set-up)  "
            f"Asterisk {f['asterisk_cpu'] / calls * 1000:6.2f} ms CPU/call  "
            f"{f['seconds']:6.1f} s  {f['outcomes']}"
        )

    print(f"{calls} calls, {concurrency} concurrent, phone 5 (answer, 9 at 1.5 s, confirmation)")
    print(f"engine originates directly: {engine.get('direct')}")
    row("bare", bare)
    row("engine", engine)
    speed = (calls / engine["seconds"]) / (calls / bare["seconds"])
    cpu_ratio = engine["cpu"] / bare["cpu"]
    print(f"engine speed vs bare loop: {speed:.0%} (target >= 90%)")
    print(f"engine CPU per call vs bare loop: {cpu_ratio:.2f}x (target <= 2x)")
    print(
        f"Asterisk CPU per call: bare {bare['asterisk_cpu'] / calls * 1000:.1f} ms, "
        f"engine {engine['asterisk_cpu'] / calls * 1000:.1f} ms (target <= 15 ms)"
    )
    print(f"workspace: {root}")


if __name__ == "__main__":
    main()
