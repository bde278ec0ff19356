"""Issue 12, point 1: the canary suite. A secret file with random content lies outside the target;
contracts import it every way an attacker would (absolute path, `../`, remappings.txt, a
foundry.toml remapping, a relative remapping that climbs out, a symbolic link to a file and to a
folder, a node_modules package that is a link to outside). Audited through the CLI, through a
real `solsentry serve` (JSON body and .zip upload) and through a real oracle node on a Hardhat
chain (inline input and a `data:` URI): no output holds the secret's bytes or its SHA-256, every
offending file is an error naming its import, and the clean file is still compiled and analyzed.

A direct test of the solc-js wrapper's own import callback (defense in depth) closes it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "solsentry")

CLEAN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract Drain {
    function deposit() external payable {}

    // Anyone can send the whole balance anywhere (Slither: arbitrary-send-eth, high).
    function sweep(address payable to) external {
        (bool ok, ) = to.call{value: address(this).balance}("");
        require(ok, "send");
    }
}
"""


def _importer(name: str, spec: str) -> str:
    return f'// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\nimport "{spec}";\ncontract {name} {{}}\n'


def hostile_files(canary, dotdot: str) -> tuple[dict[str, str], dict[str, str]]:
    """(files of the project, {offending file: the import it must be refused for}); no symbolic links."""
    outside = str(canary.dir)
    climb = "../" * 40 + outside.lstrip("/")
    offending = {
        "contracts/Absolute.sol": str(canary.path),
        "contracts/DotDot.sol": dotdot,
        "contracts/Remapped.sol": "evil/secret.sol",            # remappings.txt, absolute target
        "contracts/RelRemapped.sol": "climb/secret.sol",        # remappings.txt, relative target that climbs out
        "contracts/Foundry.sol": "fevil/secret.sol",            # foundry.toml remapping
    }
    files = {path: _importer(Path(path).stem, spec) for path, spec in offending.items()}
    files["contracts/Clean.sol"] = CLEAN
    files["remappings.txt"] = f"evil/={outside}/\nclimb/={climb}/\n"
    files["foundry.toml"] = f'[profile.default]\nsrc = "contracts"\nremappings = ["fevil/={outside}/"]\n'
    return files, offending


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def add_symlinks(root: Path, canary, files: dict[str, str], offending: dict[str, str]) -> None:
    """The cases an archive cannot carry: links to a file, to a folder, a node_modules package, and an
    own source that is itself a link to the secret."""
    (root / "contracts" / "leak.txt").symlink_to(canary.path)
    (root / "vendor").symlink_to(canary.dir, target_is_directory=True)
    (root / "node_modules").mkdir()
    (root / "node_modules" / "evilpkg").symlink_to(canary.dir, target_is_directory=True)
    (root / "contracts" / "Linked.sol").symlink_to(canary.path)
    for path, spec in {"contracts/Symlink.sol": "./leak.txt", "contracts/SymDir.sol": "../vendor/secret.sol",
                       "contracts/Npm.sol": "evilpkg/secret.sol"}.items():
        files[path] = _importer(Path(path).stem, spec)
        offending[path] = spec
        (root / path).write_text(files[path])


def check_report(report: dict, offending: dict[str, str], where: str, linked_source: bool = False) -> None:
    files = {f["path"]: f for f in report["files"]}
    for path, spec in offending.items():
        assert path in files, (where, path, sorted(files))
        entry = files[path]
        assert entry["status"] == "error", (where, entry)
        assert "refused" in entry["error"] and spec in entry["error"], (where, entry)
    clean = files["contracts/Clean.sol"]
    assert clean["status"] == "compiled" and clean["solc"] == "0.8.30", f"{where}: {clean}"
    # analyzed: Slither's finding on the clean contract is there
    assert any(f["severity"] == "high" and f["locations"][0]["file"] == "contracts/Clean.sol"
               and "slither" in f["tools"] for f in report["findings"]), (where, report["findings"])
    if linked_source:   # an own source that is a link to outside: an error of the audit, never compiled
        linked = files.get("contracts/Linked.sol")
        assert linked is not None and linked["status"] == "error", (where, linked)
        assert "symbolic link" in linked["error"], (where, linked)


