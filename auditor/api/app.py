"""The FastAPI application: `create_app(settings, insecure_dev)`; routes in routes_*.py."""

from __future__ import annotations

import logging
import shutil
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from auditor import __version__
from auditor.api.config import ApiSettings
from auditor.api.deps import Limiters
from auditor.api.runner import Workers
from auditor.api.store import AuditStore
from auditor.perms import private_dir
from auditor.runtime.children import kill_leftovers

log = logging.getLogger(__name__)


def _allowed(request: Request) -> list[str]:
    """The methods some route serves at the request's path."""
    base = {k: request.scope[k] for k in ("type", "path", "root_path", "headers") if k in request.scope}
    return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
            if any(r.matches({**base, "method": m})[0] == Match.FULL for r in request.app.router.routes)]


def create_app(settings: ApiSettings | None = None, insecure_dev: bool = False, start_workers: bool = True) -> FastAPI:
    from auditor.api import routes_audits, routes_ops

    settings = settings or ApiSettings()
    for folder in (settings.data_dir, settings.jobs_dir):   # private: 0700 (`solsentry serve` also sets umask 077)
        private_dir(folder)
    store = AuditStore(settings.db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        kill_leftovers(settings.children_dir)    # audit processes a killed predecessor left behind
        recovered = store.recover()
        if recovered:
            log.warning("%d audit(s) interrupted by a restart are queued again", recovered)
        shutil.rmtree(settings.data_dir / "incoming", ignore_errors=True)     # half-received uploads
        workers = Workers(store, settings)
        app.state.workers = workers
        if start_workers:
            workers.start()
        yield
        workers.stop()

    app = FastAPI(title="SolSentry", version=__version__, lifespan=lifespan,
                  description="Audits of Solidity sources (Slither, Mythril, review model) and the oracle's "
                              "report bytes by hash. Authenticate with `Authorization: Bearer <key>`.")
    app.state.settings, app.state.store, app.state.insecure_dev = settings, store, insecure_dev
    # Per key: requests; per client address: failed authentications, and the public outputs.
    # Routes get these only through auditor/api/deps.py (so tests can override them).
    app.state.limiters = Limiters.from_settings(settings)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Errors without the submitted values: they may be large sources (or secrets).
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in exc.errors()][:20]
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route whose path matched; list them all.
            exc = StarletteHTTPException(405, exc.detail, headers={**(exc.headers or {}),
                                                                   "Allow": ", ".join(_allowed(request))})
        return await http_exception_handler(request, exc)

    app.include_router(routes_audits.router)
    app.include_router(routes_ops.router)

    def openapi() -> dict:
        if app.openapi_schema is None:      # the submit body's models, which FastAPI does not see
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(routes_audits.BODY_SCHEMAS)
        return app.openapi_schema

    app.openapi = openapi
    return app
