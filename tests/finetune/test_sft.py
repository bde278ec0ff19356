"""The real `sft` code path and the local backend, on a tiny causal LM built from a config (no
pretrained code LLM can exist here; the tiny model stands in for one, and is the real thing
otherwise: a byte-level BPE tokenizer, a Llama architecture, peft LoRA, the Trainer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.evaluation.dataset import Label, load_smartbugs
from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity
from auditor.pipeline import AuditOptions, audit
from auditor.review.base import apply_review
from auditor.review.llm import prompt as prompts
from auditor.review.llm.answer import ANSWER_CATEGORIES, Answer
from auditor.review.llm.backends import LocalBackend
from auditor.review.llm.knowledge import entries
from auditor.review.llm.reviewer import LLMReviewer
from finetune import sft, sft_data
from finetune.recipe import load_sft_recipe

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "labelled"
TINY_RECIPE = ROOT / "finetune" / "recipes" / "sft-tiny.yaml"
SHORT_ANSWER = '{"verdicts":[],"findings":[],"summary":"reviewed"}'


def tiny_model(directory: Path, corpus: list[str]) -> Path:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=800, min_frequency=2, special_tokens=["<pad>", "<eos>"],
                            show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                         max_position_embeddings=8192, pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id, bos_token_id=None))
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def examples():
    dataset = load_smartbugs(FIXTURE)
    report = audit(dataset.audit_root, AuditOptions(tools=("slither",), review="none"))
    return sft_data.build(dataset, report, context_tokens=4096, answer_tokens=256)


def test_instruction_examples_follow_the_labels(examples):
    by_file = {Path(e.group).name: Answer.model_validate_json(e.answer) for e in examples}
    assert set(by_file) == {"bank.sol", "counter.sol", "registry.sol"}
    bank = by_file["bank.sol"]
    assert any(v.verdict == "true_positive" for v in bank.verdicts)          # Slither's reentrancy is real
    counter = by_file["counter.sol"]          # no tool finds the uint8 overflows: both become missed findings
    assert sorted((f.category, f.line) for f in counter.findings) == [("arithmetic", 8), ("arithmetic", 13)]
    for e in examples:
        assert "<yes>" not in e.messages[1]["content"]                         # labels live in comments


def _finding(category: Category, line: int, swc: str | None = None) -> Finding:
    loc = Location(file="a.sol", start_line=line, end_line=line)
    return Finding(id=f"{category.value}-{line}", fingerprint="f", title="t", swc=swc, category=category,
                   severity=Severity.MEDIUM, confidence=Confidence.MEDIUM, locations=[loc], description="d",
                   tools=["slither"], reporters=[Reporter(tool="slither", detector="d", severity=Severity.MEDIUM,
                                                          confidence=Confidence.MEDIUM)])


def test_expected_answer_with_the_modern_classes():
    kb = {e.id: e for e in entries()}
    token = _finding(Category.TOKEN_INTEGRATION, 7, "SWC-104")        # Slither's unchecked-transfer
    style = _finding(Category.CODE_QUALITY, 2)
    assert sft_data.reviewable([token, style]) == [token]            # every class but code quality
    labels = [Label(Category.UNCHECKED_LOW_LEVEL_CALLS, (7,)),        # a SmartBugs (DASP) label
              Label(Category.SIGNATURE, (12,), swc="SWC-121"),        # an SWC-labelled dataset's label
              Label(Category.SHARE_INFLATION, (20,))]
    answer = sft_data.expected_answer([token], labels, "a.sol", "a.sol")
    # a finding of a modern class matches a label of the DASP class it refines, as the evaluation does
    assert [(v.id, v.verdict) for v in answer.verdicts] == [(token.id, "true_positive")]
    assert kb["SWC-104"].signs in answer.verdicts[0].reason
    missed = [(f.category, f.line, f.reason) for f in answer.findings]
    assert missed == [("signature", 12, kb["SWC-121"].weakness),
                      ("share_inflation", 20, kb["SOLSENTRY-SHARE-INFLATION"].weakness)]
    assert {f.category for f in answer.findings} <= set(ANSWER_CATEGORIES)
    Answer.model_validate_json(answer.model_dump_json())             # what sft.jsonl holds parses back


@pytest.mark.slow
def test_sft_lowers_the_loss_saves_reloads_and_merges(tmp_path, examples):
    base = tiny_model(tmp_path / "base", [e.messages[0]["content"] + e.messages[1]["content"] + e.answer
                                          for e in examples])
    recipe = load_sft_recipe(TINY_RECIPE)
    recipe.max_steps = 60     # the prompt lists every weakness class: a random tiny model needs the extra steps
    metrics = sft.run(str(base), examples, recipe, tmp_path / "run", merge=True, log=lambda _: None)
    losses = metrics["losses"]
    assert len(losses) >= 30 and sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5, losses
    assert metrics["eval_loss"] > 0 and metrics["perplexity"] > 1
    assert metrics["finding_f1"]["answers"] == 1                           # held-out generation was scored
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert list((tmp_path / "run" / "checkpoints").rglob("events.out.tfevents.*"))
    # the saved adapter reloads through the inference backend, and the merged model loads alone
    with_adapter = LocalBackend(str(base), adapter=str(tmp_path / "run" / "adapter"))
    merged = LocalBackend(str(tmp_path / "run" / "merged"))
    messages = examples[0].messages
    assert with_adapter.generate(messages, 12) == merged.generate(messages, 12)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == recipe.max_steps


@pytest.mark.slow
def test_local_backend_gives_a_valid_review(tmp_path):
    """A tiny model taught one answer through `sft` reviews that file through the local backend."""
    source = (ROOT / "examples" / "EtherBank.sol").read_text()
    report = audit(ROOT / "examples" / "EtherBank.sol", AuditOptions(tools=("slither",), review="none"))
    # the system prompt too, so that it takes as few tokens as with a real tokenizer and fits the context
    corpus = [source, SHORT_ANSWER, prompts.SYSTEM] * 3
    base = tiny_model(tmp_path / "base", corpus)
    reviewer = LLMReviewer(model=str(base), context_tokens=4096, max_new_tokens=40, attempts=1)
    findings = [f for f in report.findings if f.category.value != "code_quality"]
    prompt = reviewer.prompt_for("EtherBank.sol", source, findings)
    recipe = load_sft_recipe(TINY_RECIPE)
    recipe.max_steps, recipe.eval_generate_limit, recipe.learning_rate = 60, 0, 1e-2
    sft.run(str(base), [sft_data.SFTExample("a", prompt.messages, SHORT_ANSWER)], recipe, tmp_path / "run",
            merge=True, log=lambda _: None)
    trained = LLMReviewer(model=str(tmp_path / "run" / "merged"), context_tokens=4096, max_new_tokens=40,
                          attempts=1)
    reviewed = apply_review(report, trained, {"EtherBank.sol": source})
    assert reviewed.review.state == "ok", reviewed.review.message
    assert [f.id for f in reviewed.findings] == [f.id for f in report.findings]
    again = apply_review(report, trained, {"EtherBank.sol": source})             # greedy: deterministic
    skip = {"review": {"duration_s"}}
    assert again.model_dump(exclude=skip) == reviewed.model_dump(exclude=skip)


def test_finetune_eval_scores_an_endpoint_next_to_tools_and_embedded(llm_endpoint, solsentry, tmp_path):
    dataset = load_smartbugs(FIXTURE)
    report = audit(dataset.audit_root, AuditOptions(tools=("slither",), review="none"))
    (tmp_path / "r.json").write_text(report.to_json())
    # the scripted model finds both uint8 overflows of counter.sol, which no tool reports
    server = llm_endpoint(json.dumps({"verdicts": [], "summary": "s", "findings": [
        {"title": "overflow", "category": "arithmetic", "file": "arithmetic/counter.sol", "line": n, "reason": "wraps"}
        for n in (8, 13)]}))
    proc = solsentry("finetune", "eval", "--review", "llm", "--model", server.url, "--dataset", str(FIXTURE),
                     "--report", str(tmp_path / "r.json"), "--out", str(tmp_path / "scores.json"))
    assert proc.returncode == 0, proc.stderr
    assert "tools+llm recall" in proc.stdout and "tools+embedded recall" in proc.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    arith = {name: s["scopes"][0]["tools"]["merged"]["categories"]["arithmetic"]["found"] for name, s in scores.items()}
    assert arith["tools+llm"] == arith["tools"] + 2
