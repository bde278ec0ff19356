"""The native-solc look-alike: real compiles with solc-js 0.4.24, 0.5.17 and 0.8.30."""

import json
import subprocess
from pathlib import Path

import pytest

from auditor.errors import CompileError
from auditor.solc.compiler import compile_files, compile_or_raise, run_standard_json
from auditor.solc.sources import Remapping

SOLIDITY = Path(__file__).resolve().parents[2] / "fixtures" / "solidity"
CASES = [("0.4.24", "v04/Wallet04.sol", "Wallet04"), ("0.5.17", "v05/Registry05.sol", "Registry05"),
         ("0.8.30", "v08/Vault08.sol", "Vault08")]


def test_version_flag_looks_native(provider):
    out = subprocess.run([str(provider.ensure("0.5.17").path), "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.splitlines()[1].startswith("Version: 0.5.17+commit.")


@pytest.mark.parametrize(("version", "path", "name"), CASES)
def test_standard_json(provider, version, path, name):
    result = compile_files([SOLIDITY / path], SOLIDITY, binary=provider.ensure(version), ast=True)
    assert result.errors == []
    contract = result.output["contracts"][path][name]
    assert len(contract["evm"]["bytecode"]["object"]) > 100
    assert any(item.get("name") for item in contract["abi"])
    assert result.output["sources"][path]["ast"]["nodeType"] == "SourceUnit"


@pytest.mark.parametrize(("version", "path", "name"), CASES)
def test_combined_json(provider, version, path, name):
    solc = provider.ensure(version).path
    keys = "abi,ast,bin,bin-runtime,srcmap,srcmap-runtime,userdoc,devdoc,hashes"
    if version != "0.8.30":
        keys += ",compact-format"
    out = subprocess.run([str(solc), path, "--combined-json", keys, "--allow-paths", "."],
                         cwd=SOLIDITY, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    c = data["contracts"][f"{path}:{name}"]
    abi = json.loads(c["abi"]) if isinstance(c["abi"], str) else c["abi"]
    # Native solc printed abi/devdoc/userdoc as JSON strings before 0.8.0.
    assert isinstance(c["abi"], str) == (version != "0.8.30")
    assert abi and c["bin"] and c["bin-runtime"] and c["srcmap-runtime"]
    assert c["hashes"]
    assert data["sourceList"] == [path]
    assert data["sources"][path]["AST"]["nodeType"] == "SourceUnit"


def test_combined_json_legacy_ast_without_compact_format(provider):
    solc = provider.ensure("0.4.24").path
    out = subprocess.run([str(solc), "v04/Wallet04.sol", "--combined-json", "ast,abi"],
                         cwd=SOLIDITY, capture_output=True, text=True, timeout=120)
    ast = json.loads(out.stdout)["sources"]["v04/Wallet04.sol"]["AST"]
    assert ast["name"] == "SourceUnit"  # legacy AST shape, as native solc 0.4 printed it


def test_remapped_import_standard_and_combined(provider):
    root = SOLIDITY / "remap"
    remap = Remapping.parse("@math/=deps/math/")
    result = compile_or_raise([root / "src" / "Main.sol"], root, remappings=[remap], provider=provider)
    assert ("src/Main.sol", "Main") in result.contracts
    assert ("deps/math/SafeAdd.sol", "SafeAdd") in result.contracts
    solc = provider.ensure("0.8.30").path
    out = subprocess.run([str(solc), "@math/=deps/math/", "src/Main.sol", "--combined-json", "abi,bin"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "src/Main.sol:Main" in json.loads(out.stdout)["contracts"]


def test_missing_import_without_remapping_fails_cleanly(provider):
    root = SOLIDITY / "remap"
    with pytest.raises(CompileError, match=r"SafeAdd\.sol"):
        compile_or_raise([root / "src" / "Main.sol"], root, provider=provider)


def test_compile_error_is_reported_with_exit_1(provider):
    solc = provider.ensure("0.8.30").path
    out = subprocess.run([str(solc), "pragmas/Broken.sol", "--combined-json", "abi"],
                         cwd=SOLIDITY, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stdout == ""
    assert "undefinedThing" in out.stderr


def test_unsupported_flag_is_refused(provider):
    out = subprocess.run([str(provider.ensure("0.8.30").path), "--bin", "x.sol"], capture_output=True, text=True)
    assert out.returncode == 1 and "unsupported option --bin" in out.stderr


def test_large_output_arrives_complete_through_a_pipe(provider, tmp_path):
    # ~400 functions: the standard-JSON output (AST, bytecode, source maps) is several MB.
    body = "\n".join(
        f"    function f{i}(uint256 a, uint256 b) public pure returns (uint256) {{ return a * {i} + b / {i + 1}; }}"
        for i in range(400))
    (tmp_path / "Big.sol").write_text(f"pragma solidity 0.8.30;\ncontract Big {{\n{body}\n}}\n")
    request = {"language": "Solidity", "sources": {"Big.sol": {"urls": ["Big.sol"]}},
               "settings": {"outputSelection": {"*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"],
                                                      "": ["ast"]}}}}
    proc = subprocess.Popen([str(provider.ensure("0.8.30").path), "--standard-json"], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    raw, _ = proc.communicate(json.dumps(request).encode(), timeout=300)
    assert proc.returncode == 0
    assert len(raw) > 1_000_000
    out = json.loads(raw)
    assert len(out["contracts"]["Big.sol"]["Big"]["abi"]) == 400
    # and the same through the Python helper
    assert run_standard_json(provider.ensure("0.8.30"), request, tmp_path)["contracts"]["Big.sol"]["Big"]
