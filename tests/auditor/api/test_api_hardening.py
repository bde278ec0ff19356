"""Service hardening (issue 12, point 5): duplicate JSON keys, rate limits per client address, private
files, the API's own results cache, control characters. Route tests (duplicate keys, the public outputs'
limit) run the app in process (`make_app`); the rest a real `solsentry serve`."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from auditor import outputs
from auditor.api.config import ApiSettings
from auditor.api.runner import Workers
from auditor.api.store import AuditStore
from auditor.cache import ResultCache
from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity
from auditor.report.model import Report, SourceFile, ToolRun, ToolState, summarize
from auditor.report.registry import get_format
from auditor.report.terminal import render_summary

COUNTER = ("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\ncontract Counter {\n"
           "    uint256 public n;\n\n    function inc() external { n += 1; }\n}\n")
# solc quotes the literal in its error: ESC [2J (clear the screen) and a right-to-left override.
HOSTILE = 'pragma solidity ^0.4.24;\ncontract A {\n    uint x = "\x1b[2J\u202e";\n}\n'
RAW = ("\x1b", "\u202e")


def _wait(server, key: str, audit_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body, _ = server.call("GET", f"/v1/audits/{audit_id}", key=key)
        assert code == 200, body
        if (doc := json.loads(body))["status"] in ("done", "failed"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"audit {audit_id} did not finish")


def _submit(server, key: str, files: dict) -> str:
    status, body, _ = server.call("POST", "/v1/audits", json.dumps({"files": files, "options": {
        "tools": ["slither"], "review": "none"}}).encode(), key)
    assert status == 202, body
    return json.loads(body)["id"]


def _get(server, path: str, forwarded_for: str) -> tuple[int, dict]:
    req = urllib.request.Request(server.url + path, headers={"X-Forwarded-For": forwarded_for,
                                                             "Authorization": "Bearer ssk_wrong"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def _private(path: Path) -> bool:
    return not stat.S_IMODE(path.lstat().st_mode) & 0o077


@pytest.fixture(scope="module")
def hardened(make_module_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    oracle_db = tmp / "oracle.sqlite"
    with sqlite3.connect(oracle_db) as db:
        outputs.create(db)                    # the table as auditor owns it (the oracle writes it)
        outputs.put(db, "0x" + "ab" * 32, b'{"report":1}')
    s = make_module_server(tmp / "api", {"SOLSENTRY_API_ORACLE_DB": str(oracle_db),
                                         "SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000",
                                         "SOLSENTRY_API_PUBLIC_RATE_LIMIT_PER_MINUTE": "5"})
    s.env.pop("SOLSENTRY_RESULTS_DIR", None)            # the server chooses its own results cache
    key = s.key()
    return s.start(), key


def test_duplicate_json_keys_are_400_naming_the_key(make_app, tmp_path):
    s = make_app(tmp_path / "api")                      # in process: a route test
    key = s.key()
    cases = {
        b'{"files": {"a.sol": "contract A {}"}, "files": {"b.sol": "contract B {}"}}': b"'files'",
        b'{"files": {"a.sol": "contract A {}", "a.sol": "SECRET-VALUE"}}': b"'a.sol'",
        b'{"files": {"a.sol": "contract A {}"}, "options": {"review": "none", "review": "none"}}': b"'review'",
    }
    for body, named in cases.items():
        status, answer, _ = s.call("POST", "/v1/audits", body, key)
        assert status == 400 and named in answer and b"duplicate" in answer, (body, status, answer)
        assert b"SECRET-VALUE" not in answer
    boundary = "b0undary"
    multipart = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\n'
                 f"Content-Type: application/zip\r\n\r\nPK\x05\x06{'0' * 18}\r\n"
                 f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n\r\n'
                 f'{{"tools": ["slither"], "tools": ["mythril"]}}\r\n--{boundary}--\r\n').encode()
    status, answer, _ = s.call("POST", "/v1/audits", multipart, key, f"multipart/form-data; boundary={boundary}")
    assert status == 400 and b"'tools'" in answer, answer


def test_public_outputs_are_rate_limited_per_address(make_app, tmp_path):
    oracle_db = tmp_path / "oracle.sqlite"            # in process: a route test
    with sqlite3.connect(oracle_db) as db:
        outputs.create(db)
        outputs.put(db, "0x" + "ab" * 32, b'{"report":1}')
    s = make_app(tmp_path / "api", oracle_db=oracle_db, public_rate_limit_per_minute=5)
    codes = [s.call("GET", "/v1/outputs/0x" + "ab" * 32) for _ in range(7)]
    assert [c[0] for c in codes[:5]] == [200] * 5
    status, body, headers = codes[5]
    assert status == 429 and 1 <= int(headers["retry-after"]) <= 61, (status, body)
    assert s.call("GET", "/healthz")[0] == 200                   # the other public routes are not limited


def test_state_is_private_and_results_are_cached_in_the_data_dir(hardened):
    s, key = hardened
    audit_id = _submit(s, key, {"contracts/Counter.sol": COUNTER})
    assert _wait(s, key, audit_id)["status"] == "done"
    results = s.data / "results"
    assert list(results.glob("??/*.json")), "the audit's tool results are cached in the API's data dir"
    paths = [s.data, *s.data.rglob("*")]
    assert any(p.name == "api.sqlite" for p in paths) and any(p.suffix == ".sol" for p in paths)
    assert [p for p in paths if not _private(p)] == []          # every folder 0700, every file 0600
    assert s.call("DELETE", f"/v1/audits/{audit_id}", key=key)[0] == 204
    assert not (s.data / "jobs" / audit_id).exists()


def test_control_characters_from_the_compiler_are_escaped(hardened, solsentry, tmp_path):
    s, key = hardened
    audit_id = _submit(s, key, {"A.sol": HOSTILE})
    failed = _wait(s, key, audit_id)               # its only file did not compile: nothing analyzed
    assert failed["status"] == "failed" and failed["report_url"], failed
    assert not any(c in failed["error"] for c in RAW) and "\\x1b[2J" in failed["error"]
    report = json.loads(s.call("GET", f"/v1/audits/{audit_id}/report", key=key)[1])
    assert "\x1b[2J" in report["files"][0]["error"]             # JSON keeps the text (escaped by JSON itself)
    for fmt in ("md", "html"):
        text = s.call("GET", f"/v1/audits/{audit_id}/report?format={fmt}", key=key)[1].decode()
        assert not any(c in text for c in RAW), fmt
        assert ("\\x1b\\[2J" if fmt == "md" else "\\x1b[2J") in text and "u202e" in text, fmt
        assert "Files not compiled (1)" in text
    # the CLI prints the compile error on a terminal-bound stream
    (tmp_path / "A.sol").write_text(HOSTILE)
    cli = solsentry("audit", str(tmp_path / "A.sol"), "--tools", "slither", "--review", "none", "-q",
                    env={"SOLSENTRY_RESULTS_DIR": str(tmp_path / "results")}, timeout=300)
    assert cli.returncode == 2 and "TypeError" in cli.stderr, cli.stderr
    assert not any(c in cli.stderr for c in RAW) and "\\x1b[2J\\u202e" in cli.stderr


def test_control_characters_in_findings_are_escaped_in_every_human_format():
    evil = "Reentrancy\x1b[2J\x07\r\x85 in \u202ewithdraw\u2066"
    loc = Location(file="contracts/\x1b]8;;http://x\x1b\\V.sol", start_line=3, end_line=4, contract="V\x9b",
                   function="w")
    finding = Finding(id="f1", fingerprint="fp", title=evil, swc="SWC-107", category=Category.REENTRANCY,
                      severity=Severity.HIGH, confidence=Confidence.HIGH, locations=[loc],
                      description=f"{evil}\n\tsecond line", tools=["slither"],
                      reporters=[Reporter(tool="slither", detector="reentrancy-eth", severity=Severity.HIGH,
                                          confidence=Confidence.HIGH)])
    report = Report(solsentry_version="0", target="t\x1b[2J", target_kind="directory", tools=[],
                    tool_runs=[ToolRun(tool="slither", unit="V.sol", state=ToolState.FAILED, message=evil)],
                    files=[SourceFile(path="B\x1b.sol", status="error", error=f"ParserError: {evil}", sha256="0")],
                    findings=[finding], summary=summarize([finding]))
    bad = [*RAW, "\x07", "\r", "\x85", "\x9b", "\u2066"]
    for fmt in ("md", "html"):
        text = get_format(fmt).render(report)
        assert not [c for c in bad if c in text], fmt
        assert "x1b" in text and "u202e" in text and "\tsecond line" in text, fmt
    console = Console(record=True, width=300, force_terminal=True)
    render_summary(report, console)
    out = console.export_text(styles=True)
    assert "\x1b[2J" not in out and not [c for c in bad[1:] if c in out] and "\\x1b[2J" in out
    # JSON keeps the characters, escaped by JSON
    assert "\\u001b[2J" in get_format("json").render(report)


def test_failed_authentication_is_rate_limited_per_address(make_server, tmp_path):
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_AUTH_FAILURES_PER_MINUTE": "3"})
    key = s.key()
    s.start()
    assert s.call("GET", "/v1/audits", key=key)[0] == 200
    assert [s.call("GET", "/v1/audits", key=k)[0] for k in ("ssk_wrong", None, "ssk_x")] == [401] * 3
    for k in ("ssk_wrong", None, key):      # past the limit the address is refused before its key is checked
        status, body, headers = s.call("GET", "/v1/audits", key=k)
        assert status == 429 and 1 <= int(headers["retry-after"]) <= 61, (k, status, body)
    assert _get(s, "/v1/audits", "203.0.113.9")[0] == 429           # X-Forwarded-For is not believed
    assert s.call("GET", "/v1/outputs/" + "cd" * 32)[0] == 404        # not an authenticated route


def test_trusted_proxies_give_the_forwarded_address(make_server, tmp_path):
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_AUTH_FAILURES_PER_MINUTE": "1",
                                       "SOLSENTRY_API_TRUSTED_PROXIES": '["127.0.0.1"]'})
    s.key()
    s.start()
    assert [_get(s, "/v1/audits", "203.0.113.9")[0] for _ in range(2)] == [401, 429]
    assert _get(s, "/v1/audits", "203.0.113.10")[0] == 401             # another client behind the proxy


def test_retention_prunes_the_api_results_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SOLSENTRY_RESULTS_DIR", raising=False)
    settings = ApiSettings(data_dir=tmp_path / "api", retention_s=3600)
    cache = ResultCache(settings.results_dir)
    old, new = ResultCache.key("old"), ResultCache.key("new")
    cache.put(old, {"findings": ["code of a deleted audit"]})
    cache.put(new, {"findings": []})
    stale = time.time() - 7200
    os.utime(cache._path(old), (stale, stale))
    assert Workers(AuditStore(settings.db_path), settings).expire_once() == 0
    assert cache.get(old) is None and cache.get(new) == {"findings": []}
    # an operator's own SOLSENTRY_RESULTS_DIR is theirs: never pruned
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert Workers(AuditStore(settings.db_path), settings).results_dir is None


def test_results_cache_is_private(tmp_path):
    root = tmp_path / "results"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    cache = ResultCache(root)
    cache.put(ResultCache.key("x"), {"findings": []})
    assert [p for p in [root, *root.rglob("*")] if not _private(p)] == []
