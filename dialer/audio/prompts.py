"""The default prompts the product ships, and how a prompt is found for a language.

Shipped prompts live in ``recordings/prompts/<language>/<name>.wav`` (8 kHz
16-bit mono, made offline by ``scripts/make-prompts`` with espeak-ng from
the texts below, so they can be regenerated and reviewed as text). Digits
live under ``digits/`` and are spoken one by one for the callback and
hotline numbers (C11); ``pause`` is 300 ms of silence between digit groups.

Resolution order for ``resolve(name, language)``: every search directory
(operator overrides first, then the district's recordings, then the shipped
set) is tried for the contact's language (``es-mx``, then ``es``), then the
same for the default language. Falling back to the default language is
reported on the result (issue 4, "Languages": the report shows it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dialer.audio.convert import ConvertedAudio, convert_recording
from dialer.audio.files import EXTENSIONS
from dialer.audio.tts import normalise_language
from dialer.errors import AudioError, NotFoundError

#: ``<repo>/recordings/prompts``: the set committed with the source
SHIPPED_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "recordings" / "prompts"
#: sample recordings committed for demos and tests (``<lang>/<name>.wav``)
SHIPPED_SAMPLES_DIR = Path(__file__).resolve().parents[2] / "recordings" / "samples"
DEFAULT_LANGUAGE = "en"

OPTOUT_INSTRUCTION = "optout-instruction"
OPTOUT_CONFIRMATION = "optout-confirmation"
WRONG_NUMBER_INSTRUCTION = "wrong-number-instruction"
WRONG_NUMBER_CONFIRMATION = "wrong-number-confirmation"
REPEAT_INSTRUCTION = "repeat-instruction"
CALLBACK_INTRO = "callback-intro"
HOTLINE_VOICEMAIL = "hotline-voicemail"
HOTLINE_WELCOME = "hotline-welcome"
HOTLINE_PRESS_1_CONFIRM = "hotline-press-1-confirm"
HOTLINE_DONE = "hotline-done"
HOTLINE_NO_CALLERID = "hotline-no-callerid"
HOTLINE_INVALID = "hotline-invalid"
GOODBYE = "goodbye"
# issue 14: record by phone, and the answers of a test call
RECORD_ENTER_PIN = "record-enter-pin"
RECORD_PIN_WRONG = "record-pin-wrong"
RECORD_AFTER_TONE = "record-after-tone"
RECORD_PLAYBACK = "record-playback"
RECORD_MENU = "record-menu"
RECORD_AGAIN = "record-again"
RECORD_CANCELLED = "record-cancelled"
TEST_CALL_OPTOUT = "test-call-optout"
TEST_CALL_WRONG_NUMBER = "test-call-wrong-number"
PAUSE = "pause"
PLUS = "digits/plus"
PAUSE_MS = 300


def digit_prompt(digit: str) -> str:
    """Prompt name of one spoken digit (``"7"`` → ``"digits/7"``)."""
    if len(digit) != 1 or digit not in "0123456789":
        raise ValueError(f"not a digit: {digit!r}")
    return f"digits/{digit}"


_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ES_DIGITS = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")

#: the words of every shipped prompt; scripts/make-prompts speaks these
PROMPT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        OPTOUT_INSTRUCTION: "To stop receiving these calls, press 9.",
        OPTOUT_CONFIRMATION: "You will not receive these calls any more. Goodbye.",
        WRONG_NUMBER_INSTRUCTION: "If we have reached the wrong person, press 8.",
        WRONG_NUMBER_CONFIRMATION: (
            "Thank you. We will not call this number again for this person. Goodbye."
        ),
        REPEAT_INSTRUCTION: "To hear this message again, press star.",
        CALLBACK_INTRO: "For questions, please call",
        HOTLINE_VOICEMAIL: "To stop receiving these calls, call",
        HOTLINE_WELCOME: "You have reached the opt-out line for automated calls.",
        HOTLINE_PRESS_1_CONFIRM: (
            "To stop all automated calls to the number you are calling from, press 1."
        ),
        HOTLINE_DONE: (
            "Done. The number you are calling from will not receive any more "
            "automated calls from us. Goodbye."
        ),
        HOTLINE_NO_CALLERID: (
            "We cannot see the number you are calling from. Please call again "
            "without blocking your caller ID, or contact the office. Goodbye."
        ),
        HOTLINE_INVALID: "Sorry, that is not a valid choice.",
        GOODBYE: "Goodbye.",
        RECORD_ENTER_PIN: "Please enter your recording PIN, then press pound.",
        RECORD_PIN_WRONG: "That PIN is not valid.",
        RECORD_AFTER_TONE: "Record your message after the tone. Press pound when you are done.",
        RECORD_PLAYBACK: "This is your recording.",
        RECORD_MENU: "To keep it, press 1. To record it again, press 2. To cancel, press 3.",
        RECORD_AGAIN: "Let's record it again.",
        RECORD_CANCELLED: "Nothing was saved. Goodbye.",
        TEST_CALL_OPTOUT: (
            "This is a test call: pressing 9 would have stopped these calls. "
            "Nothing was recorded. Goodbye."
        ),
        TEST_CALL_WRONG_NUMBER: (
            "This is a test call: pressing 8 would have reported a wrong number. "
            "Nothing was recorded. Goodbye."
        ),
        PLUS: "plus",
        **{digit_prompt(str(d)): word for d, word in enumerate(_EN_DIGITS)},
    },
    "es": {
        OPTOUT_INSTRUCTION: "Para dejar de recibir estas llamadas, oprima el 9.",
        OPTOUT_CONFIRMATION: "Ya no recibirá estas llamadas. Adiós.",
        WRONG_NUMBER_INSTRUCTION: "Si esta llamada no es para usted, oprima el 8.",
        WRONG_NUMBER_CONFIRMATION: (
            "Gracias. No volveremos a llamar a este número para esta persona. Adiós."
        ),
        REPEAT_INSTRUCTION: "Para escuchar este mensaje otra vez, oprima la tecla asterisco.",
        CALLBACK_INTRO: "Si tiene preguntas, llame al",
        HOTLINE_VOICEMAIL: "Para dejar de recibir estas llamadas, llame al",
        HOTLINE_WELCOME: "Ha llamado a la línea para dejar de recibir llamadas automáticas.",
        HOTLINE_PRESS_1_CONFIRM: (
            "Para detener todas las llamadas automáticas al número desde el que llama, oprima el 1."
        ),
        HOTLINE_DONE: (
            "Listo. El número desde el que llama ya no recibirá llamadas automáticas "
            "nuestras. Adiós."
        ),
        HOTLINE_NO_CALLERID: (
            "No podemos ver el número desde el que llama. Vuelva a llamar sin ocultar "
            "su número, o comuníquese con la oficina. Adiós."
        ),
        HOTLINE_INVALID: "Lo sentimos, esa opción no es válida.",
        GOODBYE: "Adiós.",
        RECORD_ENTER_PIN: "Marque su PIN de grabación y después oprima la tecla numeral.",
        RECORD_PIN_WRONG: "Ese PIN no es válido.",
        RECORD_AFTER_TONE: (
            "Grabe su mensaje después del tono. Oprima la tecla numeral cuando termine."
        ),
        RECORD_PLAYBACK: "Esta es su grabación.",
        RECORD_MENU: (
            "Para guardarla, oprima el 1. Para grabarla otra vez, oprima el 2. "
            "Para cancelar, oprima el 3."
        ),
        RECORD_AGAIN: "Vamos a grabarla otra vez.",
        RECORD_CANCELLED: "No se guardó nada. Adiós.",
        TEST_CALL_OPTOUT: (
            "Esta es una llamada de prueba: oprimir el 9 habría detenido estas llamadas. "
            "No se registró nada. Adiós."
        ),
        TEST_CALL_WRONG_NUMBER: (
            "Esta es una llamada de prueba: oprimir el 8 habría indicado un número "
            "equivocado. No se registró nada. Adiós."
        ),
        PLUS: "más",
        **{digit_prompt(str(d)): word for d, word in enumerate(_ES_DIGITS)},
    },
}
#: prompts that are not speech (made by scripts/make-prompts as plain silence)
SILENCE_PROMPTS: dict[str, int] = {PAUSE: PAUSE_MS}
#: every prompt name a complete language set has
PROMPT_NAMES: tuple[str, ...] = (*PROMPT_TEXTS[DEFAULT_LANGUAGE], *SILENCE_PROMPTS)

#: sample recordings for demos (an organisation's own would be uploaded)
SAMPLE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "example-identification": "This is a message from Example School District.",
        "example-body": "School will start two hours late tomorrow because of snow.",
    },
    "es": {
        "example-identification": "Este es un mensaje del Distrito Escolar Ejemplo.",
        "example-body": "Mañana las clases empezarán dos horas tarde por la nieve.",
    },
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$")


@dataclass(frozen=True, slots=True)
class ResolvedPrompt:
    """Where a prompt was found, and whether the contact's language was honoured."""

    name: str
    requested_language: str
    language: str
    #: file path without extension, as AGI ``STREAM FILE`` wants it
    stem: Path
    #: True when it came from the operator override directory
    overridden: bool

    @property
    def fell_back(self) -> bool:
        return self.language.split("-")[0] != self.requested_language.split("-")[0]


