"""Export package routes: the recorded packages (request fulfilments), a package's download
(audited: it holds footage and sightings) and its check (signature and every file, audited
as `citywatch export verify` is), through services.exports. A caller limited to some cameras
lists, downloads and checks only the exports whose request's cameras all lie within them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission
from citywatch.requests.export_store import ExportInfo, exports_page
from citywatch.requests.exports import open_export, stored_export, verify_export
from citywatch.runtime.usecases import audit_of
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.paging import NEXT_BEFORE_ID, PAGE_DEFAULT, BeforeId, Limit
from citywatch.web.api.schemas.common import SIGNED_IN, problems

ExportId = Annotated[int, Path(ge=1, description="The export's id.")]
ZIP = "application/zip"


class ExportPublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "request_id": 12,
                    "reference": "POL-2026-0412",
                    "size": 18874368,
                    "sha256": "4b1e…",
                    "created_by": "sue",
                    "created_at": "2026-11-28T10:00:00Z",
                    "download_url": "/api/exports/3/package",
                }
            ]
        },
    )

    id: int
    request_id: int | None = Field(description="The request it fulfils (null once that is gone).")
    reference: str
    size: int
    sha256: str = Field(description="SHA-256 of the whole package file.")
    created_by: str
    created_at: datetime
    download_url: str

    @classmethod
    def of(cls, e: ExportInfo) -> ExportPublic:
        return cls(
            id=e.id,
            request_id=e.request_id,
            reference=e.reference,
            size=e.size,
            sha256=e.sha256,
            created_by=e.created_by,
            created_at=e.created_at,
            download_url=f"/api/exports/{e.id}/package",
        )


class ExportList(BaseModel):
    items: list[ExportPublic] = Field(description="Newest first.")
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


class ExportVerdict(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"export_id": 3, "ok": True, "files": 14, "problem": None, "reference": "POL-2026-0412"}
            ]
        }
    )

    export_id: int
    ok: bool = Field(description="The signature holds (this instance's key) and every file is intact.")
    files: int
    problem: str | None = Field(description="The first problem found, when not ok.")
    reference: str


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    app.add_api_route(
        "/api/exports", list_exports, methods=["GET"], tags=["exports"], responses=problems(*SIGNED_IN)
    )
    app.add_api_route(
        "/api/exports/{export_id}/package",
        download_export,
        methods=["GET"],
        tags=["exports"],
        response_class=FileResponse,
        responses={
            200: {
                "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
                "description": "The signed package.",
            },
            **problems(*SIGNED_IN, 404),
        },
    )
    app.add_api_route(
        "/api/exports/{export_id}/verify",
        check_export,
        methods=["POST"],
        tags=["exports"],
        responses=problems(*SIGNED_IN, 404),
    )


def list_exports(
    request: Request,
    caller: Annotated[Caller, requires(Permission.REQUESTS_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> ExportList:
    """Recorded export packages, newest first (what they hold is read by downloading one)."""
    rt = runtime_of(request)
    rows = exports_page(rt.database, limit=limit, before_id=before_id, visible_to=caller.actor)
    return ExportList(
        items=[ExportPublic.of(e) for e in rows], next_before_id=rows[-1].id if len(rows) == limit else None
    )


def download_export(
    request: Request, caller: Annotated[Caller, requires(Permission.REQUESTS_DECIDE)], export_id: ExportId
) -> FileResponse:
    """The signed package (zip), for its hand-over to the requester. Audited
    (`export.download`): it holds footage and sightings."""
    rt = runtime_of(request)
    info, path = open_export(rt.database, rt.settings.data_dir, audit_of(rt), export_id, by=caller.actor)
    return FileResponse(
        path,
        media_type=ZIP,
        filename=f"export-{info.id}.zip",
        headers={"Cache-Control": "no-store", "X-Content-SHA256": info.sha256},
    )


def check_export(
    request: Request, caller: Annotated[Caller, requires(Permission.EXPORTS_VERIFY)], export_id: ExportId
) -> ExportVerdict:
    """Check a stored package's signature against this instance's key and every file in it
    (as `citywatch export verify`). Audited (`export.verify`)."""
    rt = runtime_of(request)
    audit, data_dir = audit_of(rt), rt.settings.data_dir
    info, path = stored_export(rt.database, data_dir, audit, export_id, by=caller.actor)
    verdict = verify_export(data_dir, audit, path, by=caller.actor, what=f"export:{info.id}")
    return ExportVerdict(
        export_id=info.id,
        ok=verdict.ok,
        files=verdict.files,
        problem=verdict.problem,
        reference=verdict.reference or info.reference,
    )
