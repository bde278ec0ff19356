"""The project's SolSentry config: `solsentry.toml`, or `[tool.solsentry]` in `pyproject.toml`.

Read with tomllib and validated by hand against `_SCHEMA`, so that every mistake is one line that
names the file and the key (an unknown key with the closest known one, a wrong type with the
expected one); a config that silently ignored a typo would silently audit something else.
Precedence (docs/configuration.md): command-line flags over this file over the built-in defaults.
"""

from __future__ import annotations

import difflib
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

CONFIG_NAME = "solsentry.toml"
PYPROJECT = "pyproject.toml"
# A file target's project root: the first directory up from it holding one of these (or a
# pyproject.toml with [tool.solsentry]). Names as auditor/targets/frameworks.py reads them.
ROOT_MARKERS = (CONFIG_NAME, "foundry.toml", "hardhat.config.js", "hardhat.config.ts", "hardhat.config.cjs",
                "hardhat.config.mjs", "truffle-config.js", "truffle.js", ".git")
SEVERITIES = ("high", "medium", "low", "informational")
FAIL_LEVELS = ("high", "medium", "low", "none")
_EXACT = re.compile(r"\d+\.\d+\.\d+\Z")


@dataclass
class ProjectConfig:
    """What a config file sets; None / empty: not set (the flag or the built-in default decides)."""

    path: Path
    root: Path                                   # the project root: exclude-paths start here
    tools: tuple[str, ...] | None = None
    review: str | None = None
    fail_on: str | None = None
    min_severity: str | None = None
    exclude_paths: tuple[str, ...] = ()
    detectors_include: tuple[str, ...] = ()
    detectors_exclude: tuple[str, ...] = ()
    mythril_timeout: int | None = None
    compiler: dict[str, Any] = field(default_factory=dict)   # version, optimizer, runs, via_ir, evm_version


# ---- value checks: each says whether a value fits, and what was expected -----------------------
Check = Callable[[Any], tuple[bool, str]]


def _choice(*names: str) -> Check:
    return lambda v: (isinstance(v, str) and v in names, "one of " + ", ".join(f'"{n}"' for n in names))


def _int(low: int) -> Check:
    return lambda v: (isinstance(v, int) and not isinstance(v, bool) and v >= low, f"an integer >= {low}")


def _bool(v: Any) -> tuple[bool, str]:
    return isinstance(v, bool), "a boolean (true or false)"


def _str(v: Any) -> tuple[bool, str]:
    return isinstance(v, str) and bool(v.strip()), "a non-empty string"


def _str_list(v: Any) -> tuple[bool, str]:
    return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v), "a list of strings"


def _version(v: Any) -> tuple[bool, str]:
    # Exact: a pin names one compiler; a range would be the pragmas' job.
    return isinstance(v, str) and bool(_EXACT.match(v)), 'an exact solc version such as "0.8.24"'


def _tool_list(v: Any) -> tuple[bool, str]:
    from auditor.tools.registry import tool_names

    known = tool_names()
    ok, _ = _str_list(v)
    return ok and bool(v) and all(x in known for x in v), "a non-empty list of " + ", ".join(f'"{n}"' for n in known)


def _review(v: Any) -> tuple[bool, str]:
    from auditor.review.registry import REVIEW_NAMES

    return _choice(*REVIEW_NAMES)(v)


# TOML key -> (ProjectConfig attribute or compiler key, check); a dict value is a table.
_SCHEMA: dict[str, Any] = {
    "tools": ("tools", _tool_list),
    "review": ("review", _review),
    "fail-on": ("fail_on", _choice(*FAIL_LEVELS)),
    "min-severity": ("min_severity", _choice(*SEVERITIES)),
    "exclude-paths": ("exclude_paths", _str_list),
    "detectors": {"include": ("detectors_include", _str_list), "exclude": ("detectors_exclude", _str_list)},
    "mythril": {"timeout": ("mythril_timeout", _int(1))},
    "compiler": {"version": ("version", _version), "optimizer": ("optimizer", _bool), "runs": ("runs", _int(0)),
                 "via-ir": ("via_ir", _bool), "evm-version": ("evm_version", _str)},
}


