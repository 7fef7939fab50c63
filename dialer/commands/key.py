"""``dialer key``: the store key's fingerprint and its rotation."""

from __future__ import annotations

import asyncio

import typer

from dialer.audio.tts import clear_cache
from dialer.commands.common import console, open_store, operator, print_json, run_async, settings
from dialer.store.engine_lock import EngineLock

app = typer.Typer(help="The store key: fingerprint and rotation.", no_args_is_help=True)


@app.command()
def fingerprint(json_out: bool = typer.Option(False, "--json")) -> None:
    """Show the key fingerprint stored in the database (note it next to the key's backup).

    Example: dialer key fingerprint
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            value = await store.key_fingerprint()
        if json_out:
            print_json({"key_file": str(cfg.store.key_file), "fingerprint": value})
        else:
            console.print(f"{cfg.store.key_file}: fingerprint {value}")

    run_async(body)


@app.command()
def rotate(json_out: bool = typer.Option(False, "--json")) -> None:
    """Replace the store key: re-encrypt, re-index and re-chain in one transaction.

    Stop 'dialer serve' first (the command refuses while an engine runs). The old
    key file is kept as <key>.retired-<time>: only it opens backups made before.

    Example: dialer key rotate
    """

    async def body() -> None:
        cfg = settings()
        with EngineLock(cfg.store.path, "key rotate"):
            async with open_store(cfg) as store:
                report = await store.rotate_key(cfg.store.key_file, operator())
            # spoken names are cached under names keyed by the store key (C18): with
            # a new key they would never be found again, so the old renders go now
            await asyncio.to_thread(clear_cache, cfg.audio.sounds_dir / "tts")
        if json_out:
            print_json(
                {
                    "key_file": str(report.key_file),
                    "retired_key_file": str(report.retired_key_file),
                    "old_fingerprint": report.old_fingerprint,
                    "new_fingerprint": report.new_fingerprint,
                    "resealed_values": report.resealed_values,
                    "reindexed_values": report.reindexed_values,
                    "audit_entries": report.audit_entries,
                }
            )
            return
        console.print(
            f"new key in {report.key_file} (fingerprint {report.new_fingerprint[:16]}); "
            f"{report.resealed_values} values re-encrypted, {report.reindexed_values} "
            f"re-indexed, {report.audit_entries} audit entries chained again"
        )
        console.print(
            f"the old key is now {report.retired_key_file}: keep it with the backups made "
            "before this rotation (only it opens them), and back up the new key now"
        )

    run_async(body)
