"""The API's dependencies: what a route needs, as `Annotated[..., Depends(...)]` types.

`create_app` builds the parts once (settings, store, limiters, the insecure-dev switch) and keeps
them on `app.state`; routes never look there themselves but declare these types, so a test can
replace any part with `app.dependency_overrides[get_store] = ...` (or `get_settings`,
`get_limiters`, `get_insecure_dev`, `caller`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from auditor.api.config import ApiSettings
from auditor.api.security import RateLimiter, client_address
from auditor.api.store import AuditStore


@dataclass(frozen=True)
class Limiters:
    """The API's rate limits: requests per key, failed authentications and public outputs per address."""

    per_key: RateLimiter
    auth_failures: RateLimiter
    public: RateLimiter

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Limiters:
        return cls(RateLimiter(settings.rate_limit_per_minute), RateLimiter(settings.auth_failures_per_minute),
                   RateLimiter(settings.public_rate_limit_per_minute))


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


def get_store(request: Request) -> AuditStore:
    return request.app.state.store


def get_limiters(request: Request) -> Limiters:
    return request.app.state.limiters


def get_insecure_dev(request: Request) -> bool:
    """`solsentry serve --insecure-dev`: no keys, every audit visible to every caller."""
    return request.app.state.insecure_dev


Settings = Annotated[ApiSettings, Depends(get_settings)]
Store = Annotated[AuditStore, Depends(get_store)]
Limits = Annotated[Limiters, Depends(get_limiters)]
InsecureDev = Annotated[bool, Depends(get_insecure_dev)]

# The key goes in `Authorization: Bearer <key>` or in `X-API-Key`; declared so that OpenAPI shows it.
_BEARER = HTTPBearer(scheme_name="bearer", auto_error=False, description="An API key (`solsentry api-key create`)")
_API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="apiKey", auto_error=False, description="The same key")


def caller(request: Request, store: Store, limits: Limits, insecure_dev: InsecureDev,
           bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
           api_key: Annotated[str | None, Security(_API_KEY)] = None) -> str:
    """The API key's id (401 without a valid key, 429 over its rate limit); "dev" in --insecure-dev.

    Failed authentications count against the client address: past `auth_failures_per_minute` it
    gets 429 before its key is looked at, so keys cannot be guessed at speed."""
    if insecure_dev:
        return "dev"
    address, failures = client_address(request), limits.auth_failures
    if (wait := failures.wait(address)) > 0:
        raise HTTPException(429, "too many failed authentications from this address",
                            headers={"Retry-After": str(int(wait) + 1)})
    key = bearer.credentials.strip() if bearer else (api_key or "")
    owner = store.key_owner(key) if key else None
    if owner is None:
        failures.record(address)
        raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    allowed, wait = limits.per_key.allow(owner)
    if not allowed:
        raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(int(wait) + 1)})
    return owner


Owner = Annotated[str, Depends(caller)]
