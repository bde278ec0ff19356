"""oracle.processor / oracle.inputs with real components: Slither audits through the pipeline (in a
child process), a local HTTP server, real ZIP files, a Hardhat node for code requests."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from typing import ClassVar

import psutil
import pytest
from eth_utils import keccak

from auditor.review.encoder import EncoderReviewer
from oracle.canonical import model_hash
from oracle.config import OracleSettings
from oracle.inputs import InputError, ResultStatus, fetch
from oracle.processor import ERROR_SCHEMA, Answer, error_document, model_config, process, stub_audit
from oracle.store import Job, JobState

VULNERABLE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract Drain {
    address public owner;

    constructor() {
        owner = msg.sender;
    }

    function deposit() external payable {}

    // Anyone can send the whole balance anywhere (Slither: arbitrary-send-eth, high).
    function sweep(address payable to) external {
        (bool ok, ) = to.call{value: address(this).balance}("");
        require(ok, "send");
    }
}
"""
BROKEN = "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\ncontract Broken { function f( public {} }\n"
KILLABLE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Killable {
    function kill() external { selfdestruct(payable(msg.sender)); }
}
"""


def sources(files: dict[str, str]) -> bytes:
    return json.dumps({"files": files}, sort_keys=True).encode()


def make_zip(files: dict[str, bytes | str]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def job(data: bytes | None = None, *, uri: str = "", inline: bool = True, input_hash: str | None = None,
        kind: str = "source", target: str | None = None, block: int = 1) -> Job:
    digest = input_hash or "0x" + keccak(data or b"").hex()
    return Job(request_id="0x" + keccak(text=f"{uri}{digest}{time.time()}").hex(), kind=kind, state=JobState.RUNNING,
               requester="0x" + "11" * 20, input_hash=digest, input_uri=uri,
               inline_input=data if inline else None, target=target, deadline=2**40, block_number=block,
               tx_hash="0x" + "22" * 32, log_index=0)


@pytest.fixture
def settings(tmp_path):
    # The test's HTTP servers listen on 127.0.0.1, which nodes refuse unless it is allowlisted.
    return OracleSettings(audit_tools=("slither",), audit_jobs=1, allow_file_uris=True, work_dir=tmp_path / "work",
                          audit_use_cache=False, max_input_bytes=200_000, fetch_timeout_s=10, audit_timeout_s=300,
                          fetch_allow=["127.0.0.1"])


def error_doc(answer: Answer) -> dict:
    doc = json.loads(answer.output)
    assert doc["schema"] == ERROR_SCHEMA and doc["status"] == answer.status
    assert answer.output == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert answer.output_hash == keccak(answer.output) and answer.high == answer.medium == 0
    return doc


# ---- a real HTTP server --------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/stream":  # no Content-Length: the size is only known while reading
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x" * 10_000)
            return
        if path == "/lying-length":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            self.wfile.write(b"{}")
            return
        if path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/input.json")
            self.end_headers()
            return
        body = self.routes.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http():
    routes: ClassVar[dict[str, bytes]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


# ---- fetching ----------------------------------------------------------------------------------
def test_fetch_over_http_with_redirect(http, settings):
    base, routes = http
    data = sources({"A.sol": VULNERABLE})
    routes["/input.json"] = data
    assert fetch(job(data, uri=f"{base}/input.json", inline=False), None, settings) == data
    assert fetch(job(data, uri=f"{base}/redirect", inline=False), None, settings) == data


def test_fetch_data_and_file_uris(tmp_path, settings):
    data = sources({"A.sol": VULNERABLE})
    b64 = "data:application/json;base64," + base64.b64encode(data).decode()
    assert fetch(job(data, uri=b64, inline=False), None, settings) == data
    plain = "data:," + urllib.parse.quote_from_bytes(data)
    assert fetch(job(data, uri=plain, inline=False), None, settings) == data
    f = tmp_path / "input.json"
    f.write_bytes(data)
    assert fetch(job(data, uri=f.as_uri(), inline=False), None, settings) == data


def test_inline_input_wins_over_the_uri(settings):
    data = sources({"A.sol": VULNERABLE})
    assert fetch(job(data, uri="http://127.0.0.1:9/never"), None, settings) == data


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:{closed}/input.json",       # nothing listens
    "{base}/missing.json",                          # 404
    "{base}/to-file",                               # redirect to file:// refused
    "ftp://127.0.0.1/input.json",                   # scheme not supported
    "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # no gateway configured
    "gopher://x",
    "not a uri",
    "",
    "data:no-comma",
    "data:;base64,***",
])
def test_unavailable_inputs(http, settings, free_port, uri):
    base, _ = http
    uri = uri.format(base=base, closed=free_port)
    with pytest.raises(InputError) as err:
        fetch(job(b"{}", uri=uri, inline=False), None, settings)
    assert err.value.status == ResultStatus.INPUT_UNAVAILABLE
    answer = process(job(b"{}", uri=uri, inline=False), None, settings)
    assert answer.status == 1 and error_doc(answer)["name"] == "INPUT_UNAVAILABLE"


def test_file_uris_are_off_by_default(tmp_path, settings):
    f = tmp_path / "input.json"
    f.write_bytes(b"{}")
    off = settings.model_copy(update={"allow_file_uris": False})
    assert not OracleSettings().allow_file_uris
    assert process(job(b"{}", uri=f.as_uri(), inline=False), None, off).status == ResultStatus.INPUT_UNAVAILABLE


def test_hash_mismatch(http, settings):
    base, routes = http
    data = sources({"A.sol": VULNERABLE})
    routes["/input.json"] = data
    other = "0x" + keccak(b"something else").hex()
    for j in (job(data, uri=f"{base}/input.json", inline=False, input_hash=other), job(data, input_hash=other)):
        answer = process(j, None, settings)
        assert answer.status == ResultStatus.INPUT_HASH_MISMATCH
        assert error_doc(answer)["reason"] == "the input does not hash to the committed inputHash"


def test_too_large(http, settings):
    base, routes = http
    routes["/big.json"] = b" " * 300_000
    for path in ("/big.json", "/stream", "/lying-length"):
        answer = process(job(b"", uri=base + path, inline=False), None, settings)
        assert answer.status == ResultStatus.INPUT_TOO_LARGE, path
    big = b" " * 300_000
    assert process(job(big), None, settings).status == ResultStatus.INPUT_TOO_LARGE
    b64 = "data:;base64," + base64.b64encode(big).decode()
    assert process(job(big, uri=b64, inline=False), None, settings).status == ResultStatus.INPUT_TOO_LARGE


def test_zip_bomb_is_too_large(settings):
    data = make_zip({"A.sol": VULNERABLE, "bomb.sol": b"\0" * 60_000_000})
    assert len(data) < 200_000
    answer = process(job(data), None, settings)
    assert answer.status == ResultStatus.INPUT_TOO_LARGE
    assert error_doc(answer)["code"] in ("too_large", "bomb")
    assert not list((settings.work_dir).iterdir())  # the job's folder is gone


# ---- not Solidity, compile errors, timeouts ------------------------------------------------------
def test_not_solidity(settings):
    data = sources({"README.md": "# nothing to see"})
    answer = process(job(data), None, settings)
    assert answer.status == ResultStatus.NOT_SOLIDITY
    assert error_doc(answer)["reason"] == "no Solidity sources in the input"
    for raw in (b"\xff\xfe not utf-8", b"[1, 2]", make_zip({"docs/a.txt": "x"})):
        assert process(job(raw), None, settings).status == ResultStatus.NOT_SOLIDITY


def test_only_tests_is_not_solidity_too(settings):
    """.sol files the auditor leaves out (Foundry tests): the child reports the TargetError."""
    data = sources({"test/A.t.sol": VULNERABLE})
    assert process(job(data), None, settings).status == ResultStatus.NOT_SOLIDITY


def test_unsafe_archive_is_answered_not_raised(settings, tmp_path):
    data = make_zip({"A.sol": VULNERABLE, "../../escape.sol": "contract E {}"})
    answer = process(job(data), None, settings)
    assert answer.status == ResultStatus.NOT_SOLIDITY
    doc = error_doc(answer)
    assert doc["code"] == "traversal" and "escape.sol" in doc["detail"]
    assert not list(tmp_path.rglob("escape.sol"))


def test_compile_error(settings):
    answer = process(job(sources({"contracts/Broken.sol": BROKEN})), None, settings)
    assert answer.status == ResultStatus.COMPILE_ERROR, answer.reason
    doc = error_doc(answer)
    assert [e["file"] for e in doc["errors"]] == ["contracts/Broken.sol"]
    assert "ParserError" in doc["errors"][0]["error"] and str(settings.work_dir) not in answer.output.decode()


def test_partial_compile_error_is_still_audited(settings):
    answer = process(job(sources({"Broken.sol": BROKEN, "Drain.sol": VULNERABLE})), None, settings)
    assert answer.status == ResultStatus.OK and answer.high >= 1
    files = {f["path"]: f["status"] for f in json.loads(answer.output)["files"]}
    assert files == {"Broken.sol": "error", "Drain.sol": "compiled"}


def test_timeout_kills_the_audit(settings):
    tight = settings.model_copy(update={"audit_timeout_s": 0.5})
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    answer = process(job(sources({"A.sol": VULNERABLE})), None, tight)
    assert answer.status == ResultStatus.TIMEOUT
    assert error_doc(answer)["reason"] == "the audit ran past its time budget"
    assert time.monotonic() - started < 30
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left


# ---- OK and determinism ------------------------------------------------------------------------
def test_ok_on_a_vulnerable_contract(http, settings):
    base, routes = http
    data = make_zip({"repo/contracts/Drain.sol": VULNERABLE, "repo/README.md": "hi"})
    routes["/repo.zip"] = data
    answer = process(job(data, uri=f"{base}/repo.zip", inline=False), None, settings)
    assert answer.status == ResultStatus.OK, answer.reason
    assert answer.high >= 1
    report = json.loads(answer.output)
    assert report["schema"] == "solsentry.report/1" and report["target"] == "input"
    assert report["summary"]["high"] == answer.high and report["summary"]["medium"] == answer.medium
    assert [f["path"] for f in report["files"]] == ["repo/contracts/Drain.sol"]
    assert answer.output_hash == keccak(answer.output)
    assert answer.model_hash == model_hash(model_config(settings))
    assert "slither@" in model_config(settings)
    # the review model reviewed the audit, and its id (the hash of its files) is part of modelHash
    assert report["review"]["state"] == "ok"
    assert f"review={EncoderReviewer().model_id}" in model_config(settings)
    assert report["review"]["model"] == EncoderReviewer().model_id
    assert "review=none" in model_config(settings.model_copy(update={"review": "none"}))
    assert "/work" not in answer.output.decode() and "/tmp" not in answer.output.decode()


def test_same_input_same_bytes(settings, tmp_path):
    """With the review model on (the default): nodes must agree on the bytes."""
    data = sources({"contracts/Drain.sol": VULNERABLE, "contracts/Broken.sol": BROKEN})
    first = process(job(data), None, settings.model_copy(update={"work_dir": tmp_path / "one"}))
    second = process(job(data), None, settings.model_copy(update={"work_dir": tmp_path / "two",
                                                                   "audit_use_cache": True}))
    assert first.status == second.status == ResultStatus.OK
    assert first.output == second.output and first.output_hash == second.output_hash
    assert (first.high, first.medium, first.model_hash) == (second.high, second.medium, second.model_hash)


def test_stub_auditor_for_the_benchmark(settings):
    stub = settings.model_copy(update={"auditor": "stub"})
    data = sources({"A.sol": VULNERABLE})
    started = time.monotonic()
    answer = process(job(data), None, stub)
    assert time.monotonic() - started < 5
    assert answer.status == ResultStatus.OK and answer.high == answer.medium == 0
    assert answer.model_hash != model_hash(model_config(settings))
    assert process(job(data), None, settings, audit_fn=stub_audit).output == answer.output


def test_error_documents_are_canonical():
    assert error_document(ResultStatus.TIMEOUT) == (
        b'{"name":"TIMEOUT","reason":"the audit ran past its time budget",'
        b'"schema":"solsentry.oracle-error/1","status":6}')


def test_a_crashing_audit_function_is_an_internal_error(settings):
    def boom(path, options):
        raise RuntimeError("bug")

    answer = process(job(sources({"A.sol": VULNERABLE})), None, settings, audit_fn=boom)
    assert answer.status == ResultStatus.INTERNAL_ERROR and answer.retryable and "bug" in answer.reason


# ---- code requests on a real chain ---------------------------------------------------------------
@pytest.fixture(scope="module")
def killable(hardhat_node, tmp_path_factory):
    """A deployed Killable contract: (w3, address, runtime code)."""
    from web3 import Web3

    from auditor.solc.compiler import compile_files

    d = tmp_path_factory.mktemp("killable")
    (d / "Killable.sol").write_text(KILLABLE)
    out = compile_files([d / "Killable.sol"], d, outputs=("evm.bytecode.object",)).output
    creation = out["contracts"]["Killable.sol"]["Killable"]["evm"]["bytecode"]["object"]
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": "0x" + creation})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    code = bytes(w3.eth.get_code(receipt["contractAddress"]))
    assert code
    return w3, receipt["contractAddress"], code, receipt["blockNumber"]


def test_code_request_without_code(hardhat_node, settings):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    empty = "0x" + keccak(b"").hex()
    for target in ("0x000000000000000000000000000000000000dEaD", None, "not an address"):
        answer = process(job(None, kind="code", target=target, input_hash=empty, block=w3.eth.block_number),
                         w3, settings)
        assert answer.status == ResultStatus.NO_CODE, (target, answer.reason)
        assert error_doc(answer)["name"] == "NO_CODE"


def test_code_request_hash_mismatch(killable, settings):
    w3, address, _code, block = killable
    answer = process(job(None, kind="code", target=address, input_hash="0x" + "00" * 32, block=block), w3, settings)
    assert answer.status == ResultStatus.INPUT_HASH_MISMATCH


@pytest.mark.slow
def test_code_request_is_audited_by_mythril(killable, settings, validate_report):
    w3, address, code, block = killable
    quick = settings.model_copy(update={"audit_mythril_timeout_s": 10})
    answer = process(job(None, kind="code", target=address, input_hash="0x" + keccak(code).hex(), block=block),
                     w3, quick)
    assert answer.status == ResultStatus.OK, answer.reason
    report = json.loads(answer.output)
    # The signed bytes are a solsentry.report/1, made by audit() on a bytecode target.
    validate_report(report)
    assert report["schema"] == "solsentry.report/1" and report["target"] == address
    assert report["target_kind"] == "bytecode" and report["files"] == []
    assert report["bytecode"] == {"codehash": "0x" + keccak(code).hex(), "code_size": len(code),
                                  "address": address, "chain_id": w3.eth.chain_id}
    assert [(t["name"], t["runs"]) for t in report["tools"]] == [("mythril", 1)]
    assert [(r["tool"], r["unit"]) for r in report["tool_runs"]] == [("mythril", "runtime")]
    assert answer.high >= 1 and any(f["swc"] == "SWC-106" for f in report["findings"])
    selfdestruct = next(f for f in report["findings"] if f["swc"] == "SWC-106")
    assert selfdestruct["locations"][0]["file"] == "runtime" and selfdestruct["locations"][0]["pc"] > 0
    assert selfdestruct["locations"][0]["function"] == "kill"
    assert answer.model_hash == model_hash(model_config(quick, "code"))
    assert "mythril@" in model_config(quick, "code") and "mythril_timeout=10" in model_config(quick, "code")
