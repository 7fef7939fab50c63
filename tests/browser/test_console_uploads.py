"""Uploads as staff make them in a real Chromium (Playwright, Debian's
``chromium``), against the real app on loopback and a real store.

* A file over ``web.max_upload_mb`` is refused while it arrives (HTTP 413) and
  the refusal is shown at the upload form it came from, next to the file
  field, naming the limit: recordings, contact lists, consent import.
* Drag and drop: a file dropped on the drop zone (a real ``drop`` event carrying
  a ``DataTransfer``, dispatched by Playwright) lands in the file field, and
  the upload shows its validation result: accepted, or refused with the reason.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from support import audio_files as af
from support.browser import artifacts_dir
from support.store import raw
from support.webapp import PASSWORD, WebServer, add_user, dialer


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    root = tmp_path_factory.mktemp("uploads")
    config = root / "dialer.toml"
    dialer(
        config, "init", "--org", "Springfield Public Schools",
        "--callback", "+12125550111", "--hotline", "+12125550199",
    )  # fmt: skip
    with config.open("a") as f:
        f.write("\n[web]\nmax_upload_mb = 1\n")
    add_user(config, "ruiz", "admin")
    with WebServer(config) as web:
        yield web


@pytest.fixture
def page(console: WebServer, chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{console.url}/login")
    tab.fill("#name", "ruiz")
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    yield tab
    context.close()
    assert not errors, errors


@pytest.mark.parametrize(
    ("path", "field", "form", "table"),
    [
        ("/recordings", "#file", "form.upload", "recordings"),
        ("/lists", "#file", "form.upload", "contacts"),
        ("/consent", "#consent-file", "form[action='/consent/import']", "consents"),
    ],
)
def test_oversized_upload_is_shown_at_its_form_next_to_the_file_field(
    console: WebServer, page: Any, path: str, field: str, form: str, table: str
) -> None:
    page.goto(f"{console.url}{path}")
    big = {"name": "export.csv", "mimeType": "text/csv", "buffer": b"phone\n" + b"0" * 3 * 2**20}
    page.set_input_files(field, big)
    if path == "/lists":
        page.fill("#list", "grade6")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click(f"{form} button[type=submit]")
    assert answer.value.status == 413
    page.wait_for_load_state()
    page.screenshot(
        path=str(artifacts_dir() / f"upload-too-large{path.replace('/', '-')}.png"), full_page=True
    )
    assert page.locator("h1").inner_text() != "Not done"  # not the generic error page
    error = page.locator(f"{form} #file-error")
    assert error.inner_text() == (
        "The file is larger than the 1 MB limit (web.max_upload_mb); nothing was saved."
    )
    assert page.locator(field).get_attribute("aria-invalid") == "true"
    with closing(raw(console.config.parent / "dialer.db")) as conn:
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def _drop(page: Any, zone: str, path: Path, mime: str) -> None:
    """Drag ``path`` over ``zone`` and drop it, as the browser does for a file
    dragged from the desktop: dragenter, dragover, drop with a DataTransfer."""
    transfer = page.evaluate_handle(
        """([name, mime, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [path.name, mime, base64.b64encode(path.read_bytes()).decode()],
    )
    for kind in ("dragenter", "dragover"):
        page.dispatch_event(zone, kind, {"dataTransfer": transfer})
    assert "over" in (page.get_attribute(zone, "class") or "")  # the zone shows it is a target
    page.dispatch_event(zone, "drop", {"dataTransfer": transfer})
    assert "over" not in (page.get_attribute(zone, "class") or "")


def test_a_recording_dropped_on_the_page_is_uploaded_and_checked(
    console: WebServer, page: Any, tmp_path: Path
) -> None:
    url, zone = console.url, "form.upload [data-dropzone]"
    speech = af.speech_wav(tmp_path / "body.wav", "The book fair starts on Monday.")
    mp3 = af.reencode(speech, tmp_path / "book-fair.mp3", "-ar", "44100", "-b:a", "96k")
    page.goto(f"{url}/recordings")
    _drop(page, zone, mp3, "audio/mpeg")
    assert page.evaluate("document.querySelector('#file').files[0].name") == "book-fair.mp3"
    page.click("form.upload button[type=submit]")
    assert page.url == f"{url}/recordings/book-fair"  # name taken from the dropped file
    assert page.locator(".flash").inner_text().startswith("Accepted: 'book-fair' (en) version 1")
    page.screenshot(path=str(artifacts_dir() / "upload-dropped-accepted.png"), full_page=True)

    # a dropped file that is not audio: refused with the reason next to the file field
    broken = af.random_bytes(tmp_path / "notes.mp3")
    page.goto(f"{url}/recordings")
    _drop(page, zone, broken, "audio/mpeg")
    page.click("form.upload button[type=submit]")
    error = page.locator("#file-error").inner_text()
    assert "notes.mp3" in error and "dialer-upload-" not in error
    page.screenshot(path=str(artifacts_dir() / "upload-dropped-refused.png"), full_page=True)


def test_a_contact_list_dropped_on_the_page_shows_its_refused_rows(
    console: WebServer, page: Any, tmp_path: Path
) -> None:
    sis = tmp_path / "sis.csv"
    sis.write_text("student_id,phone\ns-1,(212) 555-0111\ns-2,555-12\n")
    page.goto(f"{console.url}/lists")
    _drop(page, "form.upload [data-dropzone]", sis, "text/csv")
    page.fill("#list", "grade6")
    page.click("form.upload button[type=submit]")
    assert "1 contacts loaded" in page.locator("#result-h").inner_text()
    refused = page.locator("table.refused tbody tr")
    assert refused.count() == 1 and refused.locator("td").first.inner_text() == "3"
