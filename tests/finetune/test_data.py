"""Training data: comment stripping, label matching, splits by contract (tiny labelled fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.evaluation.dataset import load_smartbugs
from finetune.data import finding_examples, function_examples, group_folds, read, split_groups, write
from finetune.errors import FinetuneError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "labelled"
SWC_REGISTRY = Path("/work/shared/datasets/swc-registry")


@pytest.fixture(scope="module")
def dataset():
    return load_smartbugs(FIXTURE)


@pytest.fixture(scope="module")
def report(dataset):
    """The real Slither audit of the fixture's sources (no review: the data is what tools say)."""
    from auditor.pipeline import AuditOptions, audit

    return audit(dataset.audit_root, AuditOptions(tools=("slither",), review="none", use_cache=False))


def test_function_examples_carry_the_labels_inside_them_and_no_comments(dataset):
    funcs = {(Path(f.group).name, f.name): f for f in function_examples(dataset)}
    assert funcs[("bank.sol", "withdraw")].labels == ("reentrancy",)
    assert funcs[("bank.sol", "deposit")].labels == ()
    assert funcs[("counter.sol", "add")].labels == ("arithmetic",)
    for f in funcs.values():
        assert "<yes>" not in f.text and "report" not in f.text.lower()
        assert "balances" not in f.text          # user names are neutral placeholders


@pytest.mark.skipif(not (SWC_REGISTRY / "test_cases" / "solidity").is_dir(), reason="SWC registry not found")
def test_function_examples_of_the_swc_registry_carry_dasp_classes():
    """SWC labels are of modern classes too (SWC-106: unprotected_selfdestruct); examples name their DASP class."""
    from auditor.evaluation.dataset import load_dataset
    from auditor.findings import Category
    from auditor.review.texts import CATEGORIES

    dataset = load_dataset("swc", SWC_REGISTRY)
    suicide = "test_cases/solidity/unprotected_critical_functions/simple_suicide/simple_suicide.sol"
    assert dataset.file(suicide).labels[0].category is Category.UNPROTECTED_SELFDESTRUCT
    funcs = function_examples(dataset)
    labelled = [f for f in funcs if f.labels]
    assert labelled and {c for f in labelled for c in f.labels} <= set(CATEGORIES)
    by_name = {(Path(f.group).name, f.name): f.labels for f in funcs}
    assert by_name[("simple_suicide.sol", "sudicideAnyone")] == ("access_control",)
    assert by_name[("simple_dao.sol", "withdraw")] == ("reentrancy",)
    assert by_name[("simple_dao_fixed.sol", "withdraw")] == ()
    assert not [f for f in funcs if f.group in dataset.subsets["fixed"] and f.labels]


def test_finding_examples_match_labels_by_category_and_place(dataset, report):
    examples = finding_examples(dataset, report)
    assert examples, "Slither reports something on the fixture"
    reentrancy = [e for e in examples if e.category == "reentrancy" and e.group.endswith("bank.sol")]
    assert reentrancy and all(e.label for e in reentrancy)
    # every example's truth agrees with the evaluation protocol: a true example names a label of its category
    labelled = {(lf.path, lb.category.value) for lf in dataset.files for lb in lf.labels}
    for e in examples:
        if e.label:
            assert (e.group, e.category) in labelled
        assert "__flag__" in e.context and "<yes>" not in e.context


def test_write_read_round_trip_and_bad_data(tmp_path, dataset, report):
    funcs, finds = function_examples(dataset), finding_examples(dataset, report)
    write(tmp_path, funcs, finds)
    assert read(tmp_path) == (funcs, finds)
    (tmp_path / "findings.jsonl").write_text(json.dumps({"group": "x"}) + "\n")
    with pytest.raises(FinetuneError, match="malformed"):
        read(tmp_path)
    with pytest.raises(FinetuneError, match="finetune data"):
        read(tmp_path / "missing")


def test_splits_are_by_contract_file():
    groups = [f"file{i % 10}.sol" for i in range(100)]          # 10 files, 10 functions each
    folds = group_folds(groups, 3, seed=1)
    assert set().union(*folds) == set(groups)
    assert sum(len(f) for f in folds) == 10                        # disjoint
    assert group_folds(groups, 3, seed=1) == folds                 # seeded
    train, val = split_groups(groups, 0.2, seed=1)
    assert not train & val and len(val) == 2 and train | val == set(groups)
    with pytest.raises(FinetuneError):
        group_folds(groups, 11, seed=1)
