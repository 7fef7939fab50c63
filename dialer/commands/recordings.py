"""``dialer recordings``: load audio in any common format, list, show, remove."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from dialer.audio import prompts
from dialer.audio.templates import Template
from dialer.campaign.messages import MessagePlanner
from dialer.campaign.personal import campaign_template, contact_hearing
from dialer.commands.common import (
    console,
    open_store,
    operator,
    print_json,
    print_table,
    run_async,
    settings,
)
from dialer.errors import InputError, NotFoundError
from dialer.model.campaign import Campaign
from dialer.model.contact import Contact
from dialer.settings import Settings
from dialer.store.store import Store
from dialer.usecases.recordings import add_recording, recording_details, remove_recording

app = typer.Typer(help="Recordings (any common audio format).", no_args_is_help=True)


@app.command()
def add(
    file: Path,
    name: str = typer.Option(..., help="Name campaigns use, e.g. closure"),
    language: str = typer.Option("en", help="Language of the recording"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Convert and catalog a recording (WAV, MP3, M4A, OGG/Opus, FLAC).

    It is converted to 8 kHz and 16 kHz mono, silence trimmed, loudness normalised;
    corrupt, silent, clipped or over-long files are refused. Adding a name again
    makes a new version. Example: dialer recordings add closure.mp3 --name closure
    """

    async def body() -> None:
        cfg = settings()
        async with open_store(cfg) as store:
            added = await add_recording(cfg, store, file, name, language, operator())
        recording, converted = added.recording, added.converted
        lang, version = recording.language, recording.version
        if json_out:
            print_json(
                {
                    "name": name,
                    "language": lang,
                    "version": version,
                    "duration": recording.duration,
                    "sha256": recording.sha256,
                }
            )
        else:
            console.print(
                f"recording {name!r} ({lang}) version {version}: {recording.duration:.1f} s, "
                f"loudness {converted.loudness_dbfs:.1f} dBFS"
            )

    run_async(body)


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List recordings. Example: dialer recordings list"""

    async def body() -> None:
        async with open_store(settings()) as store:
            rows = await store.recordings.all()
        if json_out:
            print_json(
                [
                    {
                        "name": r.name,
                        "language": r.language,
                        "version": r.version,
                        "duration": r.duration,
                        "sha256": r.sha256,
                        "source": r.source_name,
                        "added_by": r.added_by,
                        "added_at": r.added_at,
                    }
                    for r in rows
                ]
            )
        else:
            print_table(
                "Recordings",
                ["name", "lang", "version", "seconds", "source", "added by"],
                [
                    (r.name, r.language, r.version, f"{r.duration:.1f}", r.source_name, r.added_by)
                    for r in rows
                ],
            )

    run_async(body)


@app.command()
def show(name: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """Show every version of a recording. Example: dialer recordings show closure"""

    async def body() -> None:
        async with open_store(settings()) as store:
            details = await recording_details(store, name)
        rows, used = details.versions, details.used_by
        data = [
            {
                "language": r.language,
                "version": r.version,
                "duration": r.duration,
                "sha256": r.sha256,
                "source": r.source_name,
                "added_by": r.added_by,
                "added_at": str(r.added_at),
            }
            for r in rows
        ]
        if json_out:
            print_json({"name": name, "versions": data, "used_by": used})
        else:
            print_table(
                f"{name} (used by: {', '.join(used) or 'no campaign'})",
                list(data[0].keys()),
                [list(d.values()) for d in data],
            )

    run_async(body)


@app.command()
def remove(name: str) -> None:
    """Remove a recording; refused while a campaign uses it.

    Example: dialer recordings remove old-closure
    """

    async def body() -> None:
        async with open_store(settings()) as store:
            count = await remove_recording(store, name, operator())
        console.print(f"removed {count} version(s) of {name!r}")

    run_async(body)


@app.command()
def preview(
    campaign: str,
    contact: str = typer.Option("", help="The contact's id (student_id / id column)"),
    text: str = typer.Option(
        "", help="A rendered template text's id, as 'campaign preflight' lists them"
    ),
    out: Path = typer.Option(Path("preview.wav"), help="WAV file to write"),
    voicemail: bool = typer.Option(False, help="The answering-machine version"),
) -> None:
    """Write the exact audio a contact would hear to a WAV file, to listen before launching.

    Example: dialer recordings preview absence --contact s-101 --out s-101.wav
    (or --text 3f2a9c01be from 'dialer campaign preflight absence')
    """

    async def body() -> None:
        cfg = settings()
        if bool(contact) == bool(text):
            raise InputError("give either --contact ID or --text ID (from campaign preflight)")
        async with open_store(cfg) as store:
            chosen = await store.campaigns.get(campaign)
            if text:
                template = campaign_template(chosen.message)
                if template is None:
                    raise InputError(
                        f"campaign {campaign!r} plays a recording, not a template: use --contact"
                    )
                # walks the pinned version page by page until a contact hears it
                match = await _first_hearing(store, chosen, template, text, cfg)
                if match is None:
                    raise NotFoundError(f"no contact of {campaign!r} hears text {text!r}")
            else:
                match = await store.contacts.find(chosen.version_id, contact)
            if match is None:
                raise NotFoundError(f"no contact {contact!r} in list {chosen.list_name!r}")
            seconds, fallbacks = await MessagePlanner(cfg, store).preview(
                chosen, match, out, voicemail=voicemail
            )
        console.print(f"wrote {out}: {seconds:.1f} s ({match.language}, as {match.external_id})")
        for line in fallbacks:
            console.print(f"  language fallback: {line}")

    run_async(body)


async def _first_hearing(
    store: Store, campaign: Campaign, template: Template, text_id: str, cfg: Settings
) -> Contact | None:
    """The first contact of the campaign's pinned list who hears ``text_id``."""
    after = -1
    while page := await store.contacts.page(campaign.version_id, after):
        found = contact_hearing(template, page, text_id, cfg.audio.default_language)
        if found is not None:
            return found
        after = page[-1].id
    return None


@app.command("prompt")
def prompt(
    name: str,
    file: Path,
    language: str = typer.Option("en", help="Language of the recording"),
) -> None:
    """Replace a shipped prompt (optout-instruction, optout-confirmation, hotline-welcome...)
    with your own recording, for one language.

    Example: dialer recordings prompt optout-instruction our-voice.mp3 --language en
    """

    async def body() -> None:
        cfg = settings()
        if name not in prompts.PROMPT_TEXTS[prompts.DEFAULT_LANGUAGE]:
            known = ", ".join(sorted(prompts.PROMPT_TEXTS[prompts.DEFAULT_LANGUAGE]))
            raise InputError(f"{name!r} is not a prompt; prompts are: {known}")
        converted = await asyncio.to_thread(
            prompts.install_prompt_override,
            file,
            name,
            language,
            cfg.audio.sounds_dir / "prompt-overrides",
        )
        console.print(f"prompt {name!r} ({language}) replaced: {converted.duration_s:.1f} s")

    run_async(body)