# ---- the CLI ----------------------------------------------------------------------------------------------
def test_cli_every_format(canary, tmp_path):
    project = tmp_path / "proj"
    files, offending = hostile_files(canary, "../../outside/secret.sol")
    write_tree(project, files)
    add_symlinks(project, canary, files, offending)
    results = tmp_path / "results"
    env = {**os.environ, "SOLSENTRY_RESULTS_DIR": str(results)}
    reports = tmp_path / "reports"
    reports.mkdir()

    def audit(*extra: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([EXE, "audit", str(project), "--tools", "slither", "--review", "none", *extra],
                              capture_output=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
        canary.assert_absent(proc.stdout, f"stdout of audit {extra}")
        canary.assert_absent(proc.stderr, f"stderr of audit {extra}")
        assert proc.returncode == 2, (extra, proc.returncode, proc.stderr.decode(errors="replace")[-3000:])
        return proc

    terminal = audit()                               # the terminal summary
    text = (terminal.stdout + terminal.stderr).decode(errors="replace")
    assert "Clean.sol" in text and "refused" in text
    for fmt in ("json", "sarif", "md", "html"):
        out = reports / f"report.{fmt}"
        audit("--out", str(out))
        canary.assert_absent(out.read_bytes(), f"the {fmt} report")
        assert "refused" in out.read_text()
    audit("--format", "json", "--no-cache")          # to stdout, analyzed afresh
    check_report(json.loads((reports / "report.json").read_text()), offending, "CLI json", linked_source=True)
    sarif = json.loads((reports / "report.sarif").read_text())
    assert sarif["runs"][0]["results"]
    # the results cache the audits filled holds nothing of the secret either
    assert canary.assert_absent_under(results) > 0


def test_cli_allow_path_is_how_a_user_opts_in(canary, tmp_path):
    """The canary is a real one: allowing its folder explicitly makes the compiler read it (a
    ParserError quoting its first line), so the tests above would see a leak."""
    project = tmp_path / "proj"
    write_tree(project, {"contracts/Clean.sol": CLEAN,
                         "contracts/DotDot.sol": _importer("DotDot", "../../outside/secret.sol")})
    proc = subprocess.run([EXE, "audit", str(project), "--tools", "slither", "--review", "none", "--no-cache",
                           "--allow-path", str(canary.dir), "--format", "json"], capture_output=True, timeout=600,
                          stdin=subprocess.DEVNULL, env={**os.environ, "SOLSENTRY_RESULTS_DIR": str(tmp_path / "r")})
    assert proc.returncode == 2
    assert canary.token.encode() in proc.stdout + proc.stderr


# ---- `solsentry serve` ------------------------------------------------------------------------------------
def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _multipart(data: bytes, options: dict) -> tuple[bytes, str]:
    boundary = "solsentrycanaryboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"src.zip\"\r\n"
            "Content-Type: application/zip\r\n\r\n").encode() + data + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
            f"{json.dumps(options)}\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_api_json_and_zip(canary, tmp_path, make_server):
    server = make_server(tmp_path / "api")      # the default memory cap: solc-js 0.8 runs under it
    key = server.key()
    server.start()
    files, offending = hostile_files(canary, canary.deep_relative())
    options = {"tools": ["slither"], "review": "none"}
    seen: list[tuple[str, bytes]] = []

    def call(what: str, *args, **kwargs) -> tuple[int, bytes]:
        code, body = server.call(*args, **kwargs)
        seen.append((what, body))
        return code, body

    code, body = call("JSON submission", "POST", "/v1/audits", json.dumps({"files": files, "options": options})
                      .encode(), key)
    assert code == 202, body
    by_json = json.loads(body)["id"]
    # the archive differs by one file, so it is not answered with the JSON submission's result
    zipped, ctype = _multipart(_zip({**files, "README.md": "zip upload\n"}), options)
    code, body = call("zip upload", "POST", "/v1/audits", zipped, key, ctype)
    assert code == 202, body
    by_zip = json.loads(body)["id"]
    assert by_zip != by_json

    for audit_id, how in ((by_json, "json"), (by_zip, "zip")):
        done, raw = server.wait_done(key, audit_id)
        seen.append((f"status of the {how} audit", raw))
        assert done["status"] == "done", done
        for fmt in ("json", "sarif", "md", "html"):
            code, body = call(f"{fmt} report of the {how} audit", "GET", f"/v1/audits/{audit_id}/report?format={fmt}",
                              key=key)
            assert code == 200, body
            assert b"refused" in body, (how, fmt)
            if fmt == "json":
                check_report(json.loads(body), offending, f"API {how}")
    seen.append(("the audit list", call("list", "GET", "/v1/audits", key=key)[1]))
    server.stop()
    for what, body in seen:
        canary.assert_absent(body, what)
    canary.assert_absent(server.log_path.read_bytes(), "the server's log")
    # nor anything the server keeps: its queue, job folders, results cache
    assert canary.assert_absent_under(server.data) > 0


# ---- the oracle ------------------------------------------------------------------------------------------
def test_oracle_inline_and_data_uri(canary, make_oracle_node):
    node = make_oracle_node()
    files, offending = hostile_files(canary, canary.deep_relative())
    inline = json.dumps({"files": files}, sort_keys=True).encode()
    assert len(inline) <= 8192
    # a different input for the data: URI (one more file), so it is a request of its own
    by_uri = json.dumps({"files": {**files, "README.md": "via a data: URI"}}, sort_keys=True).encode()
    uri = "data:application/json;base64," + base64.b64encode(by_uri).decode()
    ids = {"inline": node.request(inline), "data: URI": node.request(by_uri, inline=False, uri=uri)}
    node.start()
    try:
        node.wait_final(list(ids.values()))
    finally:
        node.stop()
    for how, request_id in ids.items():
        view = node.client.get_request(request_id)
        assert view.status == 0 and view.high >= 1, (how, view)
        served = node.output(view.output_hash)
        assert node.client.verify(request_id, served)
        canary.assert_absent(served, f"the stored oracle output ({how})")
        report = json.loads(served)
        check_report(report, offending, f"oracle {how}")
    canary.assert_absent(node.log.read_bytes(), "the oracle node's log")
    # the job store (signed outputs, error texts), work folders and the results cache
    assert canary.assert_absent_under(node.dir) > 0


# ---- the wrapper's own enforcement -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def solcjs():
    from auditor.solc.provider import SolcProvider

    found = [b for b in SolcProvider(install=False).installed() if b.kind == "solc-js" and str(b.version) == "0.8.30"]
    if not found:
        pytest.skip("solc-js 0.8.30 is not in the compiler cache (run `make`)")
    return found[0]


@pytest.mark.parametrize("resident", [True, False], ids=["compile-server", "standard-json"])
def test_wrapper_refuses_outside_imports_by_itself(canary, tmp_path, solcjs, resident):
    """Straight to the compiler, past the sandbox's own checks: the wrapper's import callback refuses."""
    from auditor.solc.compiler import run_standard_json
    from auditor.solc.server import CompileServer

    project = tmp_path / "proj"
    (project / "contracts").mkdir(parents=True)
    (project / "leak.sol").symlink_to(canary.path)
    # solc folds a relative unit name's excess `..` away (`contracts/` + `../../x` is `x`, inside), so
    # the escapes that reach the callback come from absolute unit names and from remappings.
    cases = {
        "contracts/Absolute.sol": (str(canary.path), []),
        str(project / "contracts" / "DotDot.sol"): ("../../outside/secret.sol", []),
        "Remapped.sol": ("evil/secret.sol", ["evil/=../outside/"]),
        "RemappedAbs.sol": ("evil/secret.sol", [f"evil/={canary.dir}/"]),
        "Linked.sol": ("./leak.sol", []),                        # inside as written, outside once resolved
    }

    def compile_one(unit: str, spec: str, remappings: list[str], allow: list[Path]) -> dict:
        request = {"language": "Solidity", "sources": {unit: {"content": _importer("C", spec)}},
                   "settings": {"remappings": remappings, "outputSelection": {"*": {"": ["ast"]}}}}
        if resident:
            server = CompileServer(solcjs)
            try:
                return server.compile(request, project, [], 120, allow=allow)
            finally:
                server.close()
        return run_standard_json(solcjs, request, project, timeout=120, resident=False, allow=allow)

    for unit, (spec, remappings) in cases.items():
        out = compile_one(unit, spec, remappings, [project])
        canary.assert_absent(json.dumps(out), f"the compiler output for {unit}")
        errors = [e for e in out.get("errors", []) if e["severity"] == "error"]
        assert errors, (unit, out)
        text = " ".join(e.get("formattedMessage") or e["message"] for e in errors)
        assert "outside of allowed directories" in text, (unit, text)
    # control: with the secret's folder allowed, the same compiler does read it
    out = compile_one("contracts/Absolute.sol", str(canary.path), [], [project, canary.dir])
    assert canary.token in json.dumps(out)
