"""`solsentry finetune eval` scores the generative reviewer on an SWC-labelled dataset with the
protocol crossdata uses: by DASP class, by SWC id, triage kept/rejected. The model is a scripted
OpenAI-compatible server (no real LLM can exist here); the SWC registry cases are real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor.pipeline import AuditOptions, audit

REGISTRY = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "swc-registry"
CASES = ("transaction_malleability/transaction_malleablity", "transaction_malleability/transaction_malleablity_fixed",
         "reentracy/simple_dao")


@pytest.fixture
def small_registry(tmp_path):
    if not REGISTRY.is_dir():
        pytest.skip(f"{REGISTRY} is not here")
    root = tmp_path / "swc"
    for case in CASES:
        shutil.copytree(REGISTRY / "test_cases" / "solidity" / case, root / "test_cases" / "solidity" / case)
    report = audit(root / "test_cases" / "solidity", AuditOptions(tools=("slither",), review="none"))
    (tmp_path / "r.json").write_text(report.to_json())
    return root, tmp_path / "r.json"


def test_eval_scores_the_llm_by_swc_id(small_registry, llm_endpoint, solsentry, tmp_path):
    root, report = small_registry
    # the scripted model reports the signature malleability (SWC-117) no tool finds, in a modern class
    answer = {"verdicts": [], "summary": "s", "findings": [
        {"title": "malleable txid", "category": "signature", "line": 23, "reason": "the signature is hashed",
         "file": "transaction_malleability/transaction_malleablity/transaction_malleablity.sol"}]}
    server = llm_endpoint(*[json.dumps(answer)] * 6)
    proc = solsentry("finetune", "eval", "--review", "llm", "--model", server.url, "--dataset", str(root),
                     "--format", "swc", "--report", str(report), "--out", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    assert "By SWC id" in proc.stdout and "| SWC-117 | 1 |" in proc.stdout
    assert "triage (llm):" in proc.stdout and "triage (embedded):" in proc.stdout
    assert "model findings per file (embedded): vulnerable" in proc.stdout
    scores = json.loads((tmp_path / "s.json").read_text())
    swc117 = {name: s["scopes"][0]["swc"]["SWC-117"]["found"].get("merged", 0) for name, s in scores.items()}
    assert swc117["tools"] == 0 and swc117["tools+llm"] == 1
