"""The pure AGI protocol layer: environment block, replies, command quoting.

Inputs are the exact lines res_agi.c writes (Asterisk 22); the property tests
feed arbitrary bytes and prove the parsers raise nothing but AgiProtocolError.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.errors import TelephonyError
from dialer.telephony.agi_protocol import (
    MAX_COMMAND_BYTES,
    AgiEnvironment,
    AgiProtocolError,
    AgiReply,
    HangupNotice,
    ReplyAssembler,
    build_command,
    decode_line,
    parse_env_line,
    parse_environment,
    parse_reply_line,
    quote_arg,
    split_command,
)

# What Asterisk 22 sends for AGI(agi://127.0.0.1:4573/broadcast,<call id>)
ASTERISK_ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: broadcast\n"
    b"agi_request: agi://127.0.0.1:4573/broadcast\n"
    b"agi_channel: Local/dial@dialer-outbound-00000001;1\n"
    b"agi_language: en\n"
    b"agi_type: Local\n"
    b"agi_uniqueid: call-42\n"
    b"agi_version: 22.1.0\n"
    b"agi_callerid: +12025550123\n"
    b"agi_calleridname: Example School\n"
    b"agi_callingpres: 0\n"
    b"agi_callingani2: 0\n"
    b"agi_callington: 0\n"
    b"agi_callingtns: 0\n"
    b"agi_dnid: unknown\n"
    b"agi_rdnis: unknown\n"
    b"agi_context: dialer-answered\n"
    b"agi_extension: s\n"
    b"agi_priority: 1\n"
    b"agi_enhanced: 0.0\n"
    b"agi_accountcode: \n"
    b"agi_threadid: 140234\n"
    b"agi_arg_1: call-42\n"
    b"agi_arg_2: with spaces, and commas\n"
    b"\n"
)


# ------------------------------------------------------------ environment


def test_environment_from_asterisk_block() -> None:
    env = parse_environment(ASTERISK_ENV)
    assert env.network_script == "broadcast"
    assert env.args == ("call-42", "with spaces, and commas")
    assert env.call_id == "call-42"
    assert env.channel == "Local/dial@dialer-outbound-00000001;1"
    assert env.uniqueid == "call-42"
    assert env.language == "en"
    assert env.context == "dialer-answered"
    assert env.callerid == "+12025550123"
    assert env.accountcode == ""
    assert env.get("threadid") == "140234"
    assert env.get("agi_threadid") == "140234"
    assert env.raw["callingpres"] == "0"


def test_environment_tolerates_crlf_and_missing_keys() -> None:
    env = parse_environment(b"agi_network_script: /broadcast\r\nagi_arg_1: x\r\n\r\n")
    assert env.network_script == "broadcast"
    assert env.args == ("x",)
    assert env.channel == "" and env.callerid == "" and env.language == ""


def test_environment_args_stop_at_first_gap() -> None:
    env = parse_environment("agi_arg_1: a\nagi_arg_3: c\n\n")
    assert env.args == ("a",)


def test_environment_without_args_has_no_call_id() -> None:
    assert parse_environment("agi_network_script: x\n\n").call_id is None
    assert parse_environment("agi_arg_1: \n\n").call_id is None


def test_environment_undecodable_bytes_are_replaced_not_fatal() -> None:
    env = parse_environment(b"agi_calleridname: Jos\xe9 \xff\xfe\nagi_arg_1: c1\n\n")
    assert env.calleridname == "Jos\ufffd \ufffd\ufffd"
    assert env.call_id == "c1"


def test_environment_repr_never_shows_the_caller_number() -> None:
    """C18: logging an environment must not write the phone number."""
    env = parse_environment(ASTERISK_ENV)
    assert "2025550123" not in repr(env)
    assert "Example School" not in repr(env)


def test_environment_value_keeps_inner_and_extra_spaces() -> None:
    assert parse_env_line(b"agi_arg_1:  two  spaces \n") == ("arg_1", " two  spaces ")
    assert parse_env_line(b"agi_arg_1:\n") == ("arg_1", "")
    assert parse_env_line(b"agi_request: agi://h:1/x?a=b:c\n") == (
        "request",
        "agi://h:1/x?a=b:c",
    )


@pytest.mark.parametrize("line", [b"\n", b"\r\n", b"", b"   \r\n"])
def test_blank_line_ends_the_block(line: bytes) -> None:
    assert parse_env_line(line) is None


@pytest.mark.parametrize(
    "line",
    [b"GET / HTTP/1.1\r\n", b"agi_channel without colon\n", b"agi_: x\n", b"\x16\x03\x01\x02"],
)
def test_garbage_env_line_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        parse_env_line(line)


def test_unterminated_block_is_refused() -> None:
    with pytest.raises(AgiProtocolError, match="not terminated"):
        parse_environment(b"agi_channel: x\n")


def test_protocol_error_is_a_telephony_error() -> None:
    assert issubclass(AgiProtocolError, TelephonyError)


@given(st.binary(max_size=400))
def test_env_parser_never_crashes_on_bytes(data: bytes) -> None:
    try:
        env = parse_environment(data)
    except AgiProtocolError:
        return
    assert isinstance(env, AgiEnvironment)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_0-9]{0,15}", fullmatch=True),
        st.text(
            alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
            max_size=40,
        ),
        max_size=20,
    )
)
def test_env_round_trip(values: dict[str, str]) -> None:
    block = "".join(f"agi_{k}: {v}\n" for k, v in values.items()) + "\n"
    env = parse_environment(block.encode("utf-8"))
    assert dict(env.raw) == values


# ----------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=0", AgiReply(200, 0, None, None, "0")),
        ("200 result=1\n", AgiReply(200, 1, None, None, "1")),
        ("200 result=-1\r\n", AgiReply(200, -1, None, None, "-1")),
        ("200 result=0 endpos=12345", AgiReply(200, 0, None, 12345, "0")),
        ("200 result=57 endpos=8640", AgiReply(200, 57, None, 8640, "57")),
        ("200 result=-1 endpos=0", AgiReply(200, -1, None, 0, "-1")),
        ("200 result=1 (testvariable)", AgiReply(200, 1, "testvariable", None, "1")),
        ("200 result=1 (a (nested) value)", AgiReply(200, 1, "a (nested) value", None, "1")),
        ("200 result=1 ()", AgiReply(200, 1, "", None, "1")),
        ("200 result= (timeout)", AgiReply(200, None, "timeout", None, "")),
        ("200 result=0123 (timeout)", AgiReply(200, 123, "timeout", None, "0123")),
        ("200 result=0 (timeout) endpos=800", AgiReply(200, 0, "timeout", 800, "0")),
        (
            "200 result=1 (speech) endpos=1234 results=foo bar",
            AgiReply(200, 1, "speech", 1234, "1", "results=foo bar"),
        ),
        ("200 result=1 Gosub failed", AgiReply(200, 1, None, None, "1", "Gosub failed")),
        ("510 Invalid or unknown command", AgiReply(510, message="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel",
            AgiReply(511, message="Command Not Permitted on a dead channel"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AgiReply(520, message="Invalid command syntax.  Proper usage not available."),
        ),
        (
            "503 result=-2 Memory allocation failure",
            AgiReply(503, -2, message="Memory allocation failure"),
        ),
    ],
)
def test_reply_lines(line: str, expected: AgiReply) -> None:
    assert parse_reply_line(line) == expected
    assert parse_reply_line(line.encode()) == expected


def test_reply_flags() -> None:
    assert parse_reply_line("200 result=0").ok
    assert not parse_reply_line("511 Command Not Permitted on a dead channel").ok
    assert parse_reply_line("511 Command Not Permitted on a dead channel").dead_channel


@pytest.mark.parametrize("line", ["", "hello", "20 result=1", "HANGUP", "2000 x", "abc result=1"])
def test_garbage_reply_is_a_protocol_error(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply_line(line)


@given(st.binary(max_size=200))
def test_reply_parser_never_crashes_on_bytes(data: bytes) -> None:
    try:
        reply = parse_reply_line(data)
    except AgiProtocolError:
        return
    assert 0 <= reply.code <= 999


@given(
    st.integers(-10, 10**6),
    st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="\r\n"))),
    st.one_of(st.none(), st.integers(0, 10**9)),
)
def test_reply_round_trip(result: int, data: str | None, endpos: int | None) -> None:
    line = f"200 result={result}"
    if data is not None:
        line += f" ({data})"
    if endpos is not None:
        line += f" endpos={endpos}"
    reply = parse_reply_line(line)
    assert (reply.code, reply.result, reply.endpos) == (200, result, endpos)
    if endpos is not None or data is None or ") endpos=" not in data:
        assert reply.data == data


# -------------------------------------------------------------- assembler


USAGE_LINES = [
    "520-Invalid command syntax.  Proper usage follows:",
    " Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
    "Example return code: 200 result=1 (testvariable)",
    "520 End of proper usage.",
]


def test_assembler_multi_line_520() -> None:
    asm = ReplyAssembler()
    results = [asm.feed(line + "\n") for line in USAGE_LINES]
    assert results[:-1] == [None, None, None]
    final = results[-1]
    assert isinstance(final, AgiReply)
    assert final.code == 520
    assert "STREAM FILE" in final.message
    assert "200 result=1 (testvariable)" in final.message
    assert not asm.in_progress
    assert asm.feed("200 result=0\n") == AgiReply(200, 0, None, None, "0")


def test_assembler_520_end_marker_glued_to_usage_text() -> None:
    asm = ReplyAssembler()
    assert asm.feed("520-Invalid command syntax.  Proper usage follows:\n") is None
    final = asm.feed("Answers channel. Returns -1 on failure.520 End of proper usage.\n")
    assert isinstance(final, AgiReply) and final.code == 520
    assert final.message == "Answers channel. Returns -1 on failure."


def test_assembler_hangup_is_a_notice_not_a_reply() -> None:
    asm = ReplyAssembler()
    assert asm.feed(b"HANGUP\n") == HangupNotice()
    assert asm.feed(b"HANGUP\r\n") == HangupNotice()
    assert asm.feed(b"200 result=-1 endpos=0\n") == AgiReply(200, -1, None, 0, "-1")


def test_assembler_hangup_inside_usage_does_not_end_it() -> None:
    asm = ReplyAssembler()
    asm.feed(USAGE_LINES[0])
    assert asm.feed("HANGUP") == HangupNotice()
    assert asm.in_progress
    assert asm.feed(USAGE_LINES[-1]) == AgiReply(520, message="")


def test_assembler_skips_100_trying_and_blank_lines() -> None:
    asm = ReplyAssembler()
    assert asm.feed("100 result=0 Trying...") is None
    assert asm.feed("") is None
    assert asm.feed("200 result=0 Gosub complete") == AgiReply(
        200, 0, None, None, "0", "Gosub complete"
    )


def test_assembler_refuses_endless_usage() -> None:
    asm = ReplyAssembler()
    asm.feed(USAGE_LINES[0])
    with pytest.raises(AgiProtocolError, match="never ends"):
        for _ in range(ReplyAssembler.MAX_USAGE_LINES + 1):
            asm.feed("more usage")
    assert not asm.in_progress


@given(st.lists(st.binary(max_size=60), max_size=30))
def test_assembler_never_crashes(lines: list[bytes]) -> None:
    asm = ReplyAssembler()
    for line in lines:
        try:
            item = asm.feed(line)
        except AgiProtocolError:
            continue
        assert item is None or isinstance(item, AgiReply | HangupNotice)


# ---------------------------------------------------------------- commands


def test_build_stream_file() -> None:
    assert build_command("STREAM FILE", "beep", "9") == 'STREAM FILE "beep" "9"'
    assert build_command("stream file", "beep", "") == 'STREAM FILE "beep" ""'
    assert build_command("WAIT FOR DIGIT", 5000) == "WAIT FOR DIGIT 5000"
    assert build_command("GET OPTION", "x", "9", -1) == 'GET OPTION "x" "9" -1'
    assert build_command("ANSWER") == "ANSWER"


def test_quote_escapes_backslash_and_quote() -> None:
    assert quote_arg('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert split_command(build_command("VERBOSE", 'say "hi" \\ bye', 1)) == [
        "VERBOSE",
        'say "hi" \\ bye',
        "1",
    ]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "\n", "\ud800"])
def test_quote_refuses_line_breaks(bad: str) -> None:
    with pytest.raises(AgiProtocolError):
        quote_arg(bad)
    with pytest.raises(AgiProtocolError):
        build_command("VERBOSE", bad)


@pytest.mark.parametrize("verb", ["", "STREAM\nFILE", "A  B", '"X"', "1X", "X "])
def test_build_refuses_bad_verbs(verb: str) -> None:
    with pytest.raises(AgiProtocolError):
        build_command(verb)


def test_build_refuses_bool_and_overlong() -> None:
    with pytest.raises(AgiProtocolError):
        quote_arg(True)
    with pytest.raises(AgiProtocolError, match="longer than"):
        build_command("VERBOSE", "x" * MAX_COMMAND_BYTES)


def test_split_command_matches_asterisk_parse_args() -> None:
    # cases worked through res_agi.c parse_args by hand
    assert split_command('EXEC Dial "PJSIP/a,30"') == ["EXEC", "Dial", "PJSIP/a,30"]
    assert split_command('a"b c"d e') == ["ab cd", "e"]
    assert split_command("a\\ b c") == ["a b", "c"]
    assert split_command('x ""') == ["x", ""]
    assert split_command("  a \t b  ") == ["a", "b"]


@given(
    st.lists(
        st.one_of(
            st.text(
                alphabet=st.characters(
                    blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)
                ),
                max_size=30,
            ),
            st.integers(-(10**6), 10**6),
        ),
        max_size=8,
    )
)
def test_command_round_trips_through_asterisk_splitting(args: list[str | int]) -> None:
    line = build_command("SET VARIABLE", *args)
    assert "\n" not in line
    assert split_command(line) == ["SET", "VARIABLE", *(str(a) for a in args)]


def test_decode_line() -> None:
    assert decode_line(b"abc\r\n") == "abc"
    assert decode_line(b"\xff\n") == "\ufffd"
    assert decode_line("x\n") == "x"


# ------------------------------------------------ hostile peers (issue 8 item 1)


@pytest.mark.parametrize(
    "line",
    [
        "200 result=" + "9" * 5000,  # int() refuses > 4300 digits with a bare ValueError
        "200 result=-" + "1" * 5000,
        "200 result=1 endpos=" + "9" * 5000,
        "200 result=0 endpos=" + "1" * 20,  # no 64-bit sample offset has 20 digits
        "503 result=" + "2" * 5000 + " Memory allocation failure",
        "200 result=" + "x" * 2000,  # longer than any GET DATA buffer
    ],
    ids=["result", "negative", "endpos", "endpos-20", "error-code", "text"],
)
def test_oversize_numbers_are_a_protocol_error(line: str) -> None:
    with pytest.raises(AgiProtocolError, match="not Asterisk"):
        parse_reply_line(line)
    with pytest.raises(AgiProtocolError):
        ReplyAssembler().feed(line + "\n")


def test_get_data_with_many_digits_is_still_read_as_text() -> None:
    """A caller may type 30 keys into GET DATA: digits, not a result code."""
    reply = parse_reply_line("200 result=" + "1" * 30)
    assert reply.result is None and reply.result_text == "1" * 30
    assert parse_reply_line("200 result=-1").result == -1


@given(st.text(alphabet="0123456789-", min_size=1, max_size=6000))
def test_any_digit_run_parses_or_is_a_protocol_error(digits: str) -> None:
    for line in (f"200 result={digits}", f"200 result=0 endpos={digits}", f"510 result={digits}"):
        with contextlib.suppress(AgiProtocolError):
            parse_reply_line(line)


def test_environment_larger_than_the_byte_bound_is_refused() -> None:
    from dialer.telephony.agi_protocol import MAX_ENV_BYTES

    # a few long lines, each under the per-line limit, together over the block limit
    value = "y" * 15000
    block = "".join(f"agi_x{i}: {value}\n" for i in range(3)) + "\n"
    assert len(block) > MAX_ENV_BYTES
    with pytest.raises(AgiProtocolError, match="larger than"):
        parse_environment(block)
    # Asterisk's own block is far below it
    assert len(ASTERISK_ENV) < MAX_ENV_BYTES // 20
