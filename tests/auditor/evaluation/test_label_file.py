"""The "labels" dataset format: a labels.json / labels.yaml of one's own, checked strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from auditor.evaluation.dataset import LOADERS, DatasetError, load_dataset
from auditor.evaluation.label_file import load_label_file
from auditor.evaluation.results import MERGED
from auditor.evaluation.scoring import score
from auditor.findings import Category, Confidence, Finding, Location, Severity
from auditor.report.model import Report, summarize


def _report(category: str, file: str, line: int) -> Report:
    """A report with one finding (by slither; no tool run needed)."""
    f = Finding(id="f", fingerprint="fp", title=category, category=Category(category), severity=Severity.HIGH,
                confidence=Confidence.MEDIUM, locations=[Location(file=file, start_line=line, end_line=line)],
                description="d", tools=["slither"], reporters=[])
    return Report(solsentry_version="0.0.0", target="src", target_kind="directory", tools=[], tool_runs=[],
                  files=[], findings=[f], summary=summarize([f]))


def _labels_dir(tmp_path: Path, doc: dict, name: str = "labels.json") -> Path:
    (tmp_path / "src" / "lib").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "A.sol").write_text("contract A {}\n" * 10)
    (tmp_path / "src" / "lib" / "B.sol").write_text("contract B {}\n" * 3)
    text = json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc)
    (tmp_path / name).write_text(text)
    return tmp_path


def test_labels_format(tmp_path):
    doc = {"name": "mine", "audit_root": "src", "subsets": {"core": ["src/A.sol"]},
           "files": [{"path": "src/A.sol", "labels": [{"category": "reentrancy", "lines": [3, 4]},
                                                      {"swc": "swc-101", "lines": [5]},
                                                      {"category": "token_integration", "swc": "SWC-104", "lines": [6]},
                                                      {"swc": "SWC-103", "lines": [1]}]},
                     {"path": "./src/lib/B.sol", "description": "no labels: a negative"}]}
    ds = load_dataset("labels", _labels_dir(tmp_path, doc))
    assert LOADERS["labels"] is load_label_file
    assert (ds.name, ds.audit_root, ds.subsets) == ("mine", tmp_path / "src", {"core": {"src/A.sol"}})
    assert [(lb.category, lb.lines, lb.swc) for lb in ds.file("A.sol").labels] == [
        (Category.REENTRANCY, (3, 4), None), (Category.ARITHMETIC, (5,), "SWC-101"),
        (Category.TOKEN_INTEGRATION, (6,), "SWC-104")]
    assert ds.file("lib/B.sol").labels == () and ds.skipped == {"SWC-103": 1}
    s = score(_report("unchecked_low_level_calls", "A.sol", 6), ds)
    assert s.scope("all").swc["SWC-104"].found[MERGED] == 1 and "SWC-101" in s.scope("core").swc
    (tmp_path / "labels.json").rename(tmp_path / "labels.yaml")
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump(doc))
    assert load_label_file(tmp_path).files == ds.files


A = {"path": "src/A.sol", "labels": [{"category": "reentrancy", "lines": [3]}]}


@pytest.mark.parametrize(("doc", "match"), [
    ({"files": [{"path": "../A.sol"}]}, r"leaves the dataset directory \('\.\.'\)"),
    ({"files": [{"path": "src/../../A.sol"}]}, r"leaves the dataset directory"),
    ({"files": [{"path": "/etc/passwd"}]}, "is absolute"),
    ({"files": [{"path": "C:\\x\\A.sol"}]}, "is absolute"),
    ({"audit_root": "..", "files": [A]}, r"audit_root: '\.\.' leaves"),
    ({"audit_root": "src/lib", "files": [A]}, "not inside audit_root src/lib"),
    ({"files": [{"path": "src/Nope.sol"}]}, "no such file"),
    ({"files": [{"path": "src/A.sol", "labels": [{"category": "reentrency", "lines": [3]}]}]},
     r"unknown category 'reentrency' \(valid: reentrancy, access_control, .*code_quality\)"),
    ({"files": [{"path": "src/A.sol", "labels": [{"swc": "SWC-200", "lines": [3]}]}]}, "not an SWC registry id"),
    ({"files": [{"path": "src/A.sol", "labels": [{"lines": [3]}]}]}, "'category', 'swc' or both"),
    ({"files": [{"path": "src/A.sol", "labels": [{"category": "other", "lines": [11]}]}]}, "the file has 10 lines"),
    ({"files": [{"path": "src/A.sol", "labels": [{"category": "other", "lines": [True]}]}]}, "bad line numbers"),
    ({"files": [{"path": "src/A.sol", "labels": [{"category": "other", "line": [1]}]}]}, "unknown key.*line"),
    ({"files": [A, A]}, "labelled twice"),
    ({"files": []}, "non-empty list"),
    ({"name": "x"}, "missing files"),
    ({"files": [A], "subsets": {"s": ["src/lib/B.sol"]}}, "subset 's' names unlabelled files"),
])
def test_labels_format_is_strict(tmp_path, doc, match):
    with pytest.raises(DatasetError, match=match):
        load_label_file(_labels_dir(tmp_path, doc))


def test_labels_format_files(tmp_path):
    with pytest.raises(DatasetError, match="found none of them"):
        load_label_file(tmp_path)
    _labels_dir(tmp_path, {"files": [A]})
    (tmp_path / "labels.yaml").write_text("files: []\n")
    with pytest.raises(DatasetError, match=r"found labels\.json, labels\.yaml"):
        load_label_file(tmp_path)
    (tmp_path / "labels.yaml").unlink()
    (tmp_path / "labels.json").write_text("{nope")
    with pytest.raises(DatasetError, match="cannot read"):
        load_label_file(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.sol"
    outside.write_text("contract O {}\n")
    (tmp_path / "src" / "link.sol").symlink_to(outside)
    (tmp_path / "labels.json").write_text(json.dumps({"files": [{"path": "src/link.sol"}]}))
    with pytest.raises(DatasetError, match="outside the dataset directory"):
        load_label_file(tmp_path)
