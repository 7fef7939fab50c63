"""Use-case functions shared by the CLI and the web console: a refused request
names every field at fault (the form shows each message next to its field),
and the first problem is what the CLI prints; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.store import counts
from typer.testing import CliRunner

from dialer.cli import app
from dialer.consent.model import EmergencyCategory, Purpose
from dialer.errors import CsvError, DialerError
from dialer.settings import Settings, load_settings
from dialer.store.store import Store
from dialer.usecases.campaigns import CampaignRequest, create_campaign
from dialer.usecases.contacts import import_contacts

RUNNER = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    config = tmp_path / "dialer.toml"
    result = RUNNER.invoke(
        app,
        [
            "--config",
            str(config),
            "init",
            "--callback",
            "+12125550111",
            "--hotline",
            "+12125550199",
        ],
    )
    assert result.exit_code == 0, result.output
    return load_settings(config)


async def test_c1_c14_campaign_refusal_names_each_field_and_writes_nothing(
    cfg: Settings,
) -> None:
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        request = CampaignRequest(
            name="snow",
            purpose=Purpose.EMERGENCY,
            list_name="nobody",
            message="missing",
            caller_id="12",
            window="9-5",
        )
        with pytest.raises(DialerError) as info:
            await create_campaign(cfg, store, request, "tester")
        problems = [info.value, *info.value.also]
        fields = {p.field: str(p) for p in problems}
        assert set(fields) == {"caller_id", "window", "category", "list", "message"}
        assert fields["category"].startswith("C1: an emergency campaign needs a category")
        assert "no contact list" in fields["list"] or "nobody" in fields["list"]
        assert info.value.field == "caller_id"  # the CLI prints the first: as before

        request = CampaignRequest(
            name="snow",
            purpose=Purpose.EMERGENCY,
            list_name="nobody",
            message="missing",
            caller_id="+12125550100",
            category=EmergencyCategory.CLOSURE,
        )
        with pytest.raises(DialerError) as info:
            await create_campaign(cfg, store, request, "tester")
        fields = {p.field: str(p) for p in [info.value, *info.value.also]}
        assert fields["authorized_by"].startswith("C1: an emergency campaign needs who")

        request = CampaignRequest(
            name="snow",
            purpose=Purpose.SCHOOL,
            list_name="nobody",
            message="missing",
            caller_id="+12125550100",
        )
        with pytest.raises(DialerError) as info:
            await create_campaign(cfg, store, request, "tester")
        fields = {p.field: str(p) for p in [info.value, *info.value.also]}
        assert fields["caller_id"].startswith("C14: the caller ID is not on the organisation's")
    finally:
        await store.close()
    assert counts(cfg.store.path)["audit"] == 0


async def test_contact_import_names_the_uploaded_file_and_the_phone_column(
    cfg: Settings, tmp_path: Path
) -> None:
    upload = tmp_path / "upload-1234.csv"
    upload.write_text("student,grade\nAna,5\n")
    store = await Store.open(cfg.store.path, cfg.store.key_file)
    try:
        with pytest.raises(CsvError) as info:
            await import_contacts(cfg, store, upload, "g5", "tester", shown_name="sis.csv")
    finally:
        await store.close()
    assert str(info.value).startswith("sis.csv: no phone column; expected one of: phone")
    assert info.value.field == "file"
    assert str(upload) not in str(info.value)
    assert counts(cfg.store.path)["contacts"] == 0
