"""Reading the project's compilers and settings from its config, as text (auditor/targets/compilers.py).

Pure parsing: no compiler runs here (tests/auditor/test_compiler_choice.py compiles).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from auditor.solc.settings import CompilerSettings, CompilerSpec
from auditor.targets import load_target
from auditor.targets.compilers import foundry_compilers, hardhat_compilers, truffle_compilers
from auditor.targets.jsliteral import COMPUTED, find_property

PROJECTS = Path(__file__).resolve().parents[1] / "fixtures" / "projects"


# ---- the JS literal reader -------------------------------------------------------------------------
def test_literals_nested_with_comments_urls_and_typescript():
    text = """
    import 'hardhat-solidity'; // solidity: "0.1.0" in a comment is not the property
    const LOW: SolcUserConfig = { version: "0.7.6", settings: { optimizer: { enabled: true, runs: 2_000 } } }
    export default {
      networks: { main: { url: `https://x.io//v3/${process.env.KEY}` } },
      solidity: {
        compilers: [LOW, { version: '0.8.20', settings: { viaIR: process.env.IR ? true : false, evmVersion: "paris" } },
                    ...more],
        overrides: { "contracts/A.sol": LOW, 'contracts/B.sol': { version: "0.6.12", }, [key]: 3, short },
      } as SolidityUserConfig,
    }
    """
    assert find_property(text, "solidity") == {
        "compilers": [{"version": "0.7.6", "settings": {"optimizer": {"enabled": True, "runs": 2000}}},
                      {"version": "0.8.20", "settings": {"viaIR": COMPUTED, "evmVersion": "paris"}}, COMPUTED],
        "overrides": {"contracts/A.sol": {"version": "0.7.6", "settings": {"optimizer": {"enabled": True,
                                                                                         "runs": 2000}}},
                      "contracts/B.sol": {"version": "0.6.12"}, "short": COMPUTED},
    }


def test_computed_and_broken_values_give_up_cleanly():
    assert find_property('module.exports = { solidity: "0.8.24", paths: {} }', "solidity") == "0.8.24"
    assert find_property("module.exports = { solidity: getSolidity(), x: 1 }", "solidity") is COMPUTED
    assert find_property("module.exports = { solidity: process.env.SOLC }", "solidity") is COMPUTED
    assert find_property('module.exports = { solidity: {version: "0.8.1"', "solidity") is COMPUTED
    assert find_property("module.exports = { solidity: ", "solidity") is COMPUTED
    assert find_property("module.exports = { paths: {} }", "solidity") is None
    assert find_property("const A = B\nconst B = A\nmodule.exports = { solidity: A }", "solidity") is COMPUTED


# ---- Hardhat ---------------------------------------------------------------------------------------
def test_hardhat_compilers_newest_first_and_overrides(tmp_path):
    text = """module.exports = { solidity: {
      compilers: [{ version: "0.6.12" }, { version: "0.8.20", settings: { optimizer: { enabled: true, runs: 1e3 },
                                                                     viaIR: true, evmVersion: "shanghai" } }],
      overrides: { "./contracts/Old.sol": { version: "0.5.17", settings: { optimizer: { enabled: true } } } },
    } }"""
    cfg = hardhat_compilers(text, tmp_path, "hardhat.config.js")
    assert [c.version for c in cfg.compilers] == ["0.8.20", "0.6.12"]   # Hardhat prefers the newest that fits
    assert cfg.compilers[0].settings == CompilerSettings(optimizer=True, runs=1000, via_ir=True,
                                                         evm_version="shanghai")
    specs, default = cfg.for_file(tmp_path / "contracts" / "Old.sol")
    assert specs == [CompilerSpec("0.5.17", CompilerSettings(optimizer=True))] and default.optimizer
    specs, _ = cfg.for_file(tmp_path / "contracts" / "New.sol")
    assert [s.version for s in specs] == ["0.8.20", "0.6.12"]
    assert cfg.warnings == []


def test_hardhat_unreadable_values_are_warnings_not_errors(tmp_path):
    cfg = hardhat_compilers("module.exports = { solidity: SOLC_VERSION_FROM_ENV() }", tmp_path, "hardhat.config.js")
    assert cfg.compilers == [] and "not a literal" in cfg.warnings[0]
    cfg = hardhat_compilers('module.exports = { solidity: { version: "latest", settings: { optimizer: '
                            '{ enabled: "yes" } } } }', tmp_path, "hardhat.config.js")
    assert cfg.compilers == []
    assert any("'latest' is not a solc version" in w for w in cfg.warnings)
    assert hardhat_compilers("module.exports = {}", tmp_path, "hardhat.config.js") is None
    # a computed version (this repository's own config): the literal settings still apply
    cfg = hardhat_compilers('const V = require("solc/package.json").version\nmodule.exports = { solidity: '
                            '{ version: V, settings: { viaIR: true, evmVersion: "cancun" } } }', tmp_path, "h.js")
    assert cfg.compilers == [] and cfg.settings == CompilerSettings(via_ir=True, evm_version="cancun")
    assert cfg.for_file(tmp_path / "A.sol") == ([], cfg.settings)


def test_pinned_fixture_is_read_from_typescript():
    t = load_target(PROJECTS / "pinned-hardhat")
    assert t.compilers is not None and t.compilers.origin == "hardhat.config.ts"
    assert t.compilers.compilers == [CompilerSpec("0.7.6", CompilerSettings(optimizer=True, runs=800))]


# ---- Foundry ---------------------------------------------------------------------------------------
FOUNDRY_TOML = """
[profile.default]
solc = "0.8.15"
optimizer = true
optimizer_runs = 1_000_000
evm_version = "london"

