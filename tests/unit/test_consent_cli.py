"""``dialer consent|dnc|callerid|audit`` through the real command line (C3-C5, C14,
C15, C17, C19): typer's CliRunner on ``dialer.cli.app`` (the console script's
code path), a settings file and key made by ``dialer init`` in ``tmp_path``,
and the real SQLite file inspected afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from contextlib import closing
from pathlib import Path

import pytest
from support.store import audit_kinds, counts, raw
from typer.testing import CliRunner

from dialer.cli import app
from dialer.errors import AuditChainError, NotFoundError

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
RUNNER = CliRunner()
HEADER = (
    "phone,scope,source,method,obtained_at,disclosure,evidence_ref,contact,written,signature_ref"
)
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "dialer.toml"
        self.db = root / "dialer.db"

    def __call__(self, *args: str, code: int = 0) -> str:
        result = RUNNER.invoke(app, ["--config", str(self.config), *args])
        assert result.exit_code == code, f"dialer {' '.join(args)}:\n{result.output}"
        return result.output


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path)
    runner("init", "--org", "Springfield Public Schools")
    assert stat.S_IMODE((tmp_path / "dialer.key").stat().st_mode) == 0o600
    return runner


def _csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _good(n: int) -> str:
    return (
        f"(212) 555-01{n:02d},school,enrollment,enrollment form,{WHEN},"
        f'"We may call you with school messages.",SIS:form/{n},Parent {n},,'
    )


def test_c3_cli_import_good_file_imports_every_row(cli: Cli, tmp_path: Path) -> None:
    path = _csv(tmp_path / "good.csv", *(_good(n) for n in range(10, 20)))
    out = cli("consent", "import", str(path), "--json")
    assert json.loads(out)["imported"] == 10
    assert counts(cli.db)["consents"] == 10
    assert audit_kinds(cli.db)["consent"] == 10
    shown = json.loads(cli("consent", "show", "212-555-0112", "--json"))
    assert shown["status"] == "consented"
    assert shown["number"] == "+1******0112"  # masked in staff output (C18)
    assert shown["consents"][0]["evidence"] == "SIS:form/12"
    assert "2125550112" not in json.dumps(shown)


def test_c3_cli_import_reports_bad_rows_and_leaves_nothing_behind(cli: Cli, tmp_path: Path) -> None:
    cli("consent", "import", str(_csv(tmp_path / "first.csv", _good(1), _good(2))))
    before = counts(cli.db)
    path = _csv(
        tmp_path / "bad.csv",
        _good(10),  # row 2
        f"(212) 555-0111,school,enrollment,form,{WHEN},text,,,,",  # row 3: no evidence
        _good(12),  # row 4
        f"12,school,enrollment,form,{WHEN},text,ref,,,",  # row 5: not a number
        f"(212) 555-0114,telemarketing,web-form,web,{WHEN},text,ref,,yes,",  # row 6: no signature
        f"(212) 555-0115,marketing,enrollment,form,{WHEN},text,ref,,,",  # row 7: scope
        "(212) 555-0116,school,enrollment,form,2026-13-45,text,ref,,,",  # row 8: date
        f"(212) 555-0117,school,enrollment,,{WHEN},text,ref,,,",  # row 9: no method
        _good(18),  # row 10
    )
    out = cli("consent", "import", str(path), code=2)
    assert "6 bad row(s), nothing imported" in out
    for row, reason in (
        (3, "missing evidence reference"),
        (5, "phone number"),
        (6, "signature"),
        (7, "scope 'marketing'"),
        (8, "obtained_at"),
        (9, "missing method"),
    ):
        assert f"row {row}: " in out and reason in out.split(f"row {row}: ")[1].splitlines()[0]
    for good_row in (2, 4, 10):
        assert f"row {good_row}:" not in out
    assert counts(cli.db) == before  # nothing behind, not even an audit entry


def test_c3_cli_import_refuses_a_file_without_required_columns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("phone,scope\n2125550101,school\n", encoding="utf-8")
    out = cli("consent", "import", str(path), code=2)
    assert "missing column(s): source, method, obtained_at" in out
    assert counts(cli.db)["consents"] == 0


def test_c3_cli_sample_consent_file_imports(cli: Cli) -> None:
    # its keypad opt-in names nobody: accepted only with --no-contact (C3)
    out = cli("consent", "import", str(SAMPLES / "consent-export.csv"), code=2)
    assert "row 7" in out and "--no-contact" in out
    out = cli("consent", "import", str(SAMPLES / "consent-export.csv"), "--no-contact", "--json")
    assert json.loads(out)["imported"] == 6
    shown = json.loads(cli("consent", "show", "+12125550105", "--json"))
    (record,) = shown["consents"]
    assert (record["scope"], record["written"], record["signature"]) == (
        "telemarketing",
        True,
        "esign:docusign/7f3e91",
    )
    assert record["contact"] == "recorded"
    keypad = json.loads(cli("consent", "show", "+12125550106", "--json"))["consents"]
    assert [c["contact"] for c in keypad] == ["none (--no-contact)"]
    # and the C20 report counts the records that name nobody
    report = json.loads(cli("audit", "report", "--json"))
    c3 = next(r for r in report["requirements"] if r["id"] == "C3")
    assert c3["figures"]["recorded_in_period_without_contact"] == 1


def test_c15_cli_national_dnc_import_with_as_of(cli: Cli) -> None:
    today = dt.datetime.now(dt.UTC).date()
    out = cli("dnc", "import", str(SAMPLES / "national-dnc.csv"), "--as-of", today.isoformat())
    assert f"as of {today}: 4 numbers" in out
    assert counts(cli.db)["dnc_national"] == 4
    assert json.loads(cli("consent", "show", "2125550107", "--json"))["national_dnc"] is True
    cli("dnc", "import", str(SAMPLES / "national-dnc.csv"), "--as-of", "not-a-date", code=2)
    future = (today + dt.timedelta(days=2)).isoformat()
    cli("dnc", "import", str(SAMPLES / "national-dnc.csv"), "--as-of", future, code=2)


def test_c5_cli_revoke_and_show_history(cli: Cli, tmp_path: Path) -> None:
    cli("consent", "import", str(_csv(tmp_path / "c.csv", _good(30))))
    cli("consent", "revoke", "(212) 555-0130", "--channel", "email", "--ref", "ticket-5531")
    shown = json.loads(cli("consent", "show", "2125550130", "--json"))
    assert shown["status"] == "revoked"
    (revocation,) = shown["revocations"]
    assert (revocation["channel"], revocation["source"]) == ("email", "ticket-5531")
    human = cli("consent", "show", "2125550130")
    assert "revoked" in human and "2125550130" not in human


def test_c17_cli_erase_then_reimport_stays_erased(cli: Cli, tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", _good(40), _good(41))
    cli("consent", "import", str(path))
    cli("consent", "erase", "2125550140", code=2)  # needs --yes
    # a cached speech render of a name (sounds/tts): personal data, it must go too
    render = cli.root / "sounds" / "tts" / "en" / "ab12.wav"
    render.parent.mkdir(parents=True)
    render.write_bytes(b"RIFF")
    cli("consent", "erase", "2125550140", "--yes")
    assert not render.exists()
    with closing(raw(cli.db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM consents").fetchone()[0] == 1
    cli("consent", "import", str(path))  # the same export again
    shown = json.loads(cli("consent", "show", "2125550140", "--json"))
    assert shown["erased"] is True and shown["status"] == "erased"
    assert audit_kinds(cli.db)["erasure"] == 1


def test_c4_cli_purge_keeps_recent_records(cli: Cli, tmp_path: Path) -> None:
    cli("consent", "import", str(_csv(tmp_path / "c.csv", _good(50))))
    removed = json.loads(cli("consent", "purge", "--json"))
    assert removed == {
        "consents": 0,
        "revocations": 0,
        "dnc_company": 0,
        "revoked_suppressions": 0,
    }
    assert counts(cli.db)["consents"] == 1
    assert audit_kinds(cli.db)["purge"] == 1


def test_c14_cli_caller_id_allowlist(cli: Cli) -> None:
    cli("callerid", "add", "(212) 555-0100", "--label", "District office")
    listed = json.loads(cli("callerid", "list", "--json"))
    assert [(c["number"], c["label"]) for c in listed] == [("+12125550100", "District office")]
    cli("callerid", "remove", "2125550100")
    assert json.loads(cli("callerid", "list", "--json")) == []
    cli("callerid", "remove", "2125550100", code=NotFoundError.exit_code)


def test_c19_cli_audit_verify_names_the_broken_entry(cli: Cli, tmp_path: Path) -> None:
    cli("consent", "import", str(_csv(tmp_path / "c.csv", *(_good(n) for n in range(60, 65)))))
    # five consents and the batch's publication (issue 11)
    assert "audit chain intact: 6 entries" in cli("audit", "verify")
    with closing(raw(cli.db)) as conn:
        conn.execute("DROP TRIGGER audit_append_only")
        conn.execute("UPDATE audit SET payload = replace(payload, 'school', 'x') WHERE seq = 3")
    out = cli("audit", "verify", code=AuditChainError.exit_code)
    assert AuditChainError.exit_code != 0
    assert "audit chain broken at entry 3 (consent)" in out


def test_c3_cli_import_date_only_is_the_day_in_the_organisations_zone(
    cli: Cli, tmp_path: Path
) -> None:
    """organisation.timezone (America/New_York by default): 15 August starts at 04:00Z,
    not at UTC midnight (which is still the 14th in New York)."""
    row = '(212) 555-0131,school,enrollment,enrollment form,2026-08-15,"text",SIS:form/1,Parent,,'
    cli("consent", "import", str(_csv(tmp_path / "dates.csv", row)))
    shown = json.loads(cli("consent", "show", "212-555-0131", "--json"))
    assert shown["consents"][0]["obtained_at"].startswith("2026-08-15T04:00:00")
