"""The one exception tree of the dialer.

Every error the library raises on purpose is a ``DialerError``; foreign errors
(sqlite3, OSError, pydub/ffmpeg, panoramisk, csv) are translated into one of
these at the boundary where they happen, so the CLI turns any of them into one
clear message and an exit code, and nothing foreign leaks out::

    DialerError
    ├── ConfigError              bad or missing settings file / key file / setting
    │   └── KeyMismatchError     the key file does not belong to this database
    ├── InputError               bad user input (exit code 2)
    │   ├── CsvError             malformed CSV: names file, row and reason
    │   ├── NumberError          a phone number that cannot be parsed / is invalid
    │   ├── AudioError           corrupt, silent, clipped or over-long audio
    │   │   └── SoundFileError   a sound file to play is missing or unplayable (``reason``
    │   │                        without the server path; messages name the recording)
    │   └── ComplianceError      a request the rules refuse (C1, C8, C9, C14, C15 ...)
    │       └── MessageError     a message missing a required segment (C8-C11)
    ├── NotFoundError            a named list / campaign / recording / number is unknown
    ├── StoreError               the SQLite store failed (locked, corrupt, migration)
    │   └── AuditChainError      the audit chain is broken (C19)
    │       └── IntegrityError   data rows, ledger or audit head do not match the log
    ├── EngineBusyError          another engine (serve / campaign run) holds this store
    ├── StateError               a campaign cannot go from its state to the one asked
    ├── HttpServerError          the service's HTTP server cannot start (port in use ...)
    ├── AccessError              an HTTP API request is refused (web/auth.py)
    │   ├── NotAuthenticated     no valid API token or session (401)
    │   └── NotPermitted         the user's role does not allow it, or no CSRF token (403)
    ├── StaffCallError           a test call or recording call ended without its result
    │                            (not answered, hung up or cancelled before keeping)
    └── TelephonyError           Asterisk is unreachable or misbehaves
        ├── AmiConnectError      cannot connect to AMI (host/port)
        ├── AmiAuthError         AMI login refused (user/secret)
        ├── AmiTimeoutError      an AMI action got no answer in time
        │   └── AmiNotSentError  the action was never sent: not connected
        ├── AgiServerError       the FastAGI server cannot start (port in use ...)
        ├── AgiProtocolError     (telephony/agi_protocol.py) Asterisk's AGI reply is not
        │                        what the protocol allows (510/520, garbage)
        └── CallerHangup         (hotline.py) the caller hung up: a normal end of a call

Not a DialerError on purpose: ``telephony.fastagi.CallHungUp`` is control flow
inside one AGI session (the channel is gone); the server catches it.
"""

from __future__ import annotations


class DialerError(Exception):
    """Root of every error the dialer raises on purpose.

    ``field`` names the input at fault when there is one (``caller_id``,
    ``identification``...): the web console shows the message next to that
    form field; the CLI shows the message alone, as always.
    """

    #: process exit code the CLI uses for this kind of error
    exit_code = 1
    #: the form field / option at fault, if known
    field: str | None = None
    #: other problems found in the same request (a form shows each at its field)
    also: tuple[DialerError, ...] = ()

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


class ConfigError(DialerError):
    """Settings, key file or configuration are missing or wrong."""

    exit_code = 3


class KeyMismatchError(ConfigError):
    """The key file is not the one this database was created (or last rotated) with."""


class InputError(DialerError):
    """The user gave us something we cannot accept."""

    exit_code = 2


class CsvError(InputError):
    """A CSV file is unreadable or malformed."""


class NumberError(InputError):
    """A phone number is not a valid, dialable number."""


class AudioError(InputError):
    """An audio file is corrupt, empty, silent, clipped or too long."""


class SoundFileError(AudioError):
    """A sound file the dialer would play is missing or not playable.

    ``str()`` names the file (for logs and the operator's tools); ``reason``
    says what is wrong without the server's path, so that what staff read names
    the recording, its language and version instead (``audio.files.named``).
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ComplianceError(InputError):
    """The compliance rules refuse the request (the message names the C-number)."""


class MessageError(ComplianceError):
    """A campaign message lacks a required segment or misses the C9 timing."""


class NotFoundError(DialerError):
    """A named object does not exist."""

    exit_code = 4


class StoreError(DialerError):
    """The local store failed."""

    exit_code = 5


class AuditChainError(StoreError):
    """The tamper-evident audit chain does not verify (C19)."""

    exit_code = 6


class EngineBusyError(DialerError):
    """Another engine process (``dialer serve`` or ``campaign run``) holds the store."""

    exit_code = 8


class StateError(DialerError):
    """The campaign's lifecycle state does not allow the change asked for."""

    exit_code = 9


class HttpServerError(DialerError):
    """The service's HTTP server cannot start."""

    exit_code = 3


class IntegrityError(AuditChainError):
    """Data rows, the integrity ledger or the audit head were changed outside the
    dialer (C19): nothing is dialled or written until it is investigated."""


class AccessError(DialerError):
    """An HTTP API request without the right credentials."""

    exit_code = 2


class NotAuthenticated(AccessError):
    """No credentials, or credentials that open nothing (unknown token, ended session)."""


class NotPermitted(AccessError):
    """Known user, but the role does not allow the request (or a cookie POST lacks CSRF)."""


class StaffCallError(DialerError):
    """A call to a staff phone (test call, record by phone) ended without its result."""

    exit_code = 10


class TelephonyError(DialerError):
    """Asterisk is unreachable or misbehaves."""

    exit_code = 7


class AmiConnectError(TelephonyError):
    """The AMI port cannot be reached."""


class AmiAuthError(TelephonyError):
    """AMI refused our login."""


class AmiTimeoutError(TelephonyError):
    """An AMI action got no answer in time."""


class AmiNotSentError(AmiTimeoutError):
    """The action was never sent (not connected): nothing happened in Asterisk."""


class AgiServerError(TelephonyError):
    """The FastAGI server cannot start."""