[profile.ir]
via_ir = true
solc_version = "0.8.24"
"""


def test_foundry_profile_default_and_named(tmp_path):
    data = tomllib.loads(FOUNDRY_TOML)
    cfg = foundry_compilers(data, tmp_path, "foundry.toml")
    assert cfg.compilers == [CompilerSpec("0.8.15", CompilerSettings(True, 1_000_000, False, "london"))]
    cfg = foundry_compilers(data, tmp_path, "foundry.toml", "ir")   # inherits from default, as forge does
    assert cfg.origin == "foundry.toml [profile.ir]"
    assert cfg.compilers == [CompilerSpec("0.8.24", CompilerSettings(True, 1_000_000, True, "london"))]
    cfg = foundry_compilers(data, tmp_path, "foundry.toml", "missing")
    assert cfg.compilers[0].version == "0.8.15" and "has no [profile.missing]" in cfg.warnings[0]
    assert foundry_compilers(tomllib.loads('[profile.default]\nsrc = "src"\n'), tmp_path, "foundry.toml") is None


def test_foundry_profile_from_the_environment(tmp_path, monkeypatch):
    from auditor.config import get_settings

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "A.sol").write_text("pragma solidity ^0.8.0;\ncontract A {}\n")
    (tmp_path / "foundry.toml").write_text(FOUNDRY_TOML)
    monkeypatch.setenv("FOUNDRY_PROFILE", "ir")
    get_settings.cache_clear()
    try:
        t = load_target(tmp_path)
    finally:
        monkeypatch.delenv("FOUNDRY_PROFILE")
        get_settings.cache_clear()
    assert t.compilers.compilers[0].version == "0.8.24" and t.compilers.compilers[0].settings.via_ir


def test_foundry_solc_path_is_ignored_with_a_warning(tmp_path):
    cfg = foundry_compilers({"profile": {"default": {"solc": "/usr/local/bin/solc", "optimizer": "yes"}}},
                            tmp_path, "foundry.toml")
    assert cfg.compilers == [] and cfg.settings == CompilerSettings()
    assert any("not a solc version" in w for w in cfg.warnings)
    assert any("optimizer: expected a bool" in w for w in cfg.warnings)


# ---- Truffle ---------------------------------------------------------------------------------------
def test_truffle_version_range_and_settings(tmp_path):
    text = """module.exports = {
      compilers: { solc: { version: "^0.6.0", settings: { optimizer: { enabled: true, runs: 50 },
                                                         evmVersion: "istanbul" } } } }"""
    cfg = truffle_compilers(text, tmp_path, "truffle-config.js")
    assert cfg.compilers == [CompilerSpec("^0.6.0", CompilerSettings(True, 50, False, "istanbul"))]
    cfg = truffle_compilers('module.exports = { compilers: { solc: { version: "native" } } }', tmp_path, "t.js")
    assert cfg.compilers == []
    legacy = truffle_compilers("module.exports = { solc: { optimizer: { enabled: true, runs: 7 } } }", tmp_path,
                               "truffle.js")
    assert legacy.settings == CompilerSettings(optimizer=True, runs=7)
    assert load_target(PROJECTS / "truffle-app").compilers.compilers[0].version == "0.5.17"
