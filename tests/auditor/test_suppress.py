"""Inline suppressions and the baseline file, on real audits of a small contract (Slither)."""

import json

import pytest

from auditor.errors import AuditorError
from auditor.pipeline import AuditOptions, audit
from auditor.suppress import load_baseline, write_baseline

CONTRACT = """pragma solidity ^0.8.20;

contract Vault {
    address public owner;
    constructor() { owner = msg.sender; }
{extra}
    function pay(address payable to, uint256 amount) external {
        {comment}
        require(tx.origin == owner, "owner");
        to.transfer(amount);
    }
}
"""


def _write(tmp_path, comment="", extra=""):
    f = tmp_path / "Vault.sol"
    f.write_text(CONTRACT.replace("{comment}", comment).replace("{extra}", extra))
    return f


def _origin(report):
    return next(f for f in report.findings if f.swc == "SWC-115")


def test_inline_disable_next_line_by_swc(tmp_path):
    report = audit(_write(tmp_path, "// solsentry-disable-next-line SWC-115"), AuditOptions(tools=("slither",)))
    f = _origin(report)
    assert f.suppressed == "inline"
    assert f not in report.counted()
    assert report.summary.suppressed >= 1


def test_inline_rule_that_does_not_match_keeps_the_finding(tmp_path):
    report = audit(_write(tmp_path, "// solsentry-disable-next-line reentrancy"), AuditOptions(tools=("slither",)))
    assert _origin(report).suppressed is None


def test_inline_by_detector_name_and_bare(tmp_path):
    for comment in ("// solsentry-disable-next-line tx-origin", "// solsentry-disable-next-line",
                    "// solsentry-disable-next-line slither:tx-origin, SWC-999"):
        report = audit(_write(tmp_path, comment), AuditOptions(tools=("slither",)))
        assert _origin(report).suppressed == "inline", comment


def test_baseline_survives_unrelated_edits(tmp_path):
    f = _write(tmp_path)
    first = audit(f, AuditOptions(tools=("slither",)))
    baseline = tmp_path / "baseline.json"
    n = write_baseline(first.findings, baseline)
    assert n == len(first.findings) > 0
    # Lines shift: a new function above the finding. Slither's line-keyed triage would re-report.
    _write(tmp_path, extra="    function kill() external {\n        selfdestruct(payable(msg.sender));\n    }\n")
    second = audit(f, AuditOptions(tools=("slither",), baseline=baseline))
    assert _origin(second).primary.start_line == _origin(first).primary.start_line + 3
    assert _origin(second).suppressed == "baseline"
    # The finding the edit introduced (an unprotected selfdestruct) is not in the baseline: it counts.
    killer = next(x for x in second.findings if x.swc == "SWC-106")
    assert killer.suppressed is None and killer in second.counted()


def test_bad_baseline_files(tmp_path):
    with pytest.raises(AuditorError, match="does not exist"):
        load_baseline(tmp_path / "nope.json")
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(AuditorError, match="not valid JSON"):
        load_baseline(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(AuditorError, match="not a SolSentry baseline"):
        load_baseline(tmp_path / "c.json")
