"""Mythril's budget in the report: a run cut short by it is `timeout` with its partial findings, cached
under that budget, so an unchanged re-run gives the same report; real Mythril runs (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.pipeline import AuditOptions, audit


def _paths_contract(n: int = 16) -> str:
    """Branches, loops and storage that feed later transactions: far more paths than Mythril can
    explore in 1 s on any machine (and Mythril's clock includes the creation transaction)."""
    fns = "".join(f"""
    function f{i}(uint256 a, uint256 b) external {{
        if (a > s{i % 4}) {{ s{(i + 1) % 4} = a - b; }} else if (b == s{(i + 2) % 4}) {{ s{(i + 3) % 4} += a; }}
        for (uint256 k = 0; k < a % 5; k++) {{ if (k == b) {{ s{i % 4} ^= k; }} }}
    }}""" for i in range(n))
    return ("// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n\ncontract Paths {\n"
            "    uint256 s0; uint256 s1; uint256 s2; uint256 s3;\n" + fns + "\n}\n")


@pytest.fixture
def results(tmp_path, monkeypatch):
    from auditor.config import get_settings

    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    get_settings.cache_clear()
    yield tmp_path / "results"
    get_settings.cache_clear()


def _run(target: Path, budget: int, use_cache: bool = True):
    report = audit(target, AuditOptions(tools=("mythril",), review="none", mythril_timeout=budget,
                                        use_cache=use_cache))
    (run,) = [r for r in report.tool_runs if r.tool == "mythril"]
    return report, run


def _same(a, b) -> None:
    """Equal reports but for the wall-clock time of the audit and where each run's result came from."""
    strip = {"duration_s", "tool_runs"}
    assert a.model_dump(exclude=strip) == b.model_dump(exclude=strip)
    assert [r.model_dump(exclude={"cached"}) for r in a.tool_runs] == [r.model_dump(exclude={"cached"})
                                                                      for r in b.tool_runs]


@pytest.mark.slow
def test_a_run_out_of_budget_is_timeout_and_an_identical_rerun_is_the_cached_same_report(tmp_path, results):
    (tmp_path / "Paths.sol").write_text(_paths_contract())
    first, run = _run(tmp_path / "Paths.sol", 1)
    assert run.state == "timeout" and not run.cached
    assert run.message == ("Mythril's execution budget of 1 s ran out: exploration stopped there, "
                           "the findings are partial")
    assert first.tools[0].timeout == 1 and first.tools[0].ok == 0

    again, rerun = _run(tmp_path / "Paths.sol", 1)
    assert rerun.cached and rerun.state == "timeout"
    _same(first, again)
    assert again.duration_s < first.duration_s       # nothing was analyzed again

    # --no-cache and a larger budget analyze again (the budget is part of the key)
    _, fresh = _run(tmp_path / "Paths.sol", 1, use_cache=False)
    assert not fresh.cached and fresh.state == "timeout"
    _, larger = _run(tmp_path / "Paths.sol", 2)
    assert not larger.cached and "budget of 2 s" in (larger.message or "")


@pytest.mark.slow
def test_the_hard_kill_at_the_budget_is_a_timeout_of_the_code(provider, monkeypatch, tmp_path):
    """Killed at the limit its own budget sets (here with no grace after it): an outcome of the code
    under that budget, cached like one."""
    from auditor.tools import mythril
    from auditor.tools.base import Work

    (tmp_path / "Paths.sol").write_text(_paths_contract(4))
    binary = provider.for_pragma("0.8.30")
    monkeypatch.setattr(mythril, "GRACE_S", 0)
    work = Work(root=str(tmp_path), file="Paths.sol", unit=("Paths.sol",), solc_path=str(binary.path),
                solc_version=str(binary.version), solc_kind=binary.kind, contract="Paths")
    outcome = mythril.MythrilTool(execution_timeout=1).run(work)
    assert outcome.state == "timeout" and not outcome.infrastructure
    assert outcome.message.startswith("killed after 1 s") and outcome.findings == []
