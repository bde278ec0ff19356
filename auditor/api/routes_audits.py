"""/v1/audits: submit (JSON sources or a .zip upload), status, list, report, delete."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from auditor.api.config import ApiSettings
from auditor.api.deps import InsecureDev, Owner, Settings, Store
from auditor.api.runner import job_dir
from auditor.api.schemas import (
    AuditAccepted,
    AuditCreate,
    AuditList,
    AuditOptionsIn,
    AuditPublic,
    Problem,
    ValidationProblem,
)
from auditor.api.store import AuditJob, AuditStore
from auditor.perms import private_dir

# Every operation here needs a key (401) and counts against its rate limit (429).
router = APIRouter(prefix="/v1", tags=["audits"], responses={
    401: {"model": Problem, "description": "No valid API key", "headers": {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}},
    429: {"model": Problem, "description": "Over the key's rate limit, or too many failed authentications from "
                                            "the client's address", "headers": {
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}},
})
FORMATS = {"json": "application/json", "sarif": "application/sarif+json", "md": "text/markdown",
           "html": "text/html"}
_SIZE_CODES = {"too_large", "bomb", "too_many_files"}


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body over {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"request body over {limit} bytes")
    return bytes(data)


def _public(job: AuditJob) -> AuditPublic:
    duration = job.finished_at - job.started_at if job.finished_at and job.started_at else None
    return AuditPublic(id=job.id, status=job.status, created_at=job.created_at, started_at=job.started_at,
                       finished_at=job.finished_at, duration_s=duration, options=job.options, summary=job.summary,
                       complete={"done": job.complete, "failed": False}.get(job.status), error=job.error,
                       report_url=f"/v1/audits/{job.id}/report" if job.has_report else None)


def _unpack(payload: bytes, settings: ApiSettings) -> tuple[Path, str]:
    """Unpack into a fresh folder; (folder, content hash of the unpacked tree)."""
    from auditor.archive import unpack
    from auditor.archive_guard import ArchiveError, ArchiveLimits

    incoming = private_dir(settings.data_dir / "incoming")
    dest = Path(tempfile.mkdtemp(dir=incoming))
    limits = ArchiveLimits(max_files=settings.max_files, max_total_bytes=settings.max_unpacked_bytes,
                           max_file_bytes=min(settings.max_unpacked_bytes, 5_000_000))
    try:
        written = unpack(payload, dest, limits)
    except ArchiveError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise HTTPException(413 if exc.code in _SIZE_CODES else 400, f"{exc.code}: {exc}") from None
    if not any(p.suffix == ".sol" for p in written):
        shutil.rmtree(dest, ignore_errors=True)
        raise HTTPException(400, "the submission holds no .sol file")
    digest = hashlib.sha256()
    for p in sorted(written):
        digest.update(p.relative_to(dest).as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return dest, digest.hexdigest()


def _body_schemas() -> dict[str, dict]:
    """The JSON body's schemas, for the OpenAPI document's components (app.py adds them there): the
    body is read by hand (size limit, nesting check), so FastAPI does not know the models."""
    schema = AuditCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "AuditCreate": schema}


BODY_SCHEMAS = _body_schemas()
SUBMIT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/AuditCreate"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a .zip of the sources"},
        "options": {"$ref": "#/components/schemas/AuditOptionsIn", "description": "the audit options, as JSON"}}},
        "encoding": {"file": {"contentType": "application/zip"}, "options": {"contentType": "application/json"}}},
}}}


@router.post("/audits", status_code=202, response_model=AuditAccepted, openapi_extra=SUBMIT_BODY,
             responses={400: {"model": Problem}, 413: {"model": Problem}, 415: {"model": Problem},
                        422: {"model": ValidationProblem}})
async def submit(request: Request, owner: Owner, settings: Settings, store: Store) -> AuditAccepted:
    """Queue an audit of the submitted sources; 202 with the audit id and where to poll."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        from auditor.archive import _check_nesting
        from auditor.archive_guard import ArchiveError

        raw = await _body(request, settings.max_body_bytes)
        try:
            text = raw.decode("utf-8")
            _check_nesting(text)
            body = AuditCreate.model_validate(_loads_unique(text))
        except ValidationError as exc:
            raise _invalid(exc, "body") from None
        except ArchiveError as exc:
            if exc.code == "duplicate":                         # a repeated key, at any depth: 400
                raise HTTPException(400, f"{exc.code}: {exc}") from None
            raise RequestValidationError([{"loc": ("body",), "msg": str(exc)[:300], "type": "json_invalid"}]) from None
        except ValueError as exc:                               # not UTF-8, not JSON
            raise RequestValidationError([{"loc": ("body",), "msg": str(exc)[:300], "type": "json_invalid"}]) from None
        payload, options = json.dumps({"files": body.files}).encode(), body.options
    elif ctype == "multipart/form-data":
        payload, options = await _multipart(request, settings)
    else:
        raise HTTPException(415, "send application/json ({\"files\": {...}}) or multipart/form-data with a .zip")
    src, content = _unpack(payload, settings)
    opts = {"tools": list(dict.fromkeys(options.tools)), "review": options.review,
            "mythril_timeout": options.mythril_timeout}
    key = hashlib.sha256(f"{owner}\0{content}\0{json.dumps(opts, sort_keys=True)}".encode()).hexdigest()
    job, created = store.add(owner, key, opts)
    if created:
        target = private_dir(job_dir(settings, job.id))
        src.rename(target / "src")
    else:
        shutil.rmtree(src, ignore_errors=True)
    return AuditAccepted(id=job.id, status=job.status, status_url=f"/v1/audits/{job.id}", reused=not created)


