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
# run without separators of their own kind, so they are left alone. Letters or
# underscores next to the digits do not hide a number ("tel12025550123",
# "parent_2025550123", "S12025550123x": issue 8 item 3); only digits around it
# would make it a different, longer run.
_NUMBER_RUN = re.compile(r"(?<!\d)\+?\d(?:[\d \-().]{5,}\d)(?!\d)")
#: what the dialer writes itself, left whole so log lines stay traceable: call
#: ids (uuid4 hex or dashed) and keyed hashes (64 hex digits), random, so a
#: digit run inside one is never a phone number; and ISO timestamps.
_OWN_IDS = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{64}|[0-9a-f]{32}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9A-Za-z])"
    # and ISO 8601 timestamps, fractions of a second included (the store's form)
    r"|(?<!\d)\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"
)


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
    if not _OWN_IDS.search(text):
        return _NUMBER_RUN.sub(_mask_match, text)
    out: list[str] = []
    last = 0
    for match in _OWN_IDS.finditer(text):
        out.append(_NUMBER_RUN.sub(_mask_match, text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_NUMBER_RUN.sub(_mask_match, text[last:]))
    return "".join(out)
