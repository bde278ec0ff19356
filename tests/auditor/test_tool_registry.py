"""Tools by scope: a tool registered from outside the pipeline (here, in the test) is scheduled
by its SCOPE and shows up in `tool_runs`, `tools` and the findings, with no pipeline edit."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from auditor.findings import Confidence, Severity
from auditor.options import AuditOptions
from auditor.pipeline import audit
from auditor.tools.base import RawFinding, RawLocation, Tool, ToolOutcome, Work
from auditor.tools.registry import TOOL_NAMES, register, tool_names, unregister

SOLIDITY = Path(__file__).resolve().parents[1] / "fixtures" / "solidity"


class LineCounter(Tool):
    NAME = "linecounter"
    DESCRIPTION = "a test tool: one finding on the first line of every file"
    SCOPE = "file"
    seen: ClassVar[list[tuple[str, dict]]] = []

    def __init__(self, flag: str = "default") -> None:
        self.flag = flag

    def version(self) -> str:
        return "1.0"

    def settings_key(self) -> str:
        return f"flag={self.flag}"

    def run(self, work: Work) -> ToolOutcome:
        LineCounter.seen.append((work.file, {"flag": self.flag, "solc": work.solc_version}))
        return ToolOutcome("ok", [RawFinding(
            tool=self.NAME, detector="first-line", title="First line", description=f"flag {self.flag}",
            severity=Severity.LOW, confidence=Confidence.HIGH, locations=[RawLocation(work.file, 1, 1)])])


@pytest.fixture
def dummy_tool():
    register(LineCounter)
    LineCounter.seen.clear()
    yield LineCounter
    unregister(LineCounter.NAME)


def test_registered_tool_runs_by_scope(dummy_tool, tmp_path):
    shutil.copy(SOLIDITY / "v08" / "Vault08.sol", tmp_path / "Vault08.sol")
    assert "linecounter" in tool_names() and "linecounter" not in TOOL_NAMES
    options = AuditOptions(tools=("linecounter",), review="none", use_cache=False,
                           tool_settings={"linecounter": {"flag": "given"}})
    report = audit(tmp_path, options)
    assert [(r.tool, r.unit, r.state, r.findings) for r in report.tool_runs] == [
        ("linecounter", "Vault08.sol", "ok", 1)]
    assert [(t.name, t.version, t.runs, t.ok) for t in report.tools] == [("linecounter", "1.0", 1, 1)]
    assert [(f.tools, f.primary.file, f.primary.start_line, f.description) for f in report.findings] == [
        (["linecounter"], "Vault08.sol", 1, "[linecounter:first-line] flag given")]
    # It ran on the compiled file, with the compiler that compiled it, and its settings.
    assert LineCounter.seen == [("Vault08.sol", {"flag": "given", "solc": report.files[0].solc})]
    assert report.complete and report.analyzed()


def test_registered_tool_next_to_a_built_in_one_and_cached_per_tool(dummy_tool, tmp_path, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    from auditor.config import get_settings

    get_settings.cache_clear()
    try:
        src = tmp_path / "src"
        src.mkdir()
        shutil.copy(SOLIDITY / "v08" / "Vault08.sol", src / "Vault08.sol")
        options = AuditOptions(tools=("slither", "linecounter"), review="none")
        first = audit(src, options)
        again = audit(src, options)
        assert {(r.tool, r.cached) for r in first.tool_runs} == {("slither", False), ("linecounter", False)}
        assert {(r.tool, r.cached) for r in again.tool_runs} == {("slither", True), ("linecounter", True)}
        assert len(LineCounter.seen) == 1
        # Another setting of one tool is another key for that tool only.
        other = audit(src, AuditOptions(tools=("slither", "linecounter"), review="none",
                                        tool_settings={"linecounter": {"flag": "other"}}))
        assert {(r.tool, r.cached) for r in other.tool_runs} == {("slither", True), ("linecounter", False)}
        assert "linecounter" in {t for f in first.findings for t in f.tools}
        assert "slither" in {t for f in first.findings for t in f.tools}
    finally:
        get_settings.cache_clear()


def test_unknown_scope_is_refused():
    with pytest.raises(TypeError):
        type("Bad", (Tool,), {"NAME": "bad", "DESCRIPTION": "x", "SCOPE": "function",
                              "version": lambda self: "1", "run": lambda self, w: None})


def test_cli_and_api_choices_come_from_the_registries(dummy_tool):
    from auditor.api.schemas import AuditOptionsIn
    from auditor.commands.audit import FORMATS, _tools
    from auditor.report.registry import format_names
    from auditor.review.registry import HOSTED_REVIEW_NAMES, REVIEW_NAMES, get_reviewer

    assert _tools("slither, linecounter") == ("slither", "linecounter")
    assert tuple(format_names()) == FORMATS.choices
    assert AuditOptionsIn().tools == list(TOOL_NAMES)
    review = AuditOptionsIn.model_json_schema()["properties"]["review"]
    assert review["enum"] == list(HOSTED_REVIEW_NAMES) and "llm" in REVIEW_NAMES and "llm" not in review["enum"]
    assert get_reviewer("none") is None and get_reviewer("embedded").NAME == "embedded"
