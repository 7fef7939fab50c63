"""Recordings: upload (any supported format), validation result, play the
converted audio, versions, languages, campaigns using it, per-contact preview."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from dialer.accounts.roles import Permission
from dialer.campaign.messages import MessagePlanner
from dialer.errors import DialerError, InputError, NotFoundError
from dialer.model.recording import Recording
from dialer.model.user import Session
from dialer.usecases.recordings import add_recording, recording_details, remove_recording
from dialer.web.context import context
from dialer.web.ui.core import action, page, redirect, render
from dialer.web.ui.forms import Form

#: what the file picker offers (the importer reads anything ffmpeg reads)
ACCEPT = ".wav,.mp3,.m4a,.aac,.ogg,.opus,.flac,audio/*"


async def _list_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    ctx = context(request)
    grouped: dict[str, list[Recording]] = defaultdict(list)
    for rec in await ctx.store.recordings.all():
        grouped[rec.name].append(rec)
    rows = []
    for name, versions in sorted(grouped.items()):
        rows.append(
            {
                "name": name,
                "languages": sorted({v.language for v in versions}),
                "versions": len(versions),
                "latest": max(versions, key=lambda v: (v.version, v.language)),
                "used_by": await ctx.store.campaigns.campaigns_using_recording(name),
            }
        )
    return render(
        request,
        "recordings.html",
        session,
        rows=rows,
        errors=errors or {},
        values=values or {"language": ctx.settings.audio.default_language},
        accept=ACCEPT,
    )


@page()
async def list_page(request: Request, session: Session) -> Response:
    return await _list_page(request, session)


async def _upload_failed(
    request: Request, session: Session, form: Form, exc: DialerError
) -> Response:
    message = str(exc)
    # the temporary folder's path means nothing to the user: name their file
    for key, path in form.files.items():
        message = message.replace(str(path), form.names.get(key, path.name))
    exc_field = exc.field or "file"
    return await _list_page(request, session, errors={exc_field: message}, values=dict(form.fields))


@action(Permission.MANAGE_RECORDINGS, on_error=_upload_failed)
async def upload(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    file = form.files.get("file")
    if file is None:
        raise InputError("Choose an audio file to upload.", field="file")
    name = form.get("name") or Path(form.names["file"]).stem.lower().replace(" ", "-")
    added = await add_recording(
        ctx.settings,
        ctx.store,
        file,
        name,
        form.get("language") or ctx.settings.audio.default_language,
        session.user.name,
        source_name=form.names["file"],
    )
    rec, conv = added.recording, added.converted
    return redirect(
        request,
        f"/recordings/{rec.name}",
        f"Accepted: {rec.name!r} ({rec.language}) version {rec.version}, {rec.duration:.1f} s, "
        f"loudness {conv.loudness_dbfs:.1f} dBFS, {conv.leading_trim_s + conv.trailing_trim_s:.1f}"
        " s of silence trimmed.",
    )


@page()
async def detail(request: Request, session: Session) -> Response:
    ctx = context(request)
    details = await recording_details(ctx.store, request.path_params["name"])
    campaigns = [await ctx.store.campaigns.get(n) for n in details.used_by]
    return render(
        request,
        "recording.html",
        session,
        details=details,
        versions=sorted(details.versions, key=lambda r: (r.language, -r.version)),
        campaigns=campaigns,
        errors={},
    )


@page()
async def audio(request: Request, session: Session) -> Response:
    """The converted 8 kHz file, exactly what Asterisk plays."""
    ctx = context(request)
    params = request.path_params
    rec = await ctx.store.recordings.version(params["name"], params["language"], params["version"])
    path = ctx.settings.audio.sounds_dir / f"{rec.sound_stem}.wav"
    if not path.is_file():
        raise NotFoundError(f"the audio file of {rec.name!r} version {rec.version} is missing")
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


@page()
async def preview(request: Request, session: Session) -> Response:
    """What one contact of a campaign would hear, as one WAV (GET: nothing changes)."""
    ctx = context(request)
    campaign = await ctx.store.campaigns.get(request.query_params.get("campaign", ""))
    wanted = request.query_params.get("contact", "").strip()
    match = await ctx.store.contacts.find(campaign.version_id, wanted)
    if match is None:
        raise NotFoundError(f"no contact {wanted!r} in list {campaign.list_name!r}")
    folder = Path(tempfile.mkdtemp(prefix="dialer-preview-"))
    out = folder / "preview.wav"
    await MessagePlanner(ctx.settings, ctx.store).preview(
        campaign, match, out, voicemail=request.query_params.get("voicemail") == "1"
    )
    await ctx.store.users.record_action(
        session.user.name, "preview", {"campaign": campaign.name, "contact": wanted}
    )
    out.chmod(0o600)
    return FileResponse(
        out,
        media_type="audio/wav",
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(_cleanup, folder),
    )


def _cleanup(folder: Path) -> None:
    for item in folder.iterdir():
        item.unlink(missing_ok=True)
    folder.rmdir()


@action(Permission.MANAGE_RECORDINGS)
async def remove(request: Request, session: Session, form: Form) -> Response:
    ctx = context(request)
    name = request.path_params["name"]
    count = await remove_recording(ctx.store, name, session.user.name)
    return redirect(request, "/recordings", f"Removed {count} version(s) of {name!r}.")


routes = [
    Route("/recordings", list_page, methods=["GET"]),
    Route("/recordings", upload, methods=["POST"]),
    Route("/recordings/{name}", detail, methods=["GET"]),
    Route("/recordings/{name}/remove", remove, methods=["POST"]),
    Route("/recordings/{name}/{language}/v{version:int}.wav", audio, methods=["GET"]),
    Route("/preview.wav", preview, methods=["GET"]),
]
