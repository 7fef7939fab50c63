"""Mask phone numbers wherever text might leave the process (C18).

Logs, error messages and staff exports show ``+1******0123``: the country code
and the last four digits, enough for staff to tell calls apart, too little to
dial. ``mask_text`` scrubs free text (exception messages, Asterisk replies)
where a number may hide among other words.
"""

from __future__ import annotations

import re

# A run of 7+ digits, optionally led by '+', allowing the separators people
# write numbers with. Dates (2026-11-23) and times do not reach 7 digits in one
# run without separators of their own kind, so they are left alone.
_NUMBER_RUN = re.compile(r"(?<![\w])\+?\d(?:[\d \-().]{5,}\d)(?![\w])")


def mask_number(number: str) -> str:
    """``+12025550123`` → ``+1******0123``; anything short is masked whole."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(number)
    plus = "+" if number.strip().startswith("+") else ""
    keep_head = 1 if plus else 0
    head = digits[:keep_head]
    tail = digits[-4:]
    return f"{plus}{head}{'*' * (len(digits) - keep_head - 4)}{tail}"


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    if _ISO_DATE.match(text):
        # "2026-11-23 12:00" is a timestamp, not a number; mask what follows it
        return text[:10] + mask_text(text[10:])
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7:
        return text
    return mask_number(text)


def mask_text(text: str) -> str:
    """Mask every phone-number-like run of digits inside free text."""
    return _NUMBER_RUN.sub(_mask_match, text)
