"""Fuzz the service's OpenAPI document with schemathesis against a real `solsentry serve`.

Every operation, in all four phases (the document's examples, coverage of boundary and invalid
values, random fuzzing, stateful sequences following POST -> GET/DELETE links), with a key: no
5xx, and every response has a documented status code, content type, headers and body shape.

It drives schemathesis's `st run` command: its pytest loader for a schema served by a fixture
(`schemathesis.pytest.from_fixture`) fails on pytest 9 (it reads `Item._nodeid`, gone there), and the command
also runs the stateful phase and prints a curl line that reproduces each failure.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from auditor import outputs

BIN = Path(sys.executable).parent
# Every check but positive_data_acceptance: a schema-valid request can still be refused with 400 for
# what OpenAPI cannot say (an upload that is not a .zip, sources without a .sol file, an unsafe path).
# Warnings that mean the document itself is wrong or unusable fail the run too. Not
# validation_mismatch: random file maps are mostly refused for reasons a schema cannot state
# (no .sol file, unsafe paths), and whether that crosses schemathesis's "mostly" varies by run.
CONFIG = """
workers = 1
request-timeout = 30
headers = {{ Authorization = "Bearer {key}" }}

[generation]
max-examples = 30
deterministic = true

[checks]
enabled = true
positive_data_acceptance.enabled = false

[warnings]
fail-on = ["unresolvable_reference", "unsupported_regex", "missing_deserializer", "missing_auth",
           "unused_openapi_auth", "rate_limited"]
"""


def test_fuzz_every_operation_against_the_openapi_document(make_server, tmp_path):
    oracle_db = tmp_path / "oracle.sqlite"
    with sqlite3.connect(oracle_db) as db:          # /v1/outputs/{hash} reads a real (tiny) store
        outputs.create(db)                          # the table as auditor owns it (the oracle writes it)
        outputs.put(db, "0x" + "ab" * 32, b'{"report":1}')
    # One worker: the document's example (one small contract, Slither only) is audited for real;
    # fuzzed sources fail to compile or are refused before they are queued.
    s = make_server(tmp_path / "api", {"SOLSENTRY_API_ORACLE_DB": str(oracle_db), "SOLSENTRY_API_WORKERS": "1",
                                       "SOLSENTRY_API_RATE_LIMIT_PER_MINUTE": "1000000",
                                       "SOLSENTRY_API_AUTH_FAILURES_PER_MINUTE": "1000000",
                                       "SOLSENTRY_API_PUBLIC_RATE_LIMIT_PER_MINUTE": "1000000",
                                       "SOLSENTRY_API_AUDIT_TIMEOUT_S": "60"})
    key = s.key("fuzz")
    s.start()
    (tmp_path / "schemathesis.toml").write_text(CONFIG.format(key=key))
    run = subprocess.run([BIN / "st", "--config-file", tmp_path / "schemathesis.toml", "run", "--no-color",
                          f"{s.url}/openapi.json"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    s.stop()                                        # the whole log is written before it is read
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Exception in ASGI application" not in s.log_path.read_text(errors="replace")