@dataclass(frozen=True, slots=True)
class PromptLibrary:
    """Where prompts are looked up: earlier directories win (overrides first)."""

    search_dirs: tuple[Path, ...]
    default_language: str = DEFAULT_LANGUAGE
    #: the first directory is the operator override directory (reported as such)
    has_override_dir: bool = False

    def resolve(self, name: str, language: str) -> ResolvedPrompt:
        """Find ``name`` for ``language``, falling back to the default language.

        NotFoundError names the prompt and the languages tried.
        """
        if not _NAME.match(name):
            raise NotFoundError(f"invalid prompt name {name!r}")
        requested = normalise_language(language)
        tried: list[str] = []
        for lang in _candidates(requested, normalise_language(self.default_language)):
            tried.append(lang)
            for index, base in enumerate(self.search_dirs):
                stem = base / lang / name
                if any(stem.with_name(stem.name + ext).is_file() for ext in EXTENSIONS):
                    return ResolvedPrompt(
                        name=name,
                        requested_language=requested,
                        language=lang,
                        stem=stem,
                        overridden=self.has_override_dir and index == 0,
                    )
        raise NotFoundError(
            f"prompt {name!r} not found for language {' or '.join(tried)} "
            f"(looked in {', '.join(str(d) for d in self.search_dirs)})"
        )

    def missing(self, language: str) -> list[str]:
        """Names of standard prompts that would fall back (or be missing) for ``language``."""
        out = []
        for name in PROMPT_NAMES:
            try:
                if self.resolve(name, language).fell_back:
                    out.append(name)
            except NotFoundError:
                out.append(name)
        return out


