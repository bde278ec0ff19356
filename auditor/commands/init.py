"""`solsentry init [DIR]`: write a commented default solsentry.toml (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import click

# Every key, with its default. Keys whose default is a value are set to it; those whose default
# is "whatever the project or the environment decides" (the compiler, Mythril's budget) are left
# commented out, since any value written here would override that. Loaded back, this file means
# exactly the built-in defaults (tests/auditor/test_project_config.py checks it).
TEMPLATE = """\
# SolSentry configuration (docs/configuration.md). Command-line flags win over this file,
# which wins over the built-in defaults. Unknown keys are errors.

# Tools to run (like --tools).
tools = [{tools}]

# The review of the findings (like --review): "embedded" (the bundled model), "llm"
# (a generative model; needs --model or SOLSENTRY_LLM_MODEL) or "none" (tools only).
review = "embedded"

# Exit 1 when a counted finding is at or above this severity (like --fail-on):
# "high", "medium", "low" or "none" (never).
fail-on = "high"

# Findings below this severity are not reported: "high", "medium", "low" or "informational" (all).
min-severity = "informational"

# Glob patterns, relative to this directory, of Solidity files not to analyze at all
# (`*` within one path segment, `**` across segments), e.g. ["src/test/**", "mocks/*.sol"].
exclude-paths = []

[detectors]
# Which findings are reported, by detector name ("reentrancy-eth", "slither:reentrancy-eth",
# "mythril:SWC-107"), SWC id ("SWC-107") or category ("reentrancy").
# include: only findings matching one of these ([] = every finding); exclude: never these.
include = []
exclude = []

[mythril]
# Mythril's execution budget per contract, seconds (like --mythril-timeout; default 60,
# or SOLSENTRY_MYTHRIL_TIMEOUT_S).
# timeout = 60

[compiler]
# Overrides of the compiler the project configures (Hardhat, Foundry, Truffle) or the pragmas choose.
# Not set: the project's / solc's own. A version pins the compiler: a file whose pragmas do not
# allow it is an error.
# version = "0.8.24"
# optimizer = false
# runs = 200
# via-ir = false
# evm-version = "cancun"
"""


def default_text() -> str:
    from auditor.tools.registry import TOOL_NAMES

    return TEMPLATE.format(tools=", ".join(f'"{t}"' for t in TOOL_NAMES))


@click.command("init")
@click.argument("directory", metavar="[DIR]", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing solsentry.toml.")
def init_cmd(directory: Path, force: bool) -> None:
    """Write a commented default solsentry.toml into DIR (default: the current directory)."""
    from auditor.errors import ConfigError
    from auditor.project_config import CONFIG_NAME

    target = directory / CONFIG_NAME
    if not directory.is_dir():
        raise ConfigError(f"directory {directory} does not exist")
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite it)")
    try:
        target.write_text(default_text(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    click.echo(f"wrote {target}")
