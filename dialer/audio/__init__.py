"""Recordings, prompts, text-to-speech and compliant messages (issue 4, C8-C11).

Modules, from the bottom up (imports only go downwards)::

    ffmpeg.py     the ffmpeg subprocess shell (decode, resample); AudioError on failure
    analysis.py   levels, silence, clipping on decoded PCM (pydub), no I/O
    files.py      read/write Asterisk's formats (.wav/.sln/.sln16), atomic writes
    convert.py    any common audio file → 8 kHz .wav + 16 kHz .sln16, refusals
    tts.py        espeak-ng rendering, cached by hash of (language, voice, text)
    prompts.py    shipped prompt texts and files, language fallback, overrides
    templates.py  {field} templates per language, ready templates
    message.py    segments, compose (live + voicemail), resolve per contact
    validate.py   C8/C9/C11 checks, the 2-second gap measured on real audio
    preview.py    the exact audio a contact hears, as one WAV

Everything here is blocking; async callers use ``asyncio.to_thread``.
Import pydub only through ``analysis`` (it silences the stdlib ``audioop``
deprecation warning that pydub triggers on Python 3.11/3.12).
"""
