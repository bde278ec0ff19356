"""Settings of the HTTP service: one pydantic-settings class, read from SOLSENTRY_API_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOLSENTRY_API_", extra="ignore")

    # The job queue, the API keys and the jobs' files live here.
    data_dir: Path = Path.home() / ".cache" / "solsentry" / "api"
    workers: int = 2                       # audits run at once, each in its own process
    audit_timeout_s: float = 600.0
    audit_memory_mb: int = 4096            # address-space cap of an audit process
    retention_s: float = 7 * 24 * 3600     # finished audits are deleted after this
    max_body_bytes: int = 10_000_000       # request bodies and uploads
    max_files: int = 2000
    max_unpacked_bytes: int = 50_000_000
    rate_limit_per_minute: int = 60        # requests per API key
    cors_origins: list[str] = []           # CORS is off unless origins are listed
    # The oracle node's job store, whose `outputs` table GET /v1/outputs/{hash} serves.
    oracle_db: Path = Path.home() / ".cache" / "solsentry" / "oracle" / "jobs.sqlite"
    poll_interval_s: float = 0.2
    # "local": each audit in a process on this machine; "ray": each audit a Ray task on the cluster
    # at ray_address (a new local Ray instance when none is given).
    executor: str = "local"
    ray_address: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "api.sqlite"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"
