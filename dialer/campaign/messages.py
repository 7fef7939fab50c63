"""Per-call play plans: which sound files a contact hears, in their language.

The message structure (C8-C11) is: identification → opt-out instruction →
body → callback number → "press star to hear this again". Sound files live
under ``audio.sounds_dir`` (where we write) which Asterisk reads as
``audio.asterisk_sounds_dir`` (same folder, maybe another path, e.g. inside a
chroot); AGI names files by that path without extension.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dialer.audio import prompts
from dialer.campaign.broadcast import PlayPlan
from dialer.campaign.model import Campaign, Contact
from dialer.errors import NotFoundError
from dialer.settings import Settings
from dialer.store.store import Store


def install_prompts(sounds_dir: Path) -> Path:
    """Copy the shipped prompts where Asterisk reads sounds (idempotent)."""
    target = sounds_dir / "prompts"
    for source in prompts.SHIPPED_PROMPTS_DIR.rglob("*"):
        if source.is_file():
            dest = target / source.relative_to(prompts.SHIPPED_PROMPTS_DIR)
            if not dest.exists() or dest.stat().st_size != source.stat().st_size:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
    return target


class MessagePlanner:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.sounds_dir = settings.audio.sounds_dir
        self.asterisk_dir = settings.audio.asterisk_sounds_dir or str(self.sounds_dir)
        self.default_language = settings.audio.default_language
        install_prompts(self.sounds_dir)

    def asterisk_name(self, path: Path) -> str:
        """The name AGI uses for a file under sounds_dir (no extension)."""
        relative = path.relative_to(self.sounds_dir).with_suffix("")
        return f"{self.asterisk_dir.rstrip('/')}/{relative.as_posix()}"

    def prompt(self, name: str, language: str) -> str:
        for lang in (language, self.default_language):
            candidate = self.sounds_dir / "prompts" / lang / f"{name}.wav"
            if candidate.exists():
                return self.asterisk_name(candidate)
        raise NotFoundError(f"prompt {name!r} is missing for {language!r} and the default")

    async def plan(self, campaign: Campaign, contact: Contact) -> PlayPlan:
        languages = await self.store.recordings.languages(campaign.message.body)
        language = contact.language if contact.language in languages else self.default_language
        body = await self.store.recordings.get(campaign.message.body, language)
        body_name = f"{self.asterisk_dir.rstrip('/')}/{body.sound_stem}"
        return PlayPlan(
            segments=[self.prompt(prompts.OPTOUT_INSTRUCTION, language), body_name],
            optout_confirmation=self.prompt(prompts.OPTOUT_CONFIRMATION, language),
            wrong_number_confirmation=self.prompt(prompts.WRONG_NUMBER_CONFIRMATION, language),
            language=language,
        )
