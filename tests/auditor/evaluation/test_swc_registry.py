"""The "swc" dataset format (the SWC registry's test cases) and the per-SWC scores
(the "labels" format: test_label_file.py)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from auditor.evaluation.dataset import LOADERS, DatasetError, load_dataset
from auditor.evaluation.rendering import to_json, to_markdown
from auditor.evaluation.results import MERGED
from auditor.evaluation.scoring import score
from auditor.evaluation.swc_registry import FIXED_SUBSET, VULNERABLE_SUBSET, load_swc_registry
from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity
from auditor.report.model import Report, ToolInfo, summarize
from auditor.swc import SWC_CATEGORIES

SWC_DIR = Path(os.environ.get("SOLSENTRY_SWC_REGISTRY_DIR", "/work/shared/datasets/swc-registry"))
needs_registry = pytest.mark.skipif(not (SWC_DIR / "test_cases" / "solidity").is_dir(),
                                    reason="SWC registry test cases not found (set SOLSENTRY_SWC_REGISTRY_DIR)")
CASES = "test_cases/solidity"
DAO = f"{CASES}/reentracy/simple_dao/simple_dao.sol"                      # SWC-107 @17-18
DAO_FIXED = f"{CASES}/reentracy/simple_dao_fixed/simple_dao_fixed.sol"    # issues: count 0
TOKENSALE = f"{CASES}/ctf/tokensalechallenge/tokensalechallenge.sol"      # SWC-101 @21, @23, @30; SWC-105 @30
SUICIDE = f"{CASES}/unprotected_critical_functions/simple_suicide/simple_suicide.sol"  # SWC-106 @6


def finding(category: str, file: str, line: int, *, tools: tuple[str, ...] = ("slither",)) -> Finding:
    """A finding as test_scoring.py builds them: one location, reported by `tools`."""
    return Finding(
        id=f"{category}-{file}-{line}-{'+'.join(tools)}", fingerprint="fp", title=category,
        category=Category(category), severity=Severity.HIGH, confidence=Confidence.MEDIUM,
        locations=[Location(file=file, start_line=line, end_line=line)], description="d", tools=list(tools),
        reporters=[Reporter(tool=t, detector="det", severity=Severity.HIGH, confidence=Confidence.MEDIUM)
                   for t in tools])


def report(findings: list[Finding]) -> Report:
    return Report(
        solsentry_version="0.0.0", target="test_cases/solidity", target_kind="directory",
        tools=[ToolInfo(name=t, version="1", runs=1, ok=1, failed=0, timeout=0, skipped=0)
               for t in ("slither", "mythril")],
        tool_runs=[], files=[], findings=findings, summary=summarize(findings))


@pytest.fixture(scope="module")
def swc():
    return load_swc_registry(SWC_DIR)


def _labels(ds, path):
    return [(lb.swc, lb.category, lb.lines) for lb in ds.file(path).labels]


# ------------------------------------------------------------------------------------------------
# The real registry


@needs_registry
def test_registry_counts(swc):
    assert LOADERS["swc"] is load_swc_registry
    assert swc.root == SWC_DIR and swc.audit_root == SWC_DIR / CASES
    assert len(swc.files) == 126  # 121 cases + 5 sources they import (ECDSA.sol, base.sol)
    assert all((swc.root / f.path).is_file() for f in swc.files)
    assert swc.label_count == 78 and swc.line_count == 85
    labels = [lb for f in swc.files for lb in f.labels]
    assert all(lb.swc is not None and lb.category is SWC_CATEGORIES[lb.swc] for lb in labels)
    assert Category.CODE_QUALITY not in {lb.category for lb in labels}
    by_id = Counter(lb.swc for lb in labels)
    assert (by_id["SWC-101"], by_id["SWC-110"], by_id["SWC-105"], by_id["SWC-107"]) == (10, 14, 9, 2)
    # 123 locations in the YAML files: the other 45 are code-quality ids, counted and left out.
    assert swc.skipped == {"SWC-102": 1, "SWC-103": 16, "SWC-108": 6, "SWC-111": 9, "SWC-119": 5,
                           "SWC-131": 6, "SWC-135": 2}
    assert swc.skipped_count + swc.label_count == 123
    assert any("45 code-quality labels" in n for n in swc.notes)
    assert load_dataset("swc", SWC_DIR / "test_cases" / "solidity").files == swc.files  # the audit root works too


@needs_registry
def test_registry_cases_by_hand(swc):
    # reentracy/simple_dao/simple_dao.yaml: SWC-107, line_numbers {simple_dao.sol: [17, 18]}
    assert _labels(swc, DAO) == [("SWC-107", Category.REENTRANCY, (17, 18))]
    # its fixed variant: SWC-107 with count 0, locations []
    assert swc.file(DAO_FIXED).labels == ()
    # ctf/tokensalechallenge: four locations, two ids, two on line 30
    assert _labels(swc, TOKENSALE) == [("SWC-101", Category.ARITHMETIC, (21,)), ("SWC-101", Category.ARITHMETIC, (23,)),
                                       ("SWC-101", Category.ARITHMETIC, (30,)),
                                       ("SWC-105", Category.ACCESS_CONTROL, (30,))]
    # presence_of_unused_variable/unused_state_variables: SWC-131 on its own file and on the base.sol it
    # imports; code quality, so both files are there with no labels
    case = f"{CASES}/presence_of_unused_variable/unused_state_variables"
    assert swc.file(f"{case}/base.sol").labels == () and swc.file(f"{case}/unused_state_variables.sol").labels == ()


@needs_registry
def test_registry_subsets_and_report_paths(swc):
    fixed, vulnerable = swc.subsets[FIXED_SUBSET], swc.subsets[VULNERABLE_SUBSET]
    assert len(fixed) == 32 and len(vulnerable) == 66 and not fixed & vulnerable
    assert DAO_FIXED in fixed and DAO in vulnerable and TOKENSALE in vulnerable
    assert all(not swc.file(p).labels for p in fixed)
    assert all(swc.file(p).labels and "_fixed" not in p for p in vulnerable)
    assert f"{CASES}/multiple_variable_length_collisions/access_control_fixed_1/access_control_fixed_1.sol" in fixed
    # A report of the audit root names files <weakness>/<case>/<file>.sol
    assert swc.resolve("reentracy/simple_dao/simple_dao.sol") == DAO
    assert swc.resolve("/tmp/x/test_cases/solidity/reentracy/simple_dao/simple_dao.sol") == DAO
    assert swc.resolve("multiple_variable_length_collisions/access_control/ECDSA.sol") is not None
    assert swc.resolve("ECDSA.sol") is None  # three cases have one


@needs_registry
def test_per_swc_scores(swc):
    r = report([
        finding("reentrancy", "reentracy/simple_dao/simple_dao.sol", 17, tools=("slither",)),
        finding("arithmetic", "ctf/tokensalechallenge/tokensalechallenge.sol", 21, tools=("mythril",)),
        finding("arithmetic", "ctf/tokensalechallenge/tokensalechallenge.sol", 30, tools=("slither", "mythril")),
        # a modern class finds a label of another class refining the same DASP class (both access_control)
        finding("access_control", "unprotected_critical_functions/simple_suicide/simple_suicide.sol", 6,
                tools=("mythril",)),
        finding("reentrancy", "reentracy/simple_dao_fixed/simple_dao_fixed.sol", 17, tools=("slither",)),
    ])
    s = score(r, swc, tools=["slither", "mythril"])
    assert [sc.scope for sc in s.scopes] == ["all", FIXED_SUBSET, VULNERABLE_SUBSET]
    per = s.scope("all").swc
    assert sorted(per) == sorted({lb.swc for f in swc.files for lb in f.labels})
    assert (per["SWC-107"].labels, per["SWC-107"].found) == (2, {"slither": 1, "mythril": 0, MERGED: 1})
    # mythril's @21 also finds the label @23 (within 2 lines); its @30 the third
    assert (per["SWC-101"].labels, per["SWC-101"].found) == (10, {"slither": 1, "mythril": 3, MERGED: 3})
    assert per["SWC-105"].found == {"slither": 0, "mythril": 0, MERGED: 0}  # arithmetic @30 is not access control
    assert (per["SWC-106"].categories, per["SWC-106"].found[MERGED]) == (["access_control"], 1)
    assert per["SWC-101"].recall("mythril") == 0.3
    # the per-SWC rows add up to the class counts
    merged = s.scope("all").tools[MERGED]
    assert sum(row.found[MERGED] for row in per.values()) == merged.total.found == 5
    assert sum(row.labels for row in per.values()) == merged.total.labels == 78
    # the fixed variants have no labels: a finding there is a false positive
    fixed = s.scope(FIXED_SUBSET)
    assert fixed.swc == {} and (fixed.tools["slither"].total.findings, fixed.tools["slither"].total.matching) == (1, 0)
    assert s.scope(VULNERABLE_SUBSET).swc["SWC-107"].labels == 2
    # a scope of three cases only
    three = score(r, swc, scopes={"three": [DAO, TOKENSALE, SUICIDE]}).scope("three").swc
    assert {k: (v.labels, v.found[MERGED]) for k, v in three.items()} == {
        "SWC-101": (3, 3), "SWC-105": (1, 0), "SWC-106": (1, 1), "SWC-107": (1, 1)}
    lr = next(lr for lr in s.labels if lr.file == DAO)
    assert (lr.swc, lr.found_by) == ("SWC-107", ["slither", MERGED])

    md = to_markdown(s)
    assert "### all: recall by SWC id" in md and "| SWC-107 | Reentrancy | reentrancy | 2 | 1/2 (50.0%) |" in md
    assert "45 code-quality labels of the dataset are not scored" in md
    data = json.loads(to_json(s))
    assert data["scopes"][0]["swc"]["SWC-101"]["found"] == {"slither": 1, "mythril": 3, MERGED: 3}
    assert data["scopes"][0]["swc"]["SWC-101"]["title"] == "Integer Overflow and Underflow"
    assert data["skipped_labels"]["SWC-103"] == 16
    assert next(x for x in data["labels"] if x["file"] == DAO)["swc"] == "SWC-107"


# ------------------------------------------------------------------------------------------------
# Bad input: a registry-shaped tmp dir


def _case(root: Path, yaml_text: str | None, name: str = "c", source: str = "contract C {}\n" * 5) -> Path:
    case = root / "test_cases" / "solidity" / "w" / name
    case.mkdir(parents=True, exist_ok=True)
    (case / f"{name}.sol").write_text(source)
    if yaml_text is not None:
        (case / f"{name}.yaml").write_text(yaml_text)
    return case


GOOD = "issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: {c.sol: [2]}\n"


def test_tmp_registry_good_and_fixed(tmp_path):
    _case(tmp_path, GOOD)
    _case(tmp_path, "issues: []\n", name="c_fixed")
    ds = load_swc_registry(tmp_path)
    assert [f.path for f in ds.files] == [f"{CASES}/w/c/c.sol", f"{CASES}/w/c_fixed/c_fixed.sol"]
    assert ds.subsets == {FIXED_SUBSET: {f"{CASES}/w/c_fixed/c_fixed.sol"}, VULNERABLE_SUBSET: {f"{CASES}/w/c/c.sol"}}
    assert ds.skipped == {} and ds.notes == []


@pytest.mark.parametrize(("yaml_text", "match"), [
    ("issues: [\n  - id: {", "cannot read"),                                        # malformed YAML
    ("- just a list\n", "expected a mapping with an 'issues' list"),
    ("issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: {other.sol: [2]}\n",
     r"line_numbers name 'other\.sol', which is no source of this case \(c\.sol\)"),
    ("issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: {../c.sol: [2]}\n", "no source"),
    ("issues:\n- id: SWC-999\n  count: 0\n  locations: []\n", "not an SWC registry id"),
    ("issues:\n- id: SWC-107\n  count: 2\n  locations:\n  - line_numbers: {c.sol: [2]}\n", "count 2 but 1 locations"),
    ("issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: {c.sol: [99]}\n",
     r"bad line numbers \[99\] \(the file has 5 lines\)"),
    ("issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: {c.sol: []}\n", "non-empty list"),
    ("issues:\n- id: SWC-107\n  count: 1\n  locations:\n  - line_numbers: [2]\n",
     "expected a mapping with 'line_numbers'"),
    ("issues:\n- oops\n", "expected a mapping with 'id'"),
])
def test_tmp_registry_bad_yaml(tmp_path, yaml_text, match):
    _case(tmp_path, yaml_text)
    with pytest.raises(DatasetError, match=match):
        load_swc_registry(tmp_path)


def test_tmp_registry_bad_layout(tmp_path):
    with pytest.raises(DatasetError, match="not an SWC registry checkout"):
        load_swc_registry(tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        load_swc_registry(tmp_path / "absent")
    case = _case(tmp_path, None)
    with pytest.raises(DatasetError, match=r"c\.sol has no c\.yaml"):
        load_swc_registry(tmp_path)
    (case / "c.yaml").write_text(GOOD)
    (case.parent / "stray.sol").write_text("contract S {}\n")
    with pytest.raises(DatasetError, match=r"outside the <weakness>/<case>/ layout: w/stray\.sol"):
        load_swc_registry(tmp_path)


def test_format_option_lists_the_registry():
    from auditor.commands.eval import DATASET_FORMATS

    assert DATASET_FORMATS.choices == tuple(LOADERS) and {"smartbugs", "swc", "labels"} <= set(LOADERS)
