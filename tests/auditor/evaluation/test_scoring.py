"""Labelled datasets and the ICSE 2020 scoring protocol (no tool runs: reports are built by hand)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from auditor.errors import AuditorError
from auditor.evaluation.dataset import (
    ICSE_SUBSET,
    LOADERS,
    DatasetError,
    icse_subset,
    load_dataset,
    load_smartbugs,
)
from auditor.evaluation.rendering import to_json, to_markdown
from auditor.evaluation.results import MERGED
from auditor.evaluation.scoring import location_hits, score
from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity
from auditor.report.model import Report, SourceFile, ToolInfo, summarize

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "labelled"


def _smartbugs_dir() -> Path | None:
    candidates = [os.environ.get("SOLSENTRY_SMARTBUGS_DIR", ""),
                  ROOT / "shared" / "datasets" / "smartbugs-curated",
                  ROOT.parent / "shared" / "datasets" / "smartbugs-curated"]
    for c in candidates:
        if c and (Path(c) / "vulnerabilities.json").is_file():
            return Path(c)
    return None


SMARTBUGS = _smartbugs_dir()
needs_smartbugs = pytest.mark.skipif(SMARTBUGS is None, reason="SmartBugs-curated checkout not found "
                                     "(set SOLSENTRY_SMARTBUGS_DIR)")

BANK = "dataset/reentrancy/bank.sol"  # reentrancy @13
COUNTER = "dataset/arithmetic/counter.sol"  # arithmetic @8, @13
REGISTRY = "dataset/other/registry.sol"  # other @8, access_control @13-14


def finding(category: str, file: str, start: int, end: int | None = None, *, tools: tuple[str, ...] = ("slither",),
            suppressed: str | None = None, more: tuple[Location, ...] = ()) -> Finding:
    loc = Location(file=file, start_line=start, end_line=end or start)
    return Finding(
        id=f"{category}-{file}-{start}-{end}-{'+'.join(tools)}", fingerprint="fp", title=category,
        category=Category(category), severity=Severity.HIGH, confidence=Confidence.MEDIUM,
        locations=[loc, *more], description="d", tools=list(tools),
        reporters=[Reporter(tool=t, detector="det", severity=Severity.HIGH, confidence=Confidence.MEDIUM)
                   for t in tools],
        suppressed=suppressed)


def report(findings: list[Finding], files: dict[str, str] | None = None,
           tools: tuple[str, ...] = ("slither", "mythril")) -> Report:
    if files is None:
        files = {p: "compiled" for p in ("reentrancy/bank.sol", "arithmetic/counter.sol", "other/registry.sol")}
    return Report(
        solsentry_version="0.0.0", target="tests/fixtures/labelled/dataset", target_kind="directory",
        tools=[ToolInfo(name=t, version="1", runs=3, ok=3, failed=0, timeout=0, skipped=0) for t in tools],
        tool_runs=[],
        files=[SourceFile(path=p, sha256="0" * 64, status=s, error="boom" if s == "error" else None)
               for p, s in files.items()],
        findings=findings, summary=summarize(findings))


@pytest.fixture(scope="module")
def fixture_ds():
    return load_smartbugs(FIXTURE)


def counts(scores, tool=MERGED, category=None, scope="all"):
    t = scores.scope(scope).tools[tool]
    return t.total if category is None else t.categories[category]


# ------------------------------------------------------------------------------------------------
# Loading


@needs_smartbugs
def test_smartbugs_curated_counts():
    ds = load_smartbugs(SMARTBUGS)
    assert ds.audit_root == SMARTBUGS / "dataset"
    assert len(ds.files) == 143
    assert ds.label_count == 207  # vulnerabilities
    assert ds.line_count == 222  # (category, line) pairs: some vulnerabilities span lines
    assert all((SMARTBUGS / f.path).is_file() for f in ds.files)
    assert {lb.category for f in ds.files for lb in f.labels} == {c for c in Category if c.is_dasp}
    assert all(lb.swc is None for f in ds.files for lb in f.labels)  # SmartBugs labels by class only
    other = [f.path for f in ds.files if any(lb.category is Category.OTHER for lb in f.labels)]
    assert len(other) == 3


@needs_smartbugs
def test_smartbugs_icse_subset():
    ds = load_smartbugs(SMARTBUGS)
    subset = icse_subset(SMARTBUGS)
    assert subset == ds.subsets[ICSE_SUBSET]
    assert len(subset) == 69
    labelled = {f.path for f in ds.files}
    assert subset <= labelled
    # Listed under unchecked_low_level_calls/ with "[MOVED TO: ./access_control/FibonacciBalance.sol]".
    assert "dataset/access_control/FibonacciBalance.sol" in subset
    files = [f for f in ds.files if f.path in subset]
    assert sum(len(f.labels) for f in files) == 114  # the paper counts 115; the labels changed since
    assert sum(len(lb.lines) for f in files for lb in f.labels) == 129


@needs_smartbugs
def test_smartbugs_resolve_report_paths():
    ds = load_smartbugs(SMARTBUGS)
    name = "0x627fa62ccbb1c1b04ffaecd72a53e37fc0e17839.sol"  # in reentrancy/ and unchecked_low_level_calls/
    assert ds.resolve(f"reentrancy/{name}") == f"dataset/reentrancy/{name}"
    assert ds.resolve(f"dataset/unchecked_low_level_calls/{name}") == f"dataset/unchecked_low_level_calls/{name}"
    assert ds.resolve(name) is None  # ambiguous
    assert ds.resolve("/abs/somewhere/dataset/other/crypto_roulette.sol") == "dataset/other/crypto_roulette.sol"
    assert ds.resolve("reentrancy/README.md") is None


def test_fixture_dataset(fixture_ds):
    assert fixture_ds.name == "smartbugs-curated"
    assert [f.path for f in fixture_ds.files] == [BANK, COUNTER, REGISTRY]
    assert fixture_ds.label_count == 5
    assert fixture_ds.line_count == 6
    reg = fixture_ds.file("other/registry.sol")
    assert reg is not None
    assert [(lb.category, lb.lines) for lb in reg.labels] == [(Category.OTHER, (8,)),
                                                              (Category.ACCESS_CONTROL, (13, 14))]
    assert list(reg.pairs()) == [(Category.OTHER, 8), (Category.ACCESS_CONTROL, 13), (Category.ACCESS_CONTROL, 14)]
    # The moved entry resolves to the file's new place.
    assert fixture_ds.subsets[ICSE_SUBSET] == {BANK, REGISTRY}
    assert icse_subset(FIXTURE) == {BANK, REGISTRY}


def test_loader_registry(fixture_ds):
    assert LOADERS["smartbugs"] is load_smartbugs
    assert [f.path for f in load_dataset("smartbugs", FIXTURE).files] == [f.path for f in fixture_ds.files]
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset("nope", FIXTURE)


def test_missing_labels_is_an_auditor_error(tmp_path):
    with pytest.raises(AuditorError, match=r"no vulnerabilities\.json"):
        load_smartbugs(tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        load_smartbugs(tmp_path / "absent")
    with pytest.raises(DatasetError, match="did you mean its parent"):
        load_smartbugs(FIXTURE / "dataset")
    with pytest.raises(DatasetError, match="ICSE"):
        icse_subset(tmp_path)


def test_malformed_labels(tmp_path):
    (tmp_path / "vulnerabilities.json").write_text(json.dumps(
        [{"path": "dataset/x/a.sol", "vulnerabilities": [{"lines": [3], "category": "no_such_thing"}]}]))
    with pytest.raises(DatasetError, match="bad vulnerability"):
        load_smartbugs(tmp_path)
    (tmp_path / "vulnerabilities.json").write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read"):
        load_smartbugs(tmp_path)


def test_icse_list_checked_against_labels(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "ds")
    listing = tmp_path / "ds" / "ICSE2020_curated_69.txt"
    text = listing.read_text()
    listing.write_text(text.replace("with the 2 contracts", "with the 3 contracts"))
    with pytest.raises(DatasetError, match="declares 3 contracts but lists 2"):
        load_smartbugs(tmp_path / "ds")
    listing.write_text(text + "./dataset/reentrancy/missing.sol\n")
    with pytest.raises(DatasetError, match=r"missing\.sol"):
        load_smartbugs(tmp_path / "ds")
    # A moved file without its note still resolves by its (unique) file name.
    listing.write_text(text.replace(" [MOVED TO: ./other/registry.sol]", ""))
    assert load_smartbugs(tmp_path / "ds").subsets[ICSE_SUBSET] == {BANK, REGISTRY}


# ------------------------------------------------------------------------------------------------
# Protocol


def test_location_hits():
    loc = Location(file="a.sol", start_line=10, end_line=15)
    assert all(location_hits(loc, n) for n in range(8, 16))
    assert not location_hits(loc, 7)
    assert not location_hits(loc, 16)  # past the end and 6 from the start


@pytest.mark.parametrize(("start", "end", "hit"), [
    (10, 15, True),  # covers line 13
    (13, 13, True),
    (11, 11, True),  # starts 2 before
    (15, 20, True),  # starts 2 after
    (10, 10, False),  # 3 before, does not cover
    (16, 16, False),  # 3 after
    (5, 12, False),  # ends just before, starts far away
])
def test_line_window(fixture_ds, start, end, hit):
    s = score(report([finding("reentrancy", "reentrancy/bank.sol", start, end)]), fixture_ds)
    c = counts(s, category="reentrancy")
    assert (c.labels, c.found, c.findings, c.matching) == (1, int(hit), 1, int(hit))


def test_wrong_category_and_other_file_not_found(fixture_ds):
    s = score(report([
        finding("arithmetic", "reentrancy/bank.sol", 13),  # right place, wrong category
        finding("reentrancy", "arithmetic/counter.sol", 13),  # right category, wrong file
    ]), fixture_ds)
    assert counts(s, category="reentrancy").found == 0
    assert counts(s, category="arithmetic").found == 0
    total = counts(s)
    assert (total.labels, total.found, total.findings, total.matching) == (5, 0, 2, 0)
    assert total.recall == 0 and total.precision == 0 and total.f1 == 0


def test_multi_line_label_is_one_vulnerability(fixture_ds):
    s = score(report([finding("access_control", "other/registry.sol", 16)]), fixture_ds)  # 2 after line 14
    c = counts(s, category="access_control")
    assert (c.labels, c.found, c.matching) == (1, 1, 1)


def test_report_paths_relative_to_either_directory(fixture_ds):
    for path in ("reentrancy/bank.sol", "dataset/reentrancy/bank.sol", "/tmp/x/dataset/reentrancy/bank.sol"):
        s = score(report([finding("reentrancy", path, 13)]), fixture_ds)
        assert counts(s, category="reentrancy").found == 1, path


def test_per_tool_restriction(fixture_ds):
    s = score(report([
        finding("reentrancy", "reentrancy/bank.sol", 13, tools=("slither",)),
        finding("arithmetic", "arithmetic/counter.sol", 8, tools=("mythril",)),
        finding("arithmetic", "arithmetic/counter.sol", 13, tools=("mythril",)),
        finding("arithmetic", "arithmetic/counter.sol", 13, tools=("slither", "mythril")),
    ]), fixture_ds)
    assert list(s.scope("all").tools) == ["slither", "mythril", MERGED]
    assert counts(s, "slither", "reentrancy").found == 1
    assert counts(s, "slither", "arithmetic").found == 1
    assert counts(s, "mythril", "reentrancy").found == 0
    assert counts(s, "mythril", "arithmetic").found == 2
    assert counts(s, MERGED).found == 3
    assert counts(s, "slither").findings == 2
    assert counts(s, "mythril").findings == 3
    assert counts(s, MERGED).findings == 4
    by_label = {(lr.file, lr.lines): lr.found_by for lr in s.labels}
    assert by_label[(COUNTER, (13,))] == ["slither", "mythril", MERGED]
    assert by_label[(BANK, (13,))] == ["slither", MERGED]
    assert by_label[(REGISTRY, (8,))] == []
    # Asking for one tool scores only it (plus merged, which still holds every finding).
    only = score(report([finding("arithmetic", "arithmetic/counter.sol", 8, tools=("mythril",))]), fixture_ds,
                 tools=["slither"])
    assert list(only.scope("all").tools) == ["slither", MERGED]
    assert counts(only, "slither").findings == 0
    assert counts(only, MERGED).found == 1


def test_precision_counts_unmatched_findings(fixture_ds):
    s = score(report([
        finding("reentrancy", "reentrancy/bank.sol", 13),
        finding("reentrancy", "reentrancy/bank.sol", 3),  # false positive
        finding("reentrancy", "arithmetic/counter.sol", 8),  # false positive in a file without such labels
        finding("front_running", "other/registry.sol", 8),  # a category with no label at all
    ]), fixture_ds)
    r = counts(s, category="reentrancy")
    assert (r.found, r.labels, r.matching, r.findings) == (1, 1, 1, 3)
    assert r.recall == 1 and r.precision == pytest.approx(1 / 3) and r.f1 == pytest.approx(0.5)
    fr = counts(s, category="front_running")
    assert (fr.labels, fr.findings, fr.matching, fr.recall, fr.precision, fr.f1) == (0, 1, 0, None, 0, None)
    total = counts(s)  # micro average
    assert (total.labels, total.found, total.findings, total.matching) == (5, 1, 4, 1)
    assert total.precision == pytest.approx(0.25) and total.recall == pytest.approx(0.2)


def test_code_quality_excluded_other_counts(fixture_ds):
    s = score(report([
        finding("code_quality", "other/registry.sol", 8),
        finding("other", "other/registry.sol", 9),
        finding("other", "other/registry.sol", 20),
    ]), fixture_ds)
    assert "code_quality" not in s.scope("all").tools[MERGED].categories
    assert s.scope("all").tools[MERGED].excluded == 1
    o = counts(s, category="other")
    assert (o.labels, o.found, o.findings, o.matching) == (1, 1, 2, 1)
    assert counts(s).findings == 2


def test_icse_subset_scope(fixture_ds):
    s = score(report([
        finding("reentrancy", "reentrancy/bank.sol", 13),
        finding("arithmetic", "arithmetic/counter.sol", 8),  # counter.sol is not in the subset
        finding("arithmetic", "arithmetic/counter.sol", 2),
    ]), fixture_ds)
    assert [sc.scope for sc in s.scopes] == ["all", ICSE_SUBSET]
    icse = s.scope(ICSE_SUBSET)
    assert (icse.files, icse.labels, icse.lines) == (2, 3, 4)
    t = counts(s, scope=ICSE_SUBSET)
    assert (t.labels, t.found, t.findings, t.matching) == (3, 1, 1, 1)
    a = counts(s)
    assert (a.labels, a.found, a.findings, a.matching) == (5, 2, 3, 2)
    assert next(lr for lr in s.labels if lr.file == COUNTER).scopes == ["all"]
    assert next(lr for lr in s.labels if lr.file == BANK).scopes == ["all", ICSE_SUBSET]
    custom = score(report([]), fixture_ds, scopes={"just-counter": [COUNTER]})
    assert [sc.scope for sc in custom.scopes] == ["just-counter"]
    with pytest.raises(ValueError, match="unlabelled"):
        score(report([]), fixture_ds, scopes={"bad": ["dataset/nope.sol"]})


def test_suppressed_counted_unless_asked(fixture_ds):
    r = report([finding("reentrancy", "reentrancy/bank.sol", 13, suppressed="inline")])
    assert counts(score(r, fixture_ds), category="reentrancy").found == 1
    s = score(r, fixture_ds, include_suppressed=False)
    assert counts(s, category="reentrancy").found == 0 and counts(s).findings == 0


def test_audit_stats_and_file_status(fixture_ds):
    r = report([finding("reentrancy", "lib/other.sol", 1)],
               files={"reentrancy/bank.sol": "compiled", "arithmetic/counter.sol": "error",
                      "lib/other.sol": "compiled"})
    s = score(r, fixture_ds)
    a = s.audit
    assert (a.files, a.compiled, a.errors, a.error_files) == (3, 2, 1, ["arithmetic/counter.sol"])
    assert (a.findings, a.findings_outside) == (1, 1)
    assert a.tool_runs["slither"].runs == 3
    sc = s.scope("all")
    assert (sc.files_compiled, sc.files_error, sc.files_missing) == (1, 1, 1)
    assert counts(s).findings == 0


def test_tools_default_to_the_report(fixture_ds):
    r = report([finding("reentrancy", "reentrancy/bank.sol", 13, tools=("aderyn",))], tools=("slither",))
    assert score(r, fixture_ds).tools == ["slither", "aderyn"]


def test_markdown_and_json(fixture_ds):
    s = score(report([
        finding("reentrancy", "reentrancy/bank.sol", 13, tools=("slither",)),
        finding("other", "other/registry.sol", 8, tools=("mythril",)),
        finding("code_quality", "other/registry.sol", 2, tools=("slither",)),
    ]), fixture_ds)
    md = to_markdown(s)
    for text in ("reentrancy", "arithmetic", "access_control", "other", "total", "slither recall",
                 "mythril precision", "merged F1", "## all: 3 files, 5 labels", f"## {ICSE_SUBSET}: 2 files",
                 "1/1 (100.0%)", "code_quality"):
        assert text in md, text
    assert "| front_running |" not in md  # no label, no finding: no row
    header = next(line for line in md.splitlines() if line.startswith("| category"))
    assert header.count("|") == 2 + 3 * 3 + 1
    data = json.loads(to_json(s))
    assert data["schema"] == "solsentry.eval/1"
    assert data["protocol"]["line_tolerance"] == 2
    merged = data["scopes"][0]["tools"][MERGED]
    assert merged["categories"]["reentrancy"] == {"labels": 1, "found": 1, "findings": 1, "matching": 1,
                                                  "recall": 1.0, "precision": 1.0, "f1": 1.0}
    assert merged["total"]["labels"] == 5 and merged["excluded"] == 1
    assert len(data["labels"]) == 5
    # SmartBugs labels carry no SWC id: no per-SWC table, nothing skipped
    assert "by SWC id" not in md and "not scored:" not in md
    assert data["scopes"][0]["swc"] == {} and data["skipped_labels"] == {}
    assert all(lb["swc"] is None for lb in data["labels"])


# ------------------------------------------------------------------------------------------------
# The command, without the pipeline (scores a saved report)


def test_eval_command_from_saved_report(tmp_path):
    from click.testing import CliRunner

    from auditor.commands.eval import eval_group

    saved = tmp_path / "report.json"
    saved.write_text(report([finding("reentrancy", "reentrancy/bank.sol", 13)]).to_json())
    out, md = tmp_path / "scores.json", tmp_path / "scores.md"
    result = CliRunner().invoke(eval_group, ["smartbugs", str(FIXTURE), "--tools", "slither",
                                             "--from-report", str(saved), "--out", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    assert "reentrancy" in result.output
    assert json.loads(out.read_text())["tools"] == ["slither"]
    assert "| reentrancy |" in md.read_text()

    bad = CliRunner().invoke(eval_group, ["smartbugs", str(tmp_path / "absent"), "--from-report", str(saved)])
    assert bad.exit_code == 2 and "not a directory" in bad.output
    bad = CliRunner().invoke(eval_group, ["smartbugs", str(tmp_path), "--from-report", str(saved)])
    assert isinstance(bad.exception, AuditorError)
