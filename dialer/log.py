"""structlog, configured once for the whole process.

People get a console renderer, scripts ``--log-json``. Every event passes
through ``mask_processor`` last-but-one, so no plaintext phone number reaches a
log line whatever a caller binds (C18). Per-call context (``campaign``,
``call_id``) is bound with structlog's contextvars in the runner and shows on
every line of that call.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from dialer.masking import mask_text

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, BaseException):
        return mask_text(str(value))
    if isinstance(value, int | float | bool) or value is None:
        # a bare integer can be a number too (e.g. 12025550123)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**6:
            return mask_text(str(value))
        return value
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return mask_text(str(value))


def mask_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask phone numbers in every value of every event (C18)."""
    for key, value in list(event_dict.items()):
        if key in ("timestamp", "level"):
            continue
        event_dict[key] = _mask_value(value)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(
    level: str = "info", json: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog for this process; safe to call again (tests do)."""
    out: Any = stream or _CurrentStderr()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
