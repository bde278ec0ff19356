"""The HTTP service: the route tests in process (`make_app`: the app behind a TestClient, settings
through dependency overrides), the rest against a real uvicorn server (`solsentry serve`) started by
the tests: its start-up checks, whole audits through its workers, SIGKILL and restart."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import stat
import time
import zipfile
from pathlib import Path

import pytest
from testsupport.waiting import wait_for

from auditor import outputs

ROOT = Path(__file__).resolve().parents[3]
BANK = (ROOT / "examples" / "EtherBank.sol").read_text()


def _submit(server, key: str, files: dict, **options) -> dict:
    status, body, _ = server.call("POST", "/v1/audits", json.dumps({"files": files, "options": {
        "tools": ["slither"], "review": "none", **options}}).encode(), key)
    assert status == 202, body
    return json.loads(body)


def _wait(server, key: str, audit_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body, _ = server.call("GET", f"/v1/audits/{audit_id}", key=key)
        assert code == 200, body
        doc = json.loads(body)
        if doc["status"] in ("done", "failed"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"audit {audit_id} did not finish")


@pytest.fixture
def server(make_server, tmp_path):
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000"})
    key = s.key()
    return s.start(), key


def test_refuses_to_start_without_keys(make_server, tmp_path, solsentry):
    s = make_server(tmp_path / "api")
    proc = solsentry("serve", "--port", str(s.port), env=s.env, timeout=60)
    assert proc.returncode != 0 and "api-key create" in proc.stderr and "Traceback" not in proc.stderr


def test_submit_poll_fetch_all_formats_equal_to_the_cli(server, tmp_path, solsentry):
    s, key = server
    accepted = _submit(s, key, {"contracts/Bank.sol": BANK})
    done = _wait(s, key, accepted["id"])
    assert done["status"] == "done" and done["summary"]["high"] >= 1 and done["duration_s"] > 0
    status, body, headers = s.call("GET", f"/v1/audits/{accepted['id']}/report", key=key)
    api_report = json.loads(body)
    # the same sources through the CLI give the same findings
    (tmp_path / "cli" / "contracts").mkdir(parents=True)
    (tmp_path / "cli" / "contracts" / "Bank.sol").write_text(BANK)
    out = tmp_path / "cli.json"
    solsentry("audit", str(tmp_path / "cli"), "--tools", "slither", "--review", "none", "--out", str(out), "-q")
    cli_report = json.loads(out.read_text())
    assert [f["id"] for f in api_report["findings"]] == [f["id"] for f in cli_report["findings"]]
    assert api_report["findings"] == cli_report["findings"] and api_report["summary"] == cli_report["summary"]
    for fmt, media, marker in (("sarif", "application/sarif+json", b'"version":'), ("md", "text/markdown", b"# "),
                               ("html", "text/html", b'<table id="findings">')):
        status, body, headers = s.call("GET", f"/v1/audits/{accepted['id']}/report?format={fmt}", key=key)
        assert status == 200 and headers["content-type"].startswith(media) and marker in body
        assert s.call("GET", f"/v1/audits/{accepted['id']}/report", key=key, accept=media)[1] == body
    # an identical submission reuses the result; the list pages and filters
    again = _submit(s, key, {"contracts/Bank.sol": BANK})
    assert again["reused"] and again["id"] == accepted["id"]
    listed = json.loads(s.call("GET", "/v1/audits?status=done&limit=1", key=key)[1])
    assert listed["total"] == 1 and listed["items"][0]["id"] == accepted["id"]
    assert s.call("DELETE", f"/v1/audits/{accepted['id']}", key=key)[0] == 204
    assert s.call("GET", f"/v1/audits/{accepted['id']}", key=key)[0] == 404
    assert not (s.data / "jobs" / accepted["id"]).exists()


def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "solsentryboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"src.zip\"\r\n"
            f"Content-Type: application/zip\r\n\r\n").encode() + data + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
            '{"tools": ["slither"], "review": "none"}\r\n' f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_attacks_get_the_right_4xx_and_leave_no_file_outside(make_app, tmp_path):
    s = make_app(tmp_path / "api", max_body_bytes=200000, rate_limit_per_minute=12)
    key = s.key()
    before = {p for p in tmp_path.rglob("*")}
    cases = {
        "traversal": (_zip([("../../escape.sol", b"contract A {}", None)]), 400, b"traversal"),
        "absolute": (_zip([("/tmp/abs.sol", b"contract A {}", None)]), 400, b"absolute"),
        "symlink": (_zip([("link.sol", b"/etc/passwd", stat.S_IFLNK | 0o777)]), 400, b"symlink"),
        "bomb": (_zip([("a.sol", b"\0" * 3_000_000, None)]), 413, b"bomb"),
    }
    for name, (data, code, marker) in cases.items():
        body, ctype = _multipart(data)
        status, answer, _ = s.call("POST", "/v1/audits", body, key, ctype)
        assert status == code and marker in answer, (name, status, answer)
    oversize = json.dumps({"files": {"a.sol": "x" * 300_000}}).encode()
    assert s.call("POST", "/v1/audits", oversize, key)[0] == 413
    deep = b'{"files": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert s.call("POST", "/v1/audits", deep, key)[0] == 422
    assert s.call("POST", "/v1/audits", b"{}", "ssk_wrong")[0] == 401
    assert s.call("GET", "/v1/audits", None, None)[0] == 401
    codes = [s.call("GET", "/v1/audits", None, key)[0] for _ in range(20)]
    assert 429 in codes and set(codes) <= {200, 429}
    after = {p for p in tmp_path.rglob("*")}
    new = after - before
    assert all(p.is_relative_to(s.data) or p.name.startswith("serve-") for p in new), new
    assert not list(tmp_path.rglob("escape.sol")) and not list(tmp_path.rglob("abs.sol"))
    assert not any(p.is_symlink() for p in s.data.rglob("*"))


def test_outputs_are_served_by_hash(make_app, tmp_path):
    db = tmp_path / "oracle.sqlite"
    with sqlite3.connect(db) as conn:
        outputs.create(conn)                    # the table as auditor owns it (the oracle writes it)
        outputs.put(conn, "0x" + "ab" * 32, b'{"report":1}')
    s = make_app(tmp_path / "api", oracle_db=db)
    s.key()
    status, body, headers = s.call("GET", "/v1/outputs/0x" + "AB" * 32)
    assert status == 200 and body == b'{"report":1}' and headers["content-type"] == "application/json"
    assert s.call("GET", "/v1/outputs/" + "cd" * 32)[0] == 404
    assert s.call("GET", "/v1/outputs/nothex")[0] == 400


@pytest.mark.slow
def test_sigkill_with_20_audits_queued_and_restart(make_server, tmp_path):
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "100000"})
    key = s.key()
    s.start("--workers", "2")
    ids = [_submit(s, key, {f"C{i}.sol": BANK + f"\n// variant {i}\n"})["id"] for i in range(20)]

    def running() -> bool:                                     # some running, most queued
        return any(json.loads(s.call("GET", f"/v1/audits/{i}", key=key)[1])["status"] != "queued" for i in ids)

    wait_for(running, 300, "an audit to start", fail=s._alive)
    s.stop(signal.SIGKILL)
    s.start("--workers", "2")
    docs = [_wait(s, key, i, timeout=600) for i in ids]
    assert [d["status"] for d in docs] == ["done"] * 20
    with sqlite3.connect(s.data / "api.sqlite") as conn:
        attempts = dict(conn.execute("SELECT id, attempts FROM audits").fetchall())
    assert set(attempts) == set(ids)                     # none lost, none duplicated
    assert all(1 <= attempts[i] <= 2 for i in ids)       # re-run only if killed mid-audit
