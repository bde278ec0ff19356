"""auditor.targets: from a path to own sources, remappings and include roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.errors import TargetError
from auditor.solc.compiler import compile_files
from auditor.solc.sources import Remapping, compilation_unit
from auditor.targets import Target, load_target

PROJECTS = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
HARDHAT = PROJECTS / "hardhat-app"
FOUNDRY = PROJECTS / "foundry-app"
TRUFFLE = PROJECTS / "truffle-app"


def rel(target: Target) -> list[str]:
    return [target.relpath(s) for s in target.sources]


def write(path: Path, text: str = "pragma solidity ^0.8.0;\ncontract C {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- the fixture projects ------------------------------------------------------------------------
def test_hardhat_project():
    t = load_target(HARDHAT)
    assert t.kind == "hardhat"
    assert t.root == HARDHAT and t.path == HARDHAT
    assert t.config == HARDHAT / "hardhat.config.js"
    # contracts/test/ holds test helpers: not an own source by default
    assert rel(t) == ["contracts/EtherBank.sol", "contracts/Treasury.sol", "contracts/interfaces/IBank.sol"]
    assert all(s.is_absolute() for s in t.sources)
    assert Remapping("@acme/access/", "node_modules/@acme/access/") in t.remappings
    assert t.include_roots[:2] == [HARDHAT, HARDHAT / "node_modules"]
    assert t.is_dependency(HARDHAT / "node_modules/@acme/access/contracts/Owned.sol")
    assert t.is_dependency("node_modules/@acme/access/contracts/Owned.sol")  # a solc source unit name
    assert not t.is_dependency(HARDHAT / "contracts/EtherBank.sol")
    assert t.is_dependency(HARDHAT / "contracts/test/BankUser.sol")
    assert t.warnings == [] and t.skipped == []

    with_tests = load_target(str(HARDHAT), include_tests=True)
    assert "contracts/test/BankUser.sol" in rel(with_tests)


def test_foundry_project():
    t = load_target(FOUNDRY)
    assert t.kind == "foundry"
    assert t.root == FOUNDRY and t.config == FOUNDRY / "foundry.toml"
    assert rel(t) == ["src/ShareToken.sol", "src/Vault.sol"]
    assert [str(r) for r in t.remappings] == [
        "@solmate/=lib/solmate/src/",  # foundry.toml
        "@math/=lib/simple-math/",  # remappings.txt
        "forge-std/=lib/forge-std/src/",  # automatic: lib/<name>/src/ exists
        "simple-math/=lib/simple-math/",  # automatic: no src/, the lib itself
        "solmate/=lib/solmate/src/",
    ]
    assert t.include_roots[:2] == [FOUNDRY, FOUNDRY / "lib"]
    assert t.is_dependency(FOUNDRY / "lib/solmate/src/utils/Guarded.sol")
    assert t.is_dependency(FOUNDRY / "test/Vault.t.sol")
    assert t.is_dependency(FOUNDRY / "script/Deploy.s.sol")

    with_tests = load_target(FOUNDRY, include_tests=True)
    assert rel(with_tests) == ["script/Deploy.s.sol", "src/ShareToken.sol", "src/Vault.sol", "test/Vault.t.sol"]


def test_truffle_project():
    t = load_target(TRUFFLE)
    assert t.kind == "truffle"
    assert t.root == TRUFFLE and t.config == TRUFFLE / "truffle-config.js"
    assert rel(t) == ["contracts/TipJar.sol", "contracts/math/SafeSum.sol"]  # no Migrations.sol
    assert Remapping("pause-kit/", "node_modules/pause-kit/") in t.remappings
    assert t.is_dependency(TRUFFLE / "contracts/Migrations.sol")
    assert "contracts/Migrations.sol" not in rel(load_target(TRUFFLE, include_tests=True))


@pytest.mark.parametrize("project", [HARDHAT, FOUNDRY, TRUFFLE], ids=lambda p: p.name)
@pytest.mark.parametrize("include_tests", [False, True])
def test_every_import_resolves_and_dependencies_are_dependencies(project, include_tests):
    t = load_target(project, include_tests=include_tests)
    for roots in ([t.root], t.include_roots):  # as compile_files / for_files resolve, and with every root
        unit = compilation_unit(t.sources, t.remappings, roots)
        unresolved = {(t.relpath(p), spec) for p, sf in unit.items() for spec, got in sf.imports.items() if not got}
        assert unresolved == set()
        for path in unit:
            if path in t.sources:
                assert not t.is_dependency(path)
            else:
                assert t.is_dependency(path)
                assert t.relpath(path).startswith(("node_modules/", "lib/", "src/")), t.relpath(path)
    assert t.warnings == []


def test_relpath_is_relative_and_slash_separated():
    t = load_target(FOUNDRY)
    assert t.relpath(FOUNDRY / "lib" / "solmate" / "src" / "tokens" / "MiniToken.sol") == (
        "lib/solmate/src/tokens/MiniToken.sol"
    )
    assert t.relpath("src/Vault.sol") == "src/Vault.sol"
    assert t.relpath(FOUNDRY.parent / "x.sol") == "../x.sol"


@pytest.mark.parametrize(
    ("project", "entry"),
    [(HARDHAT, "contracts/Treasury.sol"), (FOUNDRY, "src/Vault.sol"), (TRUFFLE, "contracts/TipJar.sol")],
    ids=["hardhat", "foundry", "truffle"],
)
def test_fixture_compiles_with_target_settings(provider, project, entry):
    t = load_target(project)
    result = compile_files([project / entry], t.root, t.remappings, provider=provider)
    assert result.errors == []
    units = {src for src, _ in result.contracts}
    assert entry in units
    assert all(not u.startswith("/") for u in units)  # dependencies inside the root keep relative names
    assert any(t.is_dependency(u) for u in units) or project == HARDHAT


def test_truffle_migrations_compiles(provider):
    t = load_target(TRUFFLE)
    result = compile_files([TRUFFLE / "contracts/Migrations.sol"], t.root, t.remappings, provider=provider)
    assert result.errors == [] and str(result.binary.version).startswith("0.5.")


# ---- single files ------------------------------------------------------------------------------------
def test_single_file_in_plain_directory(tmp_path):
    f = write(tmp_path / "A.sol", 'pragma solidity ^0.8.0;\nimport "./B.sol";\ncontract A is B {}\n')
    write(tmp_path / "B.sol", "pragma solidity ^0.8.0;\ncontract B {}\n")
    t = load_target(f)
    assert (t.kind, t.root, t.sources) == ("file", tmp_path.resolve(), [f.resolve()])
    assert t.project_root is None and t.remappings == []
    assert t.is_dependency(tmp_path / "B.sol") and not t.is_dependency(f)
    assert t.relpath(f) == "A.sol"


def test_single_file_inside_a_framework_project_uses_its_remappings(provider):
    f = FOUNDRY / "src" / "Vault.sol"
    t = load_target(f)
    assert (t.kind, t.root, t.project_root) == ("file", FOUNDRY / "src", FOUNDRY)
    assert rel(t) == ["Vault.sol"]
    # targets outside the file's root become absolute
    assert Remapping("solmate/", f"{FOUNDRY}/lib/solmate/src/") in t.remappings
    unit = compilation_unit(t.sources, t.remappings, [t.root])
    assert all(got for sf in unit.values() for got in sf.imports.values())
    assert t.relpath(FOUNDRY / "lib/simple-math/ShareMath.sol") == "../lib/simple-math/ShareMath.sol"
    assert load_target(f, include_tests=True).sources == [f]
    t = load_target(HARDHAT / "contracts" / "Treasury.sol")
    assert compile_files(t.sources, t.root, t.remappings, provider=provider).errors == []


def test_explicit_test_file_is_audited():
    t = load_target(FOUNDRY / "test" / "Vault.t.sol")
    assert rel(t) == ["Vault.t.sol"]
    unit = compilation_unit(t.sources, t.remappings, [t.root])
    assert all(got for sf in unit.values() for got in sf.imports.values())


# ---- bad inputs ---------------------------------------------------------------------------------------
def test_missing_path(tmp_path):
    with pytest.raises(TargetError, match=r"nope\.sol does not exist"):
        load_target(tmp_path / "nope.sol")


def test_empty_path():
    with pytest.raises(TargetError, match="no path given"):
        load_target("")


def test_not_solidity(tmp_path):
    f = tmp_path / "token.vy"
    f.write_text("# vyper\n")
    with pytest.raises(TargetError, match=r"token\.vy is not a Solidity \(\.sol\) file"):
        load_target(f)


def test_directory_without_solidity(tmp_path):
    write(tmp_path / "node_modules" / "pkg" / "A.sol")  # a dependency does not count
    write(tmp_path / "artifacts" / "B.sol")
    (tmp_path / "README.md").write_text("hi")
    with pytest.raises(TargetError, match="no Solidity files under"):
        load_target(tmp_path)


def test_framework_without_own_sources_mentions_excluded_tests(tmp_path):
    (tmp_path / "foundry.toml").write_text('[profile.default]\nsrc = "src"\n')
    (tmp_path / "src").mkdir()
    write(tmp_path / "test" / "A.t.sol")
    with pytest.raises(TargetError,
                       match=r"no Solidity files under .*foundry project.*1 test/script file.*--include-tests"):
        load_target(tmp_path)
    assert rel(load_target(tmp_path, include_tests=True)) == ["test/A.t.sol"]


def test_binary_file_is_an_error_alone_and_skipped_in_a_directory(tmp_path):
    bad = tmp_path / "Bad.sol"
    bad.write_bytes("pragma solidity ^0.8.0;".encode("utf-16"))
    with pytest.raises(TargetError, match=r"Bad\.sol: binary content"):
        load_target(bad)
    with pytest.raises(TargetError, match=r"no Solidity files under .*1 skipped, e.g. Bad\.sol: binary content"):
        load_target(tmp_path)
    good = write(tmp_path / "Good.sol")
    t = load_target(tmp_path)
    assert t.sources == [good.resolve()]
    assert t.skipped == [(bad.resolve(), t.skipped[0][1])] and "NUL" in t.skipped[0][1]


def test_non_utf8_text_is_kept_with_a_warning(tmp_path):
    f = tmp_path / "Latin.sol"
    f.write_bytes(b"// Copyright \xa9 1999\npragma solidity ^0.8.0;\ncontract L {}\n")
    t = load_target(tmp_path)
    assert t.sources == [f.resolve()]
    assert any("not valid UTF-8" in w for w in t.warnings)
    assert load_target(f).sources == [f.resolve()]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    f = write(tmp_path / "Secret.sol")
    f.chmod(0)
    try:
        with pytest.raises(TargetError, match="permission denied"):
            load_target(f)
        write(tmp_path / "Open.sol")
        t = load_target(tmp_path)
        assert rel(t) == ["Open.sol"] and t.skipped[0][1] == "not readable (permission denied)"
    finally:
        f.chmod(0o644)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    secret = write(tmp_path / "Secret.sol")
    write(tmp_path / "Open.sol")
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "Secret.sol":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(TargetError, match=r"cannot audit .*Secret\.sol: not readable \(permission denied\)"):
        load_target(secret)
    t = load_target(tmp_path)
    assert rel(t) == ["Open.sol"] and t.skipped == [(secret.resolve(), "not readable (permission denied)")]


def test_fifo_named_sol_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "Pipe.sol")
    write(tmp_path / "A.sol")
    t = load_target(tmp_path)  # reading the FIFO would block forever
    assert rel(t) == ["A.sol"] and t.skipped[0][1] == "not a regular file"
    with pytest.raises(TargetError, match="neither a regular file nor a directory"):
        load_target(tmp_path / "Pipe.sol")


def test_bad_foundry_config(tmp_path):
    write(tmp_path / "src" / "A.sol")
    (tmp_path / "foundry.toml").write_text("[profile.default\nsrc = 'src'\n")
    with pytest.raises(TargetError, match=r"foundry\.toml: not valid TOML"):
        load_target(tmp_path)
    (tmp_path / "foundry.toml").write_text('[profile.default]\nremappings = ["no-equals-sign"]\n')
    with pytest.raises(TargetError, match="malformed remapping"):
        load_target(tmp_path)
    (tmp_path / "foundry.toml").write_text("[profile.default]\nsrc = 3\n")
    with pytest.raises(TargetError, match="src must be a string"):
        load_target(tmp_path)


# ---- symbolic links ------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_symlink_loops_terminate(tmp_path):
    proj = tmp_path / "proj"
    a = write(proj / "A.sol")
    b = write(proj / "sub" / "B.sol")
    (proj / "sub" / "up").symlink_to(proj, target_is_directory=True)  # a loop through the parent
    (proj / "sub" / "deeper").symlink_to("../sub", target_is_directory=True)
    (proj / "Alias.sol").symlink_to("A.sol")  # the same file again: counted once
    outside = write(tmp_path / "Outside.sol")
    (proj / "Out.sol").symlink_to(outside)  # outside the root: skipped
    (proj / "Gone.sol").symlink_to(proj / "missing.sol")
    (proj / "Self.sol").symlink_to("Self.sol")
    t = load_target(proj)
    assert t.sources == [a.resolve(), b.resolve()]
    reasons = {p.name: why for p, why in t.skipped}
    assert reasons == {
        "Out.sol": "symbolic link to a file outside the project root",
        "Gone.sol": "broken symbolic link",
        "Self.sol": "symbolic link loop",
    }
    assert t.is_source(proj / "Alias.sol")  # resolves to A.sol
    with pytest.raises(TargetError, match="broken symbolic link"):
        load_target(proj / "Gone.sol")
    with pytest.raises(TargetError, match="cannot access"):
        load_target(proj / "Self.sol")


def test_symlinked_root_directory(tmp_path):
    real = tmp_path / "real"
    f = write(real / "A.sol")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    t = load_target(tmp_path / "link")
    assert t.root == real.resolve() and t.sources == [f.resolve()] and t.path == tmp_path / "link"


# ---- plain directories and detection rules ------------------------------------------------------------
def test_plain_directory_exclusions(tmp_path):
    for d in ("node_modules/pkg", ".git", ".deps/npm", "cache", "artifacts", "out", "build"):
        write(tmp_path / d / "X.sol")
    write(tmp_path / "lib" / "forge-std" / "src" / "Test.sol")  # vendored packages: a dependency dir
    (tmp_path / "lib" / "forge-std" / "foundry.toml").write_text("")
    write(tmp_path / "contracts" / "lib" / "Math.sol")  # own library code
    write(tmp_path / "contracts" / "Token.sol")
    write(tmp_path / "test" / "Helper.sol")  # a plain directory keeps test dirs...
    write(tmp_path / "Token.t.sol")  # ...but not Foundry test/script files
    t = load_target(tmp_path)
    assert t.kind == "directory"
    assert rel(t) == ["contracts/Token.sol", "contracts/lib/Math.sol", "test/Helper.sol"]
    assert "Token.t.sol" in rel(load_target(tmp_path, include_tests=True))


def test_hardhat_config_sources_literal(tmp_path):
    (tmp_path / "hardhat.config.ts").write_text(
        "// sources: 'commented-out'\nexport default { paths: { sources: './solidity', tests: './t' } };\n"
    )
    write(tmp_path / "solidity" / "A.sol")
    write(tmp_path / "contracts" / "Ignored.sol")
    t = load_target(tmp_path)
    assert (t.kind, rel(t)) == ("hardhat", ["solidity/A.sol"])

    (tmp_path / "hardhat.config.ts").write_text("export default { paths: { sources: '../../etc' } };\n")
    t = load_target(tmp_path)
    assert rel(t) == ["contracts/Ignored.sol"]
    assert any("outside the project" in w for w in t.warnings)


def test_missing_sources_dir_falls_back_to_project(tmp_path):
    (tmp_path / "truffle.js").write_text("module.exports = {};\n")
    write(tmp_path / "sol" / "A.sol")
    write(tmp_path / "sol" / "Migrations.sol")
    write(tmp_path / "test" / "TestA.sol")
    t = load_target(tmp_path)
    assert (t.kind, rel(t)) == ("truffle", ["sol/A.sol"])
    assert any("does not exist" in w for w in t.warnings)


def test_foundry_nested_and_declared_lib_remappings(tmp_path):
    (tmp_path / "foundry.toml").write_text('[profile.default]\nsrc = "contracts"\nlibs = ["deps"]\n')
    oz = tmp_path / "deps" / "oz"
    write(oz / "contracts" / "Ownable.sol")
    (oz / "remappings.txt").write_text("@oz/contracts/=contracts/\n")
    write(oz / "lib" / "inner" / "src" / "Inner.sol")
    write(
        tmp_path / "contracts" / "A.sol",
        'pragma solidity ^0.8.0;\nimport "@oz/contracts/Ownable.sol";\nimport "inner/Inner.sol";\ncontract A {}\n',
    )
    t = load_target(tmp_path)
    assert [str(r) for r in t.remappings] == [
        "oz/=deps/oz/",
        "inner/=deps/oz/lib/inner/src/",
        "@oz/contracts/=deps/oz/contracts/",
    ]
    assert t.warnings == []
    assert rel(t) == ["contracts/A.sol"]


def test_hybrid_foundry_and_hardhat(tmp_path):
    (tmp_path / "hardhat.config.js").write_text("module.exports = {};\n")
    (tmp_path / "foundry.toml").write_text('[profile.default]\nsrc = "contracts"\n')
    write(tmp_path / "contracts" / "A.sol")
    assert load_target(tmp_path).kind == "foundry"
    (tmp_path / "foundry.toml").write_text("[profile.default]\n")  # src/ missing: Hardhat's layout wins
    assert load_target(tmp_path).kind == "hardhat"


def test_unresolved_import_is_a_warning(tmp_path):
    write(tmp_path / "A.sol", 'pragma solidity ^0.8.0;\nimport "@nowhere/X.sol";\ncontract A {}\n')
    t = load_target(tmp_path)
    assert t.warnings == ["A.sol: import '@nowhere/X.sol' not found"]
