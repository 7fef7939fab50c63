"""Preview: the exact audio one contact would hear, as one WAV file.

Staff listen to it before launching a campaign (issue 4, "Preview"). The
files are the very ones the player streams, concatenated in playing order
without gaps (Asterisk plays consecutive ``STREAM FILE`` commands back to
back), at 8 kHz, the rate of a narrowband (G.711) call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dialer.audio import ffmpeg
from dialer.audio.files import (
    NARROWBAND_RATE,
    Pcm,
    atomic_paths,
    check_playable,
    named,
    private_mode,
    write_wav,
)
from dialer.audio.message import Contact, Message, ResolveContext, resolve_message
from dialer.errors import AudioError


def render_preview(file_stems: Sequence[Path | str], out_wav: Path) -> float:
    """Concatenate the sounds named by ``file_stems`` into ``out_wav``; return its seconds.

    Each stem is found as ``.wav``, ``.sln`` or ``.sln16`` (files.read_sound);
    wideband files are brought to 8 kHz by ffmpeg. The output is written
    atomically.
    """
    if not file_stems:
        raise AudioError("nothing to preview: the message resolved to no sound files")
    parts: list[bytes] = []
    for stem in file_stems:
        pcm = check_playable(Path(stem))
        if pcm.sample_rate != NARROWBAND_RATE:
            pcm = Pcm(
                ffmpeg.resample_pcm(pcm.data, pcm.sample_rate, NARROWBAND_RATE, what=stem),
                NARROWBAND_RATE,
            )
        parts.append(pcm.data)
    out = Pcm(b"".join(parts), NARROWBAND_RATE)
    # what one contact hears (their name, their child's name): personal data, 0600
    with atomic_paths(out_wav, mode=private_mode(out_wav.parent)) as (tmp,):
        write_wav(tmp, out)
    return out.duration_s


def preview_message(
    message: Message, contact: Contact, ctx: ResolveContext, out_wav: Path
) -> tuple[float, list[str]]:
    """Resolve ``message`` for ``contact`` and write the preview.

    Returns the duration and the language fallbacks (for the report).
    """
    resolved = resolve_message(message, contact, ctx)
    for segment in resolved.segments:
        with named(segment.label):  # a problem names the recording, not a server path
            for stem in segment.stems:
                check_playable(stem)
    return render_preview(resolved.stems(), out_wav), resolved.fallbacks
