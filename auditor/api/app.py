"""The FastAPI application: `create_app(settings, insecure_dev)`; routes in routes_*.py."""

from __future__ import annotations

import logging
import shutil
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from auditor import __version__
from auditor.api.config import ApiSettings
from auditor.api.runner import Workers
from auditor.api.security import RateLimiter
from auditor.api.store import AuditStore

log = logging.getLogger(__name__)


def create_app(settings: ApiSettings | None = None, insecure_dev: bool = False, start_workers: bool = True) -> FastAPI:
    from auditor.api import routes_audits, routes_ops

    settings = settings or ApiSettings()
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    store = AuditStore(settings.db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        recovered = store.recover()
        if recovered:
            log.warning("%d audit(s) interrupted by a restart are queued again", recovered)
        shutil.rmtree(settings.data_dir / "incoming", ignore_errors=True)     # half-received uploads
        workers = Workers(store, settings)
        if start_workers:
            workers.start()
        yield
        workers.stop()

    app = FastAPI(title="SolSentry", version=__version__, lifespan=lifespan,
                  description="Audits of Solidity sources (Slither, Mythril, review model) and the oracle's "
                              "report bytes by hash. Authenticate with `Authorization: Bearer <key>`.")
    app.state.settings, app.state.store, app.state.insecure_dev = settings, store, insecure_dev
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
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

    app.include_router(routes_audits.router)
    app.include_router(routes_ops.router)
    return app
