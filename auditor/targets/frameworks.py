"""Framework projects: detecting Hardhat, Truffle and Foundry projects and reading their configs.

Configs are *read*, never run (see the package docstring): foundry.toml through tomllib,
Hardhat/Truffle JavaScript only searched for literal paths.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from auditor.config import get_settings
from auditor.errors import TargetError
from auditor.solc.sources import Remapping, strip_comments
from auditor.targets.compilers import CompilerConfig, foundry_compilers, hardhat_compilers, truffle_compilers
from auditor.targets.remappings import FOUNDRY_CONFIG, lib_remappings, merge, parse_remapping, remappings_txt
from auditor.targets.walk import reason, rel

log = logging.getLogger(__name__)

Kind = Literal["file", "directory", "hardhat", "foundry", "truffle"]

HARDHAT_CONFIGS = ("hardhat.config.js", "hardhat.config.ts", "hardhat.config.cjs", "hardhat.config.mjs")
TRUFFLE_CONFIGS = ("truffle-config.js", "truffle.js")


@dataclass
class Project:
    root: Path
    kind: Kind
    config: Path
    source_dirs: list[Path]
    test_dirs: list[Path] = field(default_factory=list)
    excluded_dirs: set[Path] = field(default_factory=set)
    excluded_names: frozenset[str] = frozenset()
    remappings: list[Remapping] = field(default_factory=list)  # targets relative to root
    include_roots: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compilers: CompilerConfig | None = None  # the compilers and settings the config sets (targets/compilers.py)


def detect_project(d: Path) -> Project | None:
    """The framework project whose config lies in `d`, if any.

    A Foundry config wins over Hardhat's (hybrid projects), unless its sources directory is
    missing while a Hardhat config is there.
    """
    hardhat = next((d / n for n in HARDHAT_CONFIGS if (d / n).is_file()), None)
    truffle = next((d / n for n in TRUFFLE_CONFIGS if (d / n).is_file()), None)
    project = None
    if (d / FOUNDRY_CONFIG).is_file():
        project = _foundry(d, d / FOUNDRY_CONFIG)
        if hardhat is not None and not any(s.is_dir() for s in project.source_dirs):
            project = None
    if project is None and hardhat is not None:
        project = _hardhat(d, hardhat)
    if project is None and truffle is not None:
        project = _truffle(d, truffle)
    if project is not None:
        _fallback_to_root(project)
    return project


def enclosing_project(start: Path) -> Project | None:
    """The nearest framework project at or above `start`, not looking past a git repository's top."""
    for d in [start, *start.parents]:
        try:
            project = detect_project(d)
        except TargetError as exc:  # a broken config of an enclosing project: do without it
            log.debug("ignoring enclosing project at %s: %s", d, exc)
            project = None
        if project is not None:
            return project
        if (d / ".git").exists():
            return None
    return None


def _hardhat(root: Path, config: Path) -> Project:
    return _js_project(root, config, "hardhat", "sources", "tests")


def _truffle(root: Path, config: Path) -> Project:
    return _js_project(root, config, "truffle", "contracts_directory", "test_directory", frozenset({"Migrations.sol"}))


def _js_project(
    root: Path, config: Path, kind: Kind, sources_key: str, tests_key: str, excluded_names: frozenset[str] = frozenset()
) -> Project:
    """A Hardhat or Truffle project: sources and tests directories from literal config values
    (`contracts/`, `test/` by default), remappings from remappings.txt."""
    text = _read_config(config)
    warnings: list[str] = []
    sources = _config_dir(root, config, _js_literal(text, sources_key), "contracts", warnings)
    tests = _config_dir(root, config, _js_literal(text, tests_key), "test", warnings)
    project = Project(root, kind, config, [sources], [tests], warnings=warnings, excluded_names=excluded_names)
    project.remappings = remappings_txt(root)
    read = hardhat_compilers if kind == "hardhat" else truffle_compilers
    _set_compilers(project, read(text, root, config.name))
    return project


def _set_compilers(project: Project, compilers: CompilerConfig | None) -> None:
    project.compilers = compilers
    if compilers is not None:
        project.warnings += compilers.warnings


def _foundry(root: Path, config: Path) -> Project:
    try:
        data = tomllib.loads(_read_config(config))
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{config}: not valid TOML ({exc})") from None
    profile = data.get("profile", {}).get("default", {}) if isinstance(data.get("profile"), dict) else {}
    if not isinstance(profile, dict):
        raise TargetError(f"{config}: [profile.default] must be a table")

    def setting(key: str, default, kind: type):
        value = profile.get(key, default)
        ok = (
            isinstance(value, str)
            if kind is str
            else (isinstance(value, list) and all(isinstance(v, str) for v in value))
        )
        if not ok:
            raise TargetError(
                f"{config}: [profile.default] {key} must be a {'string' if kind is str else 'list of strings'}"
            )
        return value

    warnings: list[str] = []
    src = _config_dir(root, config, setting("src", profile.get("contracts", "src"), str), "src", warnings)
    test = _config_dir(root, config, setting("test", "test", str), "test", warnings)
    script = _config_dir(root, config, setting("script", "script", str), "script", warnings)
    libs = [_config_dir(root, config, lib, "lib", warnings) for lib in setting("libs", ["lib"], list)]
    explicit = [parse_remapping(text, config) for text in setting("remappings", [], list)]
    project = Project(
        root,
        "foundry",
        config,
        [src],
        [test, script],
        warnings=warnings,
        excluded_dirs={*libs, test, script},
        include_roots=[lib for lib in libs if lib.is_dir()],
    )
    project.remappings = merge(explicit, remappings_txt(root), lib_remappings(root, libs))
    _set_compilers(project, foundry_compilers(data, root, config.name, get_settings().foundry_profile))
    return project


def _fallback_to_root(project: Project) -> None:
    """A missing sources directory (or an unreadable config value): audit the whole project."""
    missing = [d for d in project.source_dirs if not d.is_dir()]
    if missing and len(missing) == len(project.source_dirs):
        project.warnings.append(
            f"{project.config.name}: sources directory {rel(missing[0], project.root)!r} does not exist; "
            "using every .sol file under the project root"
        )
        project.source_dirs = [project.root]


# ---- config text ----------------------------------------------------------------------------------------
def _read_config(config: Path) -> str:
    try:
        return config.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TargetError(f"cannot read {config}: {reason(exc)}") from None


def _js_literal(text: str, key: str) -> str | None:
    """The first `key: "literal"` in a JS/TS config (comments ignored); None when absent or computed."""
    m = re.search(rf"(?<![\w$.]){re.escape(key)}[\"']?\s*:\s*([\"'`])([^\"'`\n$]+)\1", strip_comments(text))
    return m.group(2).strip() if m else None


def _config_dir(root: Path, config: Path, value: str | None, default: str, warnings: list[str]) -> Path:
    """A directory named by a config, which must stay inside the project root."""
    if value is None:
        value = default
    path = Path(os.path.normpath(root / value))
    if not path.is_relative_to(root):
        warnings.append(f"{config.name}: {value!r} lies outside the project; using {default!r}")
        path = root / default
    return path