async def _multipart(request: Request, settings: ApiSettings) -> tuple[bytes, AuditOptionsIn]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise HTTPException(413, f"request body over {settings.max_body_bytes} bytes")
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=settings.max_body_bytes)
    except Exception as exc:              # starlette raises its own MultiPartException
        raise HTTPException(400, f"malformed multipart body: {str(exc)[:200]}") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise RequestValidationError([{"loc": ("body", "file"), "msg": "a .zip file is required", "type": "missing"}])
    data = await upload.read(settings.max_body_bytes + 1)
    if len(data) > settings.max_body_bytes:
        raise HTTPException(413, f"upload over {settings.max_body_bytes} bytes")
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise HTTPException(400, "the uploaded file is not a .zip archive")
    raw_options = form.get("options") or "{}"
    raw_options = raw_options if isinstance(raw_options, str) else "{}"
    _refuse_duplicate_keys(raw_options)
    try:
        options = AuditOptionsIn.model_validate_json(raw_options)
    except ValidationError as exc:
        raise _invalid(exc, "body", "options") from None
    return data, options


def _loads_unique(text: str) -> object:
    """json.loads that raises ArchiveError("duplicate"), naming the key, on a key repeated in any object."""
    from auditor.archive import _unique_pairs

    return json.loads(text, object_pairs_hook=_unique_pairs)


def _refuse_duplicate_keys(text: str) -> None:
    """400 when the JSON `text` repeats a key; anything else wrong with it is left to the validation."""
    from auditor.archive import _check_nesting
    from auditor.archive_guard import ArchiveError

    try:
        _check_nesting(text)
        _loads_unique(text)
    except ArchiveError as exc:
        if exc.code == "duplicate":
            raise HTTPException(400, f"{exc.code}: {exc}") from None
    except (ValueError, RecursionError):
        pass


def _invalid(exc: ValidationError, *where: str) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's own (app.py's handler drops the submitted values)."""
    return RequestValidationError([{"loc": (*where, *e["loc"]), "msg": e["msg"], "type": e["type"]}
                                   for e in exc.errors(include_input=False, include_url=False)])


def _own(store: AuditStore, owner: str, audit_id: str, insecure_dev: bool) -> AuditJob:
    job = store.get(audit_id)
    if job is None or (job.owner != owner and not insecure_dev):
        raise HTTPException(404, "no such audit")
    return job


@router.get("/audits/{audit_id}", response_model=AuditPublic, responses={404: {"model": Problem}})
def status(owner: Owner, store: Store, insecure_dev: InsecureDev, audit_id: str) -> AuditPublic:
    """Status, timing and summary of one audit."""
    return _public(_own(store, owner, audit_id, insecure_dev))


@router.get("/audits", response_model=AuditList)
def listing(owner: Owner, store: Store, insecure_dev: InsecureDev,
            status: Literal["queued", "running", "done", "failed"] | None = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
            ) -> AuditList:
    """The caller's audits, newest first."""
    jobs, total = store.list(status, limit, offset, owner=None if insecure_dev else owner)
    return AuditList(items=[_public(j) for j in jobs], total=total, limit=limit, offset=offset)


@router.get("/audits/{audit_id}/report", responses={
    200: {"content": {t: {} for t in FORMATS.values()}, "description": "The report"},
    404: {"model": Problem}, 409: {"model": Problem}})
def report(request: Request, owner: Owner, store: Store, insecure_dev: InsecureDev, audit_id: str,
           format: Literal["json", "sarif", "md", "html"] | None = None) -> Response:
    """The report, in the format named by ?format= or chosen from the Accept header (JSON by default)."""
    from auditor.report.model import Report
    from auditor.report.registry import get_format

    job = _own(store, owner, audit_id, insecure_dev)
    if not job.has_report:
        raise HTTPException(409, f"the audit is {job.status}" + (f": {job.error}" if job.error else ""))
    fmt = format or _negotiate(request.headers.get("accept", ""))
    if fmt == "json":
        return Response(job.report, media_type=FORMATS["json"])
    text = get_format(fmt).render(Report.model_validate_json(job.report))
    return Response(text, media_type=f"{FORMATS[fmt]}; charset=utf-8")


def _negotiate(accept: str) -> str:
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        for name, mt in FORMATS.items():
            if media == mt:
                return name
    return "json"


@router.delete("/audits/{audit_id}", status_code=204, responses={404: {"model": Problem}, 409: {"model": Problem}})
def delete(owner: Owner, store: Store, settings: Settings, insecure_dev: InsecureDev, audit_id: str) -> Response:
    """Delete an audit and its files (not while it runs)."""
    job = _own(store, owner, audit_id, insecure_dev)
    if job.status == "running":
        raise HTTPException(409, "the audit is running; delete it when it has finished")
    store.delete(job.id)
    shutil.rmtree(job_dir(settings, job.id), ignore_errors=True)
    return Response(status_code=204)

