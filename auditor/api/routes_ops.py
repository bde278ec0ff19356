"""Operations and the oracle's outputs: /healthz, /metrics, /v1/outputs/{hash}."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from auditor import outputs
from auditor.api.deps import Limits, Settings, Store
from auditor.api.schemas import Problem
from auditor.api.security import client_address

router = APIRouter()
_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@router.get("/healthz", tags=["ops"])
def healthz(store: Store, request: Request) -> dict:
    """Liveness, the queue's state and the audit workers' (how many are warm; no key needed)."""
    workers = getattr(request.app.state, "workers", None)
    return {"status": "ok", "audits": store.counts(), "workers": workers.status() if workers is not None else None}


@router.get("/metrics", tags=["ops"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(store: Store) -> Response:
    """Prometheus metrics: audits by status, API keys in use."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    by_status = Gauge("solsentry_api_audits", "Audits in the store, by status", ["status"], registry=registry)
    for status, n in store.counts().items():
        by_status.labels(status).set(n)
    Gauge("solsentry_api_keys", "Active API keys", registry=registry).set(store.active_keys())
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/outputs/{output_hash}", tags=["oracle"], response_class=Response,
            responses={200: {"content": {"application/json": {}}, "description": "The report bytes"},
                       400: {"model": Problem}, 404: {"model": Problem},
                       429: {"model": Problem, "description": "Over the client address's rate limit", "headers": {
                           "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}}})
def output(request: Request, limits: Limits, settings: Settings, output_hash: Annotated[str, Path(json_schema_extra={
        "pattern": f"^{_HASH.pattern}$"})]) -> Response:
    """The oracle's report bytes whose keccak256 is `output_hash` (as posted on chain); public, rate
    limited per client address."""
    allowed, wait = limits.public.allow(client_address(request))
    if not allowed:
        raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(int(wait) + 1)})
    if not _HASH.fullmatch(output_hash):
        raise HTTPException(400, "the hash must be 32 bytes of hex (0x optional)")
    key = "0x" + output_hash.lower().removeprefix("0x")
    path = settings.oracle_db
    if not path.is_file():
        raise HTTPException(404, "no output with this hash (no oracle store here)")
    data = outputs.read(path, key)          # auditor's outputs table, which the oracle writes
    if data is None:
        raise HTTPException(404, "no output with this hash")
    return Response(data, media_type="application/json")
