"""Oracle settings: one pydantic-settings class, read from `SOLSENTRY_<FIELD>` variables.

The prefix is the auditor's too (`auditor.config.Settings`): the names are public and stay. So that the
two never read one variable for two things, they share no field but `home` (checked below, at import).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from auditor.config import PROJECT_ROOT, HomeLayout, Settings, home_field, under_home


class OracleSettings(BaseSettings):
    """The oracle's own settings (the node, the chain, its audit jobs): `SOLSENTRY_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="SOLSENTRY_", extra="ignore")

    # SOLSENTRY_HOME (auditor.config): the defaults of the paths below derive from it.
    home: Path = home_field()
    # Where `solsentry chain up` keeps the node's PID, URL and log, and deployments land.
    chain_dir: Path = Field(default_factory=under_home(*HomeLayout.CHAIN))
    rpc_url: str = "http://127.0.0.1:8545"
    hardhat: Path = PROJECT_ROOT / "node_modules" / ".bin" / "hardhat"
    node_start_timeout_s: float = 30.0

    # --- the node (`solsentry oracle run`) ---
    # Deployment file written by `solsentry chain deploy` (default: <chain_dir>/deployment.json).
    deployment: Path | None = None
    # The job store (SQLite, WAL): the node's memory across restarts.
    db_path: Path = Field(default_factory=under_home(*HomeLayout.ORACLE_DB))
    keystore_file: Path = Field(default_factory=under_home(*HomeLayout.ORACLE_KEYSTORE))
    # Password of the keystore: read from this file (preferred; one line, trailing newline ignored),
    # else from SOLSENTRY_KEYSTORE_PASSWORD. Never from a command-line argument (see oracle/keystore.py).
    keystore_password_file: Path | None = None
    keystore_password: SecretStr | None = None
    poll_interval_s: float = 1.0
    confirmations: int = 1
    max_block_range: int = 500
    workers: int = 2
    # An audit that failed this many times (node errors, not bad input) is answered as FAILED locally.
    max_attempts: int = 3
    # Answers ready at the same time go out in one fulfillBatch transaction of at most this many.
    max_batch: int = 50
    # A submitted transaction without a receipt after this long gets its fees bumped.
    stuck_after_s: float = 30.0
    # Warn when a request is still unanswered this many blocks after it was made.
    open_warning_blocks: int = 50
    retention_s: float = 7 * 24 * 3600
    metrics_host: str = "127.0.0.1"
    # /metrics and /healthz: None: not served; 0: on a free port the node picks (written to
    # metrics_port_file once it listens, and logged), which never races another program for it.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_port_file: Path | None = None

    # --- transactions of the node's wallet (oracle/chain/txmanager.py) ---
    # EIP-1559 tip, in wei; maxFeePerGas = min(max_fee_cap_wei, 2 * baseFee + tip).
    max_priority_fee_wei: int = Field(default=10**9, ge=0)
    # Hard ceiling on maxFeePerGas (wei); a base fee above it makes sends fail (nothing is signed).
    max_fee_cap_wei: int = Field(default=500 * 10**9, ge=1)
    # Gas limit = estimate * (1 + gas_margin).
    gas_margin: float = Field(default=0.2, ge=0.0)
    # A replacement (fee bump) raises both fees by at least this much; nodes require 10 % or more.
    fee_bump_percent: float = Field(default=12.5, ge=12.5)
    # Transient RPC errors (connection refused/reset, timeouts, HTTP 429/5xx): retries after the first
    # try, sleeping rpc_backoff_s * 2**attempt between them. Reverts and rejections are not retried.
    rpc_retries: int = Field(default=5, ge=0)
    rpc_backoff_s: float = Field(default=0.5, ge=0.0)

    # --- audit jobs: fetching, unpacking, auditing (oracle/inputs.py, oracle/processor.py) ---
    # Largest input (inline or fetched) accepted; a bigger one is answered INPUT_TOO_LARGE.
    max_input_bytes: int = Field(default=10_000_000, ge=1)
    # Fetching an input URI: socket timeout, and the limit for the whole download.
    fetch_timeout_s: float = Field(default=30.0, gt=0)
    # file:// input URIs read this machine's files: off on real nodes (tests turn it on).
    allow_file_uris: bool = False
    # ipfs://CID/path is fetched as <gateway>/ipfs/CID/path; "" leaves ipfs:// unsupported (INPUT_UNAVAILABLE).
    # The gateway's host obeys the fetch rules below: a local gateway (127.0.0.1:8080) must be in fetch_allow.
    ipfs_gateway: str = ""
    # http(s) inputs are fetched from publicly routable addresses only (oracle/safe_fetch.py). Exceptions
    # for operators with a private gateway: host names (exact match) and/or addresses/CIDRs, e.g.
    # SOLSENTRY_FETCH_ALLOW='["127.0.0.1", "10.1.0.0/16", "gateway.internal"]'. Empty by default.
    fetch_allow: list[str] = []
    # Redirects followed per fetch (http(s) only, each hop checked like the first URL).
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    # What one input may unpack to (auditor.archive_guard.ArchiveLimits); over them: INPUT_TOO_LARGE.
    archive_max_files: int = Field(default=5000, ge=1)
    archive_max_file_bytes: int = Field(default=2_000_000, ge=1)
    archive_max_total_bytes: int = Field(default=50_000_000, ge=1)
    archive_max_ratio: float = Field(default=100.0, gt=1)
    # Wall-clock budget of one audit; it runs in a child process that is killed at the budget (TIMEOUT).
    audit_timeout_s: float = Field(default=600.0, gt=0)
    # Cap on the resident memory (RSS) of an audit's whole process tree (auditor.runtime.limits), MB; past
    # it the tree is killed (INTERNAL_ERROR). 0: none. Every solc-js compiler runs under the default.
    audit_memory_mb: int = Field(default=4096, ge=0)
    # Tools of source audits (JSON list in the environment); code (bytecode) audits run Mythril only.
    audit_tools: tuple[str, ...] = ("slither", "mythril")
    audit_jobs: int | None = None
    # Mythril's --execution-timeout per contract (and per code audit); None: the auditor's setting.
    audit_mythril_timeout_s: int | None = None
    audit_use_cache: bool = True
    # Inputs are unpacked into a fresh temporary folder under this one (None: the system's).
    work_dir: Path | None = None
    # The review step of source audits ("embedded": the bundled model; its id goes into modelHash).
    # "llm": the generative reviewer configured by SOLSENTRY_LLM_* (greedy decoding, fixed seed).
    review: Literal["embedded", "llm", "none"] = "embedded"
    # Where audits run (auditor/runtime/runners.py): "local" processes or a Ray cluster at
    # audit_ray_address (a new local instance when None); "warm": pre-started workers holding the tools,
    # compilers and review model, each audit still isolated; "fresh": a new process per audit.
    audit_executor: Literal["local", "ray"] = "local"
    audit_ray_address: str | None = None
    audit_isolation: Literal["warm", "fresh"] = "warm"
    # A warm worker is replaced after this many audits, or once it grew by this many MB (0: never).
    audit_worker_max_audits: int = Field(default=500, ge=0)
    audit_worker_max_growth_mb: int = Field(default=512, ge=0)
    # "stub": a constant-time fake auditor, only for the latency benchmark; never on a real node.
    auditor: Literal["solsentry", "stub"] = "solsentry"

    @field_validator("fetch_allow")
    @classmethod
    def _check_fetch_allow(cls, value: list[str]) -> list[str]:
        from oracle.address_policy import parse_allow

        return parse_allow(value)

    @property
    def children_dir(self) -> Path:
        """Records of the running audit processes, next to the job store; the node kills what they
        name at start-up (auditor.runtime.children)."""
        return self.db_path.parent / "children"

    @property
    def node_file(self) -> Path:
        return self.chain_dir / "node.json"

    @property
    def deployment_file(self) -> Path:
        return self.deployment or self.chain_dir / "deployment.json"


def shared_fields() -> set[str]:
    """Fields of OracleSettings that auditor's Settings has too, besides `home`: one variable, two meanings."""
    return (set(OracleSettings.model_fields) & set(Settings.model_fields)) - {"home"}


if shared_fields():
    raise TypeError(f"OracleSettings and auditor.config.Settings both read SOLSENTRY_ + {sorted(shared_fields())}")


@lru_cache(maxsize=1)
def get_oracle_settings() -> OracleSettings:
    return OracleSettings()
