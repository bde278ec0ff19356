"""A resident compiler that dies is restarted and the compile retried once; what it leaves in the
results cache is only ever the code's outcome. The servers are real (`node wrapper.js --serve`),
killed from the test with SIGKILL, as the kernel's OOM killer or a crash would."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest
from testsupport.waiting import wait_for

from auditor.solc.compiler import compile_files
from auditor.solc.server import CompileServer

PRAGMA = "0.8.30"


def _big(n: int) -> str:
    """A contract that takes solc-js seconds to compile, so that a kill lands mid-compile."""
    body = "".join(f"    function f{i}(uint256 a) external returns (uint256) {{ s[{i}] = a * {i + 1} + s[{i}]; "
                   f"return s[{i}] ^ a; }}\n" for i in range(n))
    return (f"// SPDX-License-Identifier: MIT\npragma solidity {PRAGMA};\n\ncontract Big {{\n"
            f"    mapping(uint256 => uint256) s;\n{body}}}\n")


def _servers() -> list[psutil.Process]:
    """The resident compilers among this process's descendants (the audit's workers included)."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if "--serve" in cmd and any(c.endswith("wrapper.js") for c in cmd) and p.status() != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


class Killer(threading.Thread):
    """Kills the resident compilers that appear from now on (not those of other tests), `times` of
    them (None: every one), until stopped."""

    def __init__(self, times: int | None = 1) -> None:
        super().__init__(daemon=True)
        self.times, self.killed, self.stop = times, [], threading.Event()
        self.old = {p.pid for p in _servers()}

    def run(self) -> None:
        while not self.stop.is_set() and (self.times is None or len(self.killed) < self.times):
            for p in _servers():
                if p.pid in self.old:
                    continue
                if p.pid not in self.killed and (self.times is None or len(self.killed) < self.times):
                    try:
                        p.kill()
                        self.killed.append(p.pid)
                    except psutil.Error:
                        pass
            self.stop.wait(0.01)


def test_killed_between_compiles_the_next_compile_restarts_it(provider, tmp_path):
    (tmp_path / "A.sol").write_text(_big(3))
    binary = provider.for_pragma(PRAGMA)
    server = CompileServer(binary)
    request = {"language": "Solidity", "sources": {"A.sol": {"content": (tmp_path / "A.sol").read_text()}},
               "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    try:
        assert "Big" in server.compile(request, tmp_path)["contracts"]["A.sol"]
        first = server._proc.pid
        psutil.Process(first).kill()
        wait_for(lambda: first not in [p.pid for p in _servers()], 30, "the server dying", interval=0.02)
        assert "Big" in server.compile(request, tmp_path)["contracts"]["A.sol"]
        assert server._proc.pid != first
    finally:
        server.close()


def test_killed_mid_compile_the_compile_is_retried_once(provider, tmp_path):
    (tmp_path / "Big.sol").write_text(_big(300))
    binary = provider.for_pragma(PRAGMA)
    from auditor.solc import server as server_module

    pool = server_module.CompilerPool()
    done: dict = {}
    old = {p.pid for p in _servers()}

    def compile_it() -> None:
        done["result"] = compile_files([tmp_path / "Big.sol"], tmp_path, binary=binary)

    try:
        # Through a pool of our own (the process-wide one may hold servers of other tests).
        original, server_module._POOL = server_module._POOL, pool
        worker = threading.Thread(target=compile_it, daemon=True)
        worker.start()
        victim = wait_for(lambda: [p for p in _servers() if p.pid not in old], 60, "the compile server starting",
                          interval=0.02)[0]
        # mid-compile: it has read the request and is working on it (loading the compiler is less)
        wait_for(lambda: victim.cpu_times().user + victim.cpu_times().system > 1.0 or not worker.is_alive(), 120,
                 "the compile under way", interval=0.02)
        assert worker.is_alive(), "the compile ended before it could be killed: make the contract bigger"
        victim.kill()
        worker.join(300)
        result = done["result"]
        assert not result.errors and ("Big.sol", "Big") in result.contracts
        assert victim.pid not in [p.pid for p in _servers()]
    finally:
        server_module._POOL = original
        pool.close()


def test_a_server_that_dies_every_time_is_an_error_after_one_retry(provider, tmp_path):
    from auditor.errors import SolcError

    (tmp_path / "Big.sol").write_text(_big(300))
    server = CompileServer(provider.for_pragma(PRAGMA))
    request = {"language": "Solidity", "sources": {"Big.sol": {"content": (tmp_path / "Big.sol").read_text()}},
               "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    killer = Killer(times=None)
    killer.start()
    try:
        with pytest.raises(SolcError, match="compile server exited unexpectedly"):
            server.compile(request, tmp_path)
        assert len(killer.killed) == 2          # the first server and the one restarted for the retry
    finally:
        killer.stop.set()
        killer.join()
        server.close()


def _audit(target: Path, results: Path, monkeypatch):
    from auditor.config import get_settings
    from auditor.pipeline import AuditOptions, audit

    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(results))
    get_settings.cache_clear()
    try:
        return audit(target, AuditOptions(tools=("slither",), review="none", jobs=1))
    finally:
        get_settings.cache_clear()


def _cache_text(results: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(results.glob("??/*.json")))


@pytest.mark.slow
def test_an_audit_survives_a_killed_compiler_and_caches_nothing_of_it(tmp_path, monkeypatch):
    """Acceptance (issue 13): a compiler server killed during an audit; the file is compiled, and the
    cache holds its result only. Then a server that dies on every try: the file is an error of this
    audit, nothing is cached, and the next audit compiles it."""
    target = tmp_path / "src"
    target.mkdir()
    (target / "Big.sol").write_text(_big(120))
    results = tmp_path / "results"
    killer = Killer(times=1)
    killer.start()
    try:
        report = _audit(target, results, monkeypatch)
    finally:
        killer.stop.set()
        killer.join()
    assert len(killer.killed) == 1
    (entry,) = report.files
    assert entry.status == "compiled", entry.error
    assert [(r.tool, r.state, r.cached) for r in report.tool_runs] == [("slither", "ok", False)]
    text = _cache_text(results)
    assert text and '"errors": []' in text
    assert "compile server" not in text and "unexpectedly" not in text

    # a server killed on every start: an infrastructure failure, reported, never stored
    poisoned = tmp_path / "results-2"
    killer = Killer(times=None)
    killer.start()
    try:
        report = _audit(target, poisoned, monkeypatch)
    finally:
        killer.stop.set()
        killer.join()
    (entry,) = report.files
    assert entry.status == "error" and "compile server exited unexpectedly" in entry.error
    assert list(poisoned.glob("??/*.json")) == []
    again = _audit(target, poisoned, monkeypatch)        # the cause is gone: compiled, not the cached failure
    assert again.files[0].status == "compiled" and again.tool_runs[0].cached is False
    assert "unexpectedly" not in _cache_text(poisoned)