def _candidates(requested: str, default: str) -> list[str]:
    out: list[str] = []
    for lang in (requested, requested.split("-")[0], default, default.split("-")[0]):
        if lang not in out:
            out.append(lang)
    return out


def prompt_library(
    recordings_dir: Path | None = None,
    override_dir: Path | None = None,
    *,
    default_language: str = DEFAULT_LANGUAGE,
    shipped_dir: Path = SHIPPED_PROMPTS_DIR,
) -> PromptLibrary:
    """The standard search order: overrides, ``<recordings_dir>/prompts``, shipped set."""
    dirs: list[Path] = []
    if override_dir is not None:
        dirs.append(override_dir)
    if recordings_dir is not None:
        dirs.append(recordings_dir / "prompts")
    dirs.append(shipped_dir)
    unique = tuple(dict.fromkeys(dirs))
    return PromptLibrary(
        search_dirs=unique,
        default_language=normalise_language(default_language),
        has_override_dir=override_dir is not None,
    )


def prompt_path(
    name: str,
    language: str,
    recordings_dir: Path | None = None,
    *,
    override_dir: Path | None = None,
    default_language: str = DEFAULT_LANGUAGE,
) -> Path:
    """Stem of a prompt (no extension); use ``PromptLibrary.resolve`` to see fallbacks."""
    library = prompt_library(recordings_dir, override_dir, default_language=default_language)
    return library.resolve(name, language).stem


def install_prompt_override(
    src: Path, name: str, language: str, override_dir: Path, *, max_seconds: float = 60.0
) -> ConvertedAudio:
    """Convert an operator's own recording of a prompt into the override directory.

    The override then wins over the shipped prompt for that language.
    """
    if not _NAME.match(name):
        raise AudioError(f"invalid prompt name {name!r}")
    lang = normalise_language(language)
    target = override_dir / lang / name
    return convert_recording(src, target.parent, target.name, max_seconds)