def load(path: Path, root: Path) -> ProjectConfig:
    """Read and validate the config file `path` (a pyproject.toml: its [tool.solsentry] table)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    prefix = ""
    if path.name == PYPROJECT:
        tool = data.get("tool")
        if not isinstance(tool, dict) or not isinstance(tool.get("solsentry"), dict):
            raise ConfigError(f"{path}: has no [tool.solsentry] table")
        data, prefix = tool["solsentry"], "tool.solsentry."
    cfg = ProjectConfig(path=path, root=root)
    _validate(data, _SCHEMA, cfg, path, prefix)
    return cfg


def _validate(data: dict, schema: dict, cfg: ProjectConfig, path: Path, prefix: str) -> None:
    for key, value in data.items():
        name = prefix + key
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema), n=1, cutoff=0.6)
            hint = f" (did you mean '{prefix + close[0]}'?)" if close else ""
            raise ConfigError(f"{path}: unknown key '{name}'{hint}")
        spec = schema[key]
        if isinstance(spec, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: '{name}' must be a table ([{name}])")
            _validate(value, spec, cfg, path, name + ".")
            continue
        attr, check = spec
        ok, expected = check(value)
        if not ok:
            raise ConfigError(f"{path}: '{name}' must be {expected} (got {_show(value)})")
        if prefix.endswith("compiler."):
            cfg.compiler[attr] = value
        else:
            setattr(cfg, attr, tuple(value) if isinstance(value, list) else value)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def _has_table(pyproject: Path) -> bool:
    """A pyproject.toml that configures SolSentry (one that cannot be parsed is not ours to judge)."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data.get("tool"), dict) and "solsentry" in data["tool"]


def project_root(path: Path) -> Path:
    """A directory target is its own root; a file's is the first directory up with a root marker
    (else the file's own directory)."""
    path = path.resolve()
    if path.is_dir():
        return path
    for d in (path.parent, *path.parent.parents):
        if any(_exists(d / m) for m in ROOT_MARKERS) or (_exists(d / PYPROJECT) and _has_table(d / PYPROJECT)):
            return d
    return path.parent


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:         # a directory above the project we may not look into: no marker there
        return False


def discover(root: Path) -> Path | None:
    """The config file of the project at `root`: solsentry.toml wins over pyproject's table."""
    if (root / CONFIG_NAME).is_file():
        return root / CONFIG_NAME
    if (root / PYPROJECT).is_file() and _has_table(root / PYPROJECT):
        return root / PYPROJECT
    return None


@dataclass
class Merged:
    """The audit command's values after the config: flags given explicitly are kept as they are."""

    tools: str
    fail_on: str
    review: str
    mythril_timeout: int | None
    options: dict[str, Any] = field(default_factory=dict)   # further AuditOptions fields


def merge_cli(ctx: Any) -> Merged:
    """`solsentry audit`'s parameters (a click.Context) merged with the project's config file."""
    from click.core import ParameterSource

    p = ctx.params
    merged = Merged(p["tools"], p["fail_on"], p["review"], p["mythril_timeout"])
    if p["no_config"] and p["config_file"] is not None:
        raise ConfigError("--config and --no-config exclude each other")
    if p["no_config"] or not p["path"].exists():      # a missing PATH is the audit's error to report
        return merged
    root = project_root(p["path"])
    found = p["config_file"] or discover(root)
    if found is None:
        return merged
    cfg = load(Path(found), root)
    if not p["quiet"]:
        print(f"config: {found}", file=sys.stderr)

    def unset(name: str) -> bool:
        return ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)

    for name, value in (("tools", ",".join(cfg.tools) if cfg.tools else None), ("fail_on", cfg.fail_on),
                        ("review", cfg.review), ("mythril_timeout", cfg.mythril_timeout)):
        if value is not None and unset(name):
            setattr(merged, name, value)
    merged.options = to_options(cfg)
    return merged


def to_options(cfg: ProjectConfig) -> dict[str, Any]:
    """The AuditOptions fields the config sets that no flag has (exclude-paths made absolute from
    the project root, so that they mean the same whatever the target's own root is)."""
    table = "tool.solsentry.compiler" if cfg.path.name == PYPROJECT else "compiler"
    override = {**cfg.compiler, "origin": f"{cfg.path.name} [{table}]"} if cfg.compiler else None
    return {"exclude_paths": tuple((cfg.root / p.removeprefix("./")).as_posix() for p in cfg.exclude_paths),
            "detectors_include": cfg.detectors_include, "detectors_exclude": cfg.detectors_exclude,
            "min_severity": cfg.min_severity, "compiler_override": override}
