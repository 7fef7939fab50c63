"""Per-call play plans: which sound files a contact hears, in their language.

A campaign message is composed by ``dialer.audio.message`` in the order
C8-C11 require: identification (the organisation's name, a recording or
spoken by TTS) → "to stop these calls, press 9" → "wrong person, press 8" →
body (a recording, or a template filled with the contact's fields) →
callback number digit by digit → "press star to hear this again".

Sound files live under ``audio.sounds_dir`` (where we write) which Asterisk
reads as ``audio.asterisk_sounds_dir`` (the same folder, perhaps under another
path, e.g. inside a chroot); AGI names files by that path without extension.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from dialer.audio import prompts, templates
from dialer.audio.message import (
    ComposedMessage,
    RecordingSource,
    ResolveContext,
    Source,
    TemplateSource,
    TextSource,
    compose_message,
    resolve_message,
)
from dialer.audio.message import Contact as AudioContact
from dialer.audio.preview import preview_message
from dialer.audio.validate import validate_message
from dialer.campaign.personal import campaign_template, missing_fields
from dialer.errors import MessageError
from dialer.model.campaign import Campaign, MessageSpec, PlayPlan
from dialer.model.contact import Contact
from dialer.settings import Settings
from dialer.store.store import Store

TEMPLATE_PREFIX = "template:"


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
        self.asterisk_dir = (settings.audio.asterisk_sounds_dir or str(self.sounds_dir)).rstrip("/")
        self.default_language = settings.audio.default_language
        shipped = install_prompts(self.sounds_dir)
        self.context = ResolveContext(
            library=prompts.prompt_library(
                override_dir=self.sounds_dir / "prompt-overrides",
                default_language=self.default_language,
                shipped_dir=shipped,
            ),
            tts_cache_dir=self.sounds_dir / "tts",
            tts_name_key=store.sealer.name_key("tts"),
            default_language=self.default_language,
            default_region=settings.organisation.default_region,
        )
        self._composed: dict[str, ComposedMessage] = {}
        #: resolved plans: they depend only on the language, and for templates the fields
        self._plans: dict[tuple[str, str, frozenset[tuple[str, str]]], PlayPlan] = {}

    def asterisk_name(self, stem: Path) -> str:
        """The name AGI uses for a file under sounds_dir (no extension)."""
        relative = stem.relative_to(self.sounds_dir)
        return f"{self.asterisk_dir}/{relative.as_posix()}"

    async def _source(self, name: str, pins: dict[str, int] | None = None) -> Source:
        if name.startswith(TEMPLATE_PREFIX):
            return TemplateSource(templates.ready_template(name[len(TEMPLATE_PREFIX) :]))
        recordings = self.store.recordings
        versions = pins or await recordings.latest_versions(name)
        if not versions:
            await recordings.get(name)  # raises NotFoundError naming it
        stems = {
            lang: self.sounds_dir / (await recordings.version(name, lang, version)).sound_stem
            for lang, version in versions.items()
        }
        return RecordingSource(name, stems, dict(versions))

    async def pin(self, spec: MessageSpec) -> MessageSpec:
        """The spec with today's versions of its recordings fixed (see MessageSpec)."""
        pins = {
            name: await self.store.recordings.latest_versions(name) for name in spec.recordings()
        }
        return MessageSpec(spec.body, spec.identification, pins)

    async def compose(self, name: str, spec: MessageSpec) -> ComposedMessage:
        org = self.settings.organisation
        if not org.callback_number:
            raise MessageError(
                "C11: every message states a callback number; set organisation.callback_number "
                f"in {self.settings.source}"
            )
        identification: Source = (
            await self._source(spec.identification, spec.pins.get(spec.identification))
            if spec.identification
            else TextSource("organisation name", {"en": org.name, "es": org.name})
        )
        return compose_message(
            name,
            identification=identification,
            body=await self._source(spec.body, spec.pins.get(spec.body)),
            callback_number=org.callback_number,
            hotline_number=org.hotline_number or org.callback_number,
        )

    async def validate(
        self, name: str, spec: MessageSpec, contacts: list[Contact], *, own_line: str = ""
    ) -> None:
        """Refuse a message missing a part or missing the 2-second rule (C8-C11).

        ``own_line``: the campaign's caller ID. C11: neither the callback number
        nor the hotline may be the dialer's own line, and the voicemail version
        must say how to opt out, so a hotline number must be configured (it is
        never replaced by the callback number).
        """
        org = self.settings.organisation
        if not org.hotline_number:
            raise MessageError(
                "C11: the voicemail version of every message gives the opt-out hotline; set "
                f"organisation.hotline_number in {self.settings.source}"
            )
        composed = await self.compose(name, spec)
        template = campaign_template(spec)
        if template is not None:
            # issue 14: a contact missing a field is blocked from the campaign, not a
            # reason to refuse it; measure the message on contacts who will hear it
            contacts = [
                c for c in contacts if not missing_fields(template, c, self.default_language)
            ]
        audio_contacts = [_audio_contact(c) for c in contacts]
        languages = sorted({c.language for c in contacts} | {self.default_language})
        for message in (composed.live, composed.voicemail):
            await asyncio.to_thread(
                validate_message,
                message,
                self.context,
                contacts=audio_contacts,
                languages=languages,
                forbidden_callback_numbers=[own_line] if own_line else [],
            )

    async def plan(self, campaign: Campaign, contact: Contact) -> PlayPlan:
        personal = campaign.message.body.startswith(TEMPLATE_PREFIX)
        key = (
            campaign.name,
            contact.language,
            frozenset(contact.fields.items()) if personal else frozenset(),
        )
        cached = self._plans.get(key)
        if cached is None:
            cached = await self._plan(campaign, contact)
            if len(self._plans) < 10_000:
                self._plans[key] = cached
        return cached

    async def _plan(self, campaign: Campaign, contact: Contact) -> PlayPlan:
        composed = self._composed.get(campaign.name)
        if composed is None:
            composed = self._composed[campaign.name] = await self.compose(
                campaign.name, campaign.message
            )
        # TTS rendering blocks (cached per distinct text): keep it off the event loop
        resolved = await asyncio.to_thread(
            resolve_message, composed.live, _audio_contact(contact), self.context
        )
        voicemail = await asyncio.to_thread(
            resolve_message, composed.voicemail, _audio_contact(contact), self.context
        )
        language = resolved.language if not resolved.fallbacks else self.default_language
        library = self.context.library
        return PlayPlan(
            segments=[self.asterisk_name(stem) for stem in resolved.stems()],
            optout_confirmation=self.asterisk_name(
                library.resolve(prompts.OPTOUT_CONFIRMATION, resolved.language).stem
            ),
            wrong_number_confirmation=self.asterisk_name(
                library.resolve(prompts.WRONG_NUMBER_CONFIRMATION, resolved.language).stem
            ),
            language=language,
            fallbacks=tuple(resolved.fallbacks),
            kinds=tuple(str(seg.kind) for seg in resolved.segments for _ in seg.stems),
            voicemail=[self.asterisk_name(stem) for stem in voicemail.stems()],
        )

    async def preview(
        self, campaign: Campaign, contact: Contact, out_wav: Path, *, voicemail: bool = False
    ) -> tuple[float, list[str]]:
        """Write exactly what ``contact`` would hear to ``out_wav`` (seconds, fallbacks)."""
        composed = await self.compose(campaign.name, campaign.message)
        message = composed.voicemail if voicemail else composed.live
        return await asyncio.to_thread(
            preview_message, message, _audio_contact(contact), self.context, out_wav
        )


def _audio_contact(contact: Contact) -> AudioContact:
    return AudioContact(id=contact.external_id, language=contact.language, fields=contact.fields)
