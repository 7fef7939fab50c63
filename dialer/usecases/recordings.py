"""Recordings: add (convert, validate, catalog, retire what no campaign plays),
show (versions, languages, which campaigns use it), remove."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from dialer.audio.convert import ConvertedAudio, convert_recording
from dialer.errors import AudioError, InputError
from dialer.model.recording import Recording
from dialer.settings import Settings
from dialer.store.store import Store

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class AddedRecording:
    recording: Recording
    converted: ConvertedAudio


@dataclass(frozen=True)
class RecordingDetails:
    name: str
    versions: list[Recording]  # every live version, every language
    used_by: list[str]  # campaign names

    @property
    def languages(self) -> list[str]:
        return sorted({r.language for r in self.versions})


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"recording name {name!r}: use lowercase letters, digits, - and _", field="name"
        )
    return name


def recording_language(text: str) -> str:
    """The language a recording is catalogued under: the primary subtag of a
    language code ("es-MX" is "es"). A contact's language is matched on those
    two letters, so anything else ("spanish" would have been "sp", an empty
    value "") is refused before a file is converted or a phone rung."""
    tag = text.strip().replace("_", "-").lower()
    primary = tag.split("-")[0]
    if not (len(primary) == 2 and primary.isascii() and primary.isalpha()):
        raise InputError(
            f"language {text!r} is not a language code: use two letters such as 'en' or 'es'",
            field="language",
        )
    return primary


async def add_recording(
    settings: Settings,
    store: Store,
    file: Path,
    name: str,
    language: str,
    operator: str,
    *,
    source_name: str = "",
) -> AddedRecording:
    """Convert ``file`` and catalog it as the next version of ``name`` in ``language``.

    A refused file (corrupt, silent, clipped, too long) raises ``AudioError``
    and nothing is catalogued. ``source_name``: the name the user knows the
    file by (an upload's original name); default the file's own name.
    """
    check_name(name)
    lang = recording_language(language)
    version = await store.recordings.next_version(name, lang)
    stem = f"{name}-{lang}-v{version}"
    dest = settings.audio.sounds_dir / "recordings"
    # ffmpeg and the analysis are blocking: keep them off the event loop
    try:
        converted = await asyncio.to_thread(
            convert_recording, file, dest, stem, float(settings.audio.max_seconds)
        )
    except AudioError as exc:
        # an upload's temporary copy or a phone take's file in the sounds folder
        # means nothing to the user: the refusal names the file as they know it
        shown = source_name or file.name
        raise AudioError(str(exc).replace(str(file), shown), field=exc.field) from exc
    recording = await store.recordings.add(
        name=name,
        language=lang,
        version=version,
        duration=converted.duration_s,
        sha256=converted.sha256_of_source,
        source_name=source_name or file.name,
        sound_stem=f"recordings/{stem}",
        added_by=operator,
    )
    # older versions stay while a campaign plays them, then they go
    retired = await store.recordings.retire_unpinned(
        name, await store.campaigns.pinned_versions(name), operator
    )
    for old in retired:
        for suffix in (".wav", ".sln16"):
            (settings.audio.sounds_dir / f"{old.sound_stem}{suffix}").unlink(missing_ok=True)
    return AddedRecording(recording, converted)


async def recording_details(store: Store, name: str) -> RecordingDetails:
    versions = [r for r in await store.recordings.all() if r.name == name]
    if not versions:
        raise InputError(f"no recording named {name!r}")
    return RecordingDetails(name, versions, await store.campaigns.campaigns_using_recording(name))


async def remove_recording(store: Store, name: str, operator: str) -> int:
    """Remove every version; refused while a campaign uses it."""
    used = await store.campaigns.campaigns_using_recording(name)
    return await store.recordings.remove(name, used, operator)
