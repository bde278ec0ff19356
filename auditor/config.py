"""The auditor's settings (`Settings`, variables `SOLSENTRY_<FIELD>`), and the root every settings class
derives its paths from.

Three classes, one per package, each reading its own variables: `Settings` here (`SOLSENTRY_`: compilers,
tools, the review), `auditor.api.config.ApiSettings` (`SOLSENTRY_API_`), `oracle.config.OracleSettings`
(`SOLSENTRY_`, like this class: the names are public, so they stay; the two classes may share no field
but `home`, which `oracle/config.py` checks when it is imported). Each declares `home = home_field()`
(the root, `SOLSENTRY_HOME`, whatever its prefix) and derives the defaults of its paths from it with
`under_home(*HomeLayout.X)`, so a specific variable (`SOLSENTRY_CACHE_DIR`, ...) still wins.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The root of everything SolSentry keeps on a machine (compilers, results, the API's and the oracle's
# state, the local chain); each settings class derives its paths from it unless a specific variable
# names another place.
HOME_ENV = "SOLSENTRY_HOME"
# Variables read directly rather than through a settings class: known, so the CLI does not warn.
DIRECT_ENV = frozenset({
    "SOLSENTRY_LLM_API_KEY",      # the default of llm_api_key_env (auditor/review/llm/backends.py)
    "SOLSENTRY_AUDIT_TOKEN",      # marks an audit's processes (auditor/runtime/children.py)
    "SOLSENTRY_ALLOW_PATHS",      # set for the solc-js wrapper (auditor/solc/wrapper.js)
    "SOLSENTRY_SOLC_VERSION",     # set for Mythril's launcher (auditor/tools/mythril_launcher.py)
    "SOLSENTRY_SMARTBUGS_DIR", "SOLSENTRY_EIP712_VECTORS",   # read by the test suite
})


def default_home() -> Path:
    return Path.home() / ".cache" / "solsentry"


class HomeLayout:
    """Where each part keeps its state under the root (one table: the API finds the oracle's job store,
    whose `outputs` it serves, where the oracle puts it)."""

    CACHE: tuple[str, ...] = ()                       # compilers, Mythril's home, tool results
    API = ("api",)                                    # the API's queue, keys and jobs
    ORACLE_DB = ("oracle", "jobs.sqlite")             # the oracle's job store (and its outputs)
    ORACLE_KEYSTORE = ("oracle", "keystore.json")
    CHAIN = ("chain",)                                # `solsentry chain up`'s node and deployments


def home_field() -> Any:
    """The `home` field of every settings class: `SOLSENTRY_HOME` whatever the class's prefix."""
    return Field(default_factory=default_home, validation_alias=HOME_ENV)


def under_home(*parts: str) -> Callable[[dict[str, Any]], Path]:
    """The default factory of a path under the root: `Field(default_factory=under_home(*HomeLayout.API))`."""
    return lambda data: Path(data["home"]).joinpath(*parts)


def env_names(*classes: type[BaseSettings]) -> set[str]:
    """The environment variables the given settings classes read (upper case)."""
    names: set[str] = set()
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, str):
                names.add(alias.upper())
            elif isinstance(alias, AliasChoices):
                names.update(c.upper() for c in alias.choices if isinstance(c, str))
            else:
                names.add((prefix + name).upper())
    return names


class Settings(BaseSettings):
    """The auditor's settings: `SOLSENTRY_<FIELD>` (e.g. `SOLSENTRY_MYTHRIL_TIMEOUT_S`)."""

    model_config = SettingsConfigDict(env_prefix="SOLSENTRY_", extra="ignore")

    home: Path = home_field()                                     # SOLSENTRY_HOME
    # Compilers (<cache_dir>/solc), Mythril's home and, unless results_dir is set, tool results.
    cache_dir: Path = Field(default_factory=under_home(*HomeLayout.CACHE))
    # Native solc (on PATH, or installed by solc-select / py-solc-x) is faster than solc-js.
    solc_prefer_native: bool = True
    # The solc-js API module (wrapper.js) comes from this npm release; it drives every soljson version.
    solc_runtime_version: str = "0.8.30"
    # How long the list of installable versions from the npm registry is trusted.
    solc_versions_ttl_s: int = 24 * 3600
    # Never ask the npm registry; use only what is cached.
    offline: bool = False
    npm: str = "npm"
    node: str = "node"
    npm_timeout_s: int = 300
    # Mythril lives in its own virtual environment (it cannot share one with web3 7).
    mythril_env: Path = PROJECT_ROOT / ".venv-mythril"
    # Mythril's --execution-timeout per contract, and the cap on the resident memory (RSS) of its
    # process tree (Mythril and the solc it starts), MB (auditor/runtime/limits.py).
    mythril_timeout_s: int = 60
    mythril_memory_mb: int = 4096
    # Larger sources are reported as errors instead of compiled (a generated 5 MB file would
    # take solc-js minutes and gigabytes).
    max_source_bytes: int = 2_000_000
    # The foundry.toml profile whose compiler settings an audit uses, as forge reads it.
    foundry_profile: str = Field("default", validation_alias=AliasChoices("FOUNDRY_PROFILE",
                                                                           "SOLSENTRY_FOUNDRY_PROFILE"))

    # Generative review (--review llm): a local model directory / hub id, or an OpenAI-compatible
    # base URL (http...); the API key is read from the variable named by llm_api_key_env.
    llm_model: str | None = None
    llm_adapter: str | None = None
    llm_model_name: str | None = None        # the model name an endpoint serves
    llm_api_key_env: str = "SOLSENTRY_LLM_API_KEY"
    llm_quantize: str | None = None          # "8bit" | "4bit" (bitsandbytes, GPU)
    llm_max_new_tokens: int = 1024
    llm_context_tokens: int = 8192
    llm_attempts: int = 3                    # generations per file before it counts as a review failure
    llm_timeout_s: float = 300.0

    # Where tool results are cached (default: <cache_dir>/results).
    results_dir: Path | None = None

    @property
    def solc_dir(self) -> Path:
        return self.cache_dir / "solc"

    @property
    def results_path(self) -> Path:
        return self.results_dir or self.cache_dir / "results"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
