"""Phone numbers in, E.164 out (phonenumbers, Google's libphonenumber port)."""

from __future__ import annotations

import phonenumbers

from dialer.errors import NumberError
from dialer.masking import mask_text


def normalise(raw: str, default_region: str = "US") -> str:
    """Return the E.164 form of ``raw`` or raise ``NumberError`` saying why.

    The error message masks the number itself (C18): it ends up in logs.
    """
    text = raw.strip()
    if not text:
        raise NumberError("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(f"not a phone number ({mask_text(text)}): {exc._msg}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise NumberError(f"impossible phone number {mask_text(text)} (wrong length)")
    if not phonenumbers.is_valid_number(parsed):
        raise NumberError(f"invalid phone number {mask_text(text)} (no such number range)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
