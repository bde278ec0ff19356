"""Settings of the HTTP service: one pydantic-settings class, read from SOLSENTRY_API_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from auditor.config import HomeLayout, home_field, under_home


class ApiSettings(BaseSettings):
    """The HTTP service's settings: `SOLSENTRY_API_<FIELD>` (e.g. `SOLSENTRY_API_WORKERS`)."""

    model_config = SettingsConfigDict(env_prefix="SOLSENTRY_API_", extra="ignore")

    # SOLSENTRY_HOME, as for every package: the defaults of the paths below derive from it.
    home: Path = home_field()
    # The job queue, the API keys and the jobs' files live here.
    data_dir: Path = Field(default_factory=under_home(*HomeLayout.API))
    workers: int = 2                       # audits run at once, each in its own process
    audit_timeout_s: float = 600.0
    # Cap on the resident memory (RSS) of an audit's whole process tree (the audit, its workers,
    # compilers, Mythril), MB; past it the tree is killed and the audit fails. 0: none.
    audit_memory_mb: int = 4096
    retention_s: float = 7 * 24 * 3600     # finished audits are deleted after this
    max_body_bytes: int = 10_000_000       # request bodies and uploads
    max_files: int = 2000
    max_unpacked_bytes: int = 50_000_000
    rate_limit_per_minute: int = 60        # requests per API key
    # Failed authentications (no key, a wrong or revoked one) per client address and minute; past
    # it the address gets 429 (Retry-After) before its key is even checked. (Every limit: 0 = none.)
    auth_failures_per_minute: int = 10
    # Requests to the public GET /v1/outputs/{hash} per client address and minute.
    public_rate_limit_per_minute: int = 120
    # Addresses of reverse proxies whose X-Forwarded-For is trusted for the client address (uvicorn's
    # forwarded_allow_ips). Empty: none is; behind a proxy every client then counts as the proxy.
    trusted_proxies: list[str] = []
    cors_origins: list[str] = []           # CORS is off unless origins are listed
    # The oracle node's job store, whose `outputs` table GET /v1/outputs/{hash} serves.
    oracle_db: Path = Field(default_factory=under_home(*HomeLayout.ORACLE_DB))
    poll_interval_s: float = 0.2
    # "local": audits run in processes on this machine; "ray": on the Ray cluster at ray_address (a
    # new local Ray instance when none is given), in long-lived actors (warm) or one task each (fresh).
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    # "warm": audits go to pre-started worker processes (tools, compilers and the review model loaded;
    # auditor/runtime/warm.py), each audit still isolated; "fresh": a new process per audit.
    isolation: Literal["warm", "fresh"] = "warm"
    # A warm worker is replaced after this many audits, or once it grew by this many MB (0: never).
    worker_max_audits: int = Field(default=500, ge=0)
    worker_max_growth_mb: int = Field(default=512, ge=0)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "api.sqlite"

    @property
    def children_dir(self) -> Path:
        """Records of the running audit processes; `solsentry serve` kills what they name at start-up."""
        return self.data_dir / "children"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def results_dir(self) -> Path:
        """The audits' own tool-results cache (not the CLI's): deleting an audit, or retention,
        leaves none of its code in a cache shared with anything else."""
        return self.data_dir / "results"
