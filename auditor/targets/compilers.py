"""The compilers and compiler settings a project configures, read from its config (never run).

* Foundry, `foundry.toml`: `solc` / `solc_version`, `optimizer`, `optimizer_runs`, `via_ir`,
  `evm_version` of the profile named by FOUNDRY_PROFILE (default `default`), over `[profile.default]`
  as forge merges them.
* Hardhat, `hardhat.config.{js,ts,cjs,mjs}`: the literal `solidity` property, as a version string,
  `{version, settings}`, or `{compilers: [{version, settings}...], overrides: {path: {version, settings}}}`.
  Hardhat compiles each file with the newest configured compiler its pragmas allow, and an
  override's compiler for that path.
* Truffle, `truffle-config.js`: `compilers.solc.version` (an exact version or a range) and
  `compilers.solc.settings` (or the older top-level `solc.optimizer`).

A value this cannot read (computed, a path to a native solc, a wrong type) is left out with a
warning for the user; the file's compiler then comes from its pragmas as without a config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from auditor.errors import PragmaError
from auditor.solc.settings import CompilerSettings, CompilerSpec
from auditor.solc.versions import Constraint, Version
from auditor.targets.jsliteral import COMPUTED, find_property


@dataclass
class CompilerConfig:
    origin: str                                  # what was read, for notes: "hardhat.config.ts"
    root: Path                                   # the project root: override paths start here
    compilers: list[CompilerSpec] = field(default_factory=list)     # preferred first (newest first)
    settings: CompilerSettings = field(default_factory=CompilerSettings)   # for files no compiler entry covers
    overrides: dict[str, CompilerSpec] = field(default_factory=dict)   # '/'-separated path from root
    warnings: list[str] = field(default_factory=list)
    # The SolSentry config pins `compilers[0]`: a file whose pragmas refuse it is an error, not a fallback.
    pinned: bool = False

    def for_file(self, path: Path) -> tuple[list[CompilerSpec], CompilerSettings]:
        """The configured compilers for `path` (preferred first) and the settings for its other candidates."""
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            rel = None
        if rel is not None and rel in self.overrides:
            spec = self.overrides[rel]
            return [spec], spec.settings
        return list(self.compilers), (self.compilers[0].settings if self.compilers else self.settings)


def with_override(config: CompilerConfig | None, override: dict, root: Path) -> CompilerConfig:
    """`config` with the SolSentry config's [compiler] keys replacing what the project set: each
    setting given replaces that setting everywhere; a version replaces every configured compiler
    (per-path overrides included) and is pinned."""
    origin = override.get("origin", "solsentry.toml [compiler]")
    given = {k: override[k] for k in ("optimizer", "runs", "via_ir", "evm_version") if k in override}
    cfg = config or CompilerConfig(origin, root)

    def patch(spec: CompilerSpec) -> CompilerSpec:
        return replace(spec, settings=replace(spec.settings, **given))

    out = replace(cfg, settings=replace(cfg.settings, **given), compilers=[patch(s) for s in cfg.compilers],
                  overrides={k: patch(v) for k, v in cfg.overrides.items()})
    if override.get("version"):
        settings = out.compilers[0].settings if out.compilers else out.settings
        out = replace(out, origin=origin, compilers=[CompilerSpec(override["version"], settings)],
                      overrides={}, pinned=True)
    return out


# ---- Foundry -------------------------------------------------------------------------------------
def foundry_compilers(data: dict, root: Path, config_name: str, profile: str = "default") -> CompilerConfig | None:
    profiles = data.get("profile") if isinstance(data.get("profile"), dict) else {}
    merged = dict(profiles.get("default") or {}) if isinstance(profiles.get("default"), dict) else {}
    origin = f"{config_name} [profile.{profile}]"
    warnings: list[str] = []
    if profile != "default":
        chosen = profiles.get(profile)
        if isinstance(chosen, dict):
            merged.update(chosen)
        else:
            warnings.append(f"{config_name}: FOUNDRY_PROFILE={profile!r} has no [profile.{profile}]; "
                            "using [profile.default]")
            origin = f"{config_name} [profile.default]"
    keys = ("solc", "solc_version", "optimizer", "optimizer_runs", "via_ir", "evm_version")
    if not any(k in merged for k in keys) and not warnings:
        return None
    cfg = CompilerConfig(origin, root, warnings=warnings)
    settings = CompilerSettings(
        optimizer=_typed(merged.get("optimizer"), bool, False, f"{origin} optimizer", cfg.warnings),
        runs=_runs(merged.get("optimizer_runs"), f"{origin} optimizer_runs", cfg.warnings),
        via_ir=_typed(merged.get("via_ir"), bool, False, f"{origin} via_ir", cfg.warnings),
        evm_version=_typed(merged.get("evm_version"), str, None, f"{origin} evm_version", cfg.warnings),
    )
    cfg.settings = settings
    # `solc` and its older name `solc_version` are one setting: the named profile's wins over default's.
    layers = [profiles.get(profile), profiles.get("default")]
    solc = next((layer[k] for layer in layers if isinstance(layer, dict)
                 for k in ("solc", "solc_version") if k in layer), None)
    if solc is not None:
        version = _exact(solc, f"{origin} solc", cfg.warnings)
        if version:
            cfg.compilers = [CompilerSpec(version, settings)]
    return cfg


# ---- Hardhat -------------------------------------------------------------------------------------
def hardhat_compilers(text: str, root: Path, config_name: str) -> CompilerConfig | None:
    cfg = CompilerConfig(config_name, root)
    value = find_property(text, "solidity")
    if value is None:   # not in this file (a spread of another module's config?): the pragmas decide
        return None
    if isinstance(value, str):
        value = {"version": value}
    if not isinstance(value, dict):
        cfg.warnings.append(f"{config_name}: `solidity` is not a literal; the compilers come from the pragmas")
        return cfg
    if "compilers" in value:
        entries = value["compilers"] if isinstance(value["compilers"], list) else [COMPUTED]
    else:
        entries = [value]
    for i, entry in enumerate(entries):
        spec = _hardhat_entry(entry, f"{config_name} solidity.compilers[{i}]" if "compilers" in value
                              else f"{config_name} solidity", cfg.warnings)
        if spec is not None:
            cfg.compilers.append(spec)
    # Hardhat takes the newest configured compiler that the file's pragmas allow.
    cfg.compilers.sort(key=lambda s: Version.parse(s.version), reverse=True)
    if not cfg.compilers and entries and isinstance(entries[0], dict):
        # A computed version (`require("solc/package.json").version`): its literal settings still apply.
        cfg.settings = _js_settings(entries[0].get("settings"), "", [])
    overrides = value.get("overrides", {})
    if not isinstance(overrides, dict):
        cfg.warnings.append(f"{config_name}: solidity.overrides is not a literal; ignored")
        overrides = {}
    for path, entry in overrides.items():
        spec = _hardhat_entry(entry, f"{config_name} solidity.overrides[{path!r}]", cfg.warnings)
        if spec is not None:
            cfg.overrides[path.removeprefix("./")] = spec
    return cfg


def _hardhat_entry(entry: Any, where: str, warnings: list[str]) -> CompilerSpec | None:
    if not isinstance(entry, dict):
        warnings.append(f"{where}: not a literal {{version, settings}}; ignored")
        return None
    version = _exact(entry.get("version"), f"{where}.version", warnings)
    if version is None:
        return None
    return CompilerSpec(version, _js_settings(entry.get("settings"), f"{where}.settings", warnings))


# ---- Truffle -------------------------------------------------------------------------------------
def truffle_compilers(text: str, root: Path, config_name: str) -> CompilerConfig | None:
    compilers = find_property(text, "compilers")
    solc = compilers.get("solc") if isinstance(compilers, dict) else None
    legacy = find_property(text, "solc") if solc is None else None   # truffle 4: module.exports.solc
    if solc is None and legacy is None:
        return None
    cfg = CompilerConfig(config_name, root)
    entry = solc if isinstance(solc, dict) else {}
    settings_value = entry.get("settings")
    if settings_value is None and isinstance(legacy, dict):
        settings_value = {"optimizer": legacy.get("optimizer")} if "optimizer" in legacy else None
    cfg.settings = _js_settings(settings_value, f"{config_name} compilers.solc.settings", cfg.warnings)
    version = entry.get("version")
    if isinstance(version, str) and version.strip() not in ("native", "pragma", ""):
        try:
            Constraint.parse(version)
            cfg.compilers = [CompilerSpec(version.strip(), cfg.settings)]
        except PragmaError:
            cfg.warnings.append(f"{config_name}: compilers.solc.version {version!r} is not a version or range "
                                "(a path or a docker image?); the compiler comes from the pragmas")
    elif version is not None and not isinstance(version, str):
        cfg.warnings.append(f"{config_name}: compilers.solc.version is not a literal; ignored")
    return cfg


# ---- values --------------------------------------------------------------------------------------
def _js_settings(value: Any, where: str, warnings: list[str]) -> CompilerSettings:
    if value is None:
        return CompilerSettings()
    if not isinstance(value, dict):
        warnings.append(f"{where}: not a literal; solc's defaults are used")
        return CompilerSettings()
    optimizer = value.get("optimizer") if isinstance(value.get("optimizer"), dict) else {}
    if "optimizer" in value and not isinstance(value.get("optimizer"), dict):
        warnings.append(f"{where}.optimizer: not a literal; ignored")
    return CompilerSettings(
        optimizer=_typed(optimizer.get("enabled"), bool, False, f"{where}.optimizer.enabled", warnings),
        runs=_runs(optimizer.get("runs"), f"{where}.optimizer.runs", warnings),
        via_ir=_typed(value.get("viaIR"), bool, False, f"{where}.viaIR", warnings),
        evm_version=_typed(value.get("evmVersion"), str, None, f"{where}.evmVersion", warnings),
    )


def _typed(value: Any, kind: type, default: Any, where: str, warnings: list[str]) -> Any:
    if value is None:
        return default
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        return value
    warnings.append(f"{where}: {'not a literal' if value is COMPUTED else f'expected a {kind.__name__}'}; ignored")
    return default


def _runs(value: Any, where: str, warnings: list[str]) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    runs = _typed(value, int, 200, where, warnings)
    if runs < 0:
        warnings.append(f"{where}: negative; ignored")
        return 200
    return runs


def _exact(value: Any, where: str, warnings: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return str(Version.parse(value))
        except PragmaError:
            pass
        warnings.append(f"{where}: {value!r} is not a solc version (a path to a native solc?); "
                        "the compiler comes from the pragmas")
        return None
    warnings.append(f"{where}: not a literal version; the compiler comes from the pragmas")
    return None
