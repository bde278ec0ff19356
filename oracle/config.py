"""Oracle settings: one pydantic-settings class, read from SOLSENTRY_* variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from auditor.config import PROJECT_ROOT


class OracleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOLSENTRY_", extra="ignore")

    # Where `solsentry chain up` keeps the node's PID, URL and log, and deployments land.
    chain_dir: Path = Path.home() / ".cache" / "solsentry" / "chain"
    rpc_url: str = "http://127.0.0.1:8545"
    hardhat: Path = PROJECT_ROOT / "node_modules" / ".bin" / "hardhat"
    node_start_timeout_s: float = 30.0

    @property
    def node_file(self) -> Path:
        return self.chain_dir / "node.json"

    @property
    def deployment_file(self) -> Path:
        return self.chain_dir / "deployment.json"


@lru_cache(maxsize=1)
def get_oracle_settings() -> OracleSettings:
    return OracleSettings()
