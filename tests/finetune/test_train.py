"""A short real LoRA training run on CPU (the real base weights, a few steps, tiny data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.evaluation.dataset import load_smartbugs
from auditor.review.encoder import EncoderReviewer
from auditor.review.texts import CATEGORIES
from finetune.data import FindingExample, function_examples
from finetune.errors import RecipeError
from finetune.recipe import ReviewRecipe, load_recipe
from finetune.review import train

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "labelled"


def _examples():
    funcs = function_examples(load_smartbugs(FIXTURE))
    finds = [FindingExample(f.group, f"id{i}", "reentrancy", "reentrancy SWC-107 reentrancy-eth high",
                            f.text.replace("{", "{ __flag__", 1), bool(f.labels)) for i, f in enumerate(funcs)]
    return funcs, finds


@pytest.mark.slow
def test_training_lowers_the_loss_and_writes_the_run(tmp_path):
    funcs, finds = _examples()
    recipe = ReviewRecipe(name="test", epochs=40, patience=40, batch_size=4, learning_rate=3e-3,
                          validation_fraction=0.34, max_steps=60,
                          lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["query", "value", "dense"],
                                "top_layers": 2})
    _, history = train(funcs, finds, recipe, tmp_path, log=lambda _: None)
    losses = [loss for _, loss in history.steps]
    assert len(losses) == 60
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.7 * first, (first, last)
    for name in ("metrics.json", "learning-curves.png", "model/adapter_model.safetensors", "model/heads.safetensors",
                 "model/review.json"):
        assert (tmp_path / name).is_file(), name
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"]
    # the trained directory loads through the same reviewer the audit uses
    reviewer = EncoderReviewer(model_dir=tmp_path / "model")
    scores = reviewer.function_scores([])
    assert scores == [] and reviewer.config["categories"] == list(CATEGORIES)


def test_cached_lower_layers_equal_the_full_forward():
    """Training runs the frozen lower layers once per text; that must equal the inference path."""
    import torch

    from auditor.review.net import build

    loaded = build({"r": 4, "top_layers": 2}, len(CATEGORIES), seed=1)
    net, tok = loaded.net.eval(), loaded.tokenizer
    enc = tok(["function f1() { v1 += msg.value; }", "function f1(uint v1) { require(v1 > 0); v2 = v1 * 2; }"],
              padding=True, return_tensors="pt")
    with torch.no_grad():
        full = net.pooled(enc["input_ids"], enc["attention_mask"])
        split = net.upper_pooled(net.lower(enc["input_ids"], enc["attention_mask"], 4), enc["attention_mask"], 4)
    assert torch.allclose(full, split, atol=1e-5)


def test_recipes_are_checked(tmp_path):
    shipped = load_recipe(Path(__file__).resolve().parents[2] / "finetune" / "recipes" / "review-minilm.yaml")
    assert shipped.lora["top_layers"] >= 1 and shipped.epochs >= 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\nlearning_rat: 0.1\n")
    with pytest.raises(RecipeError, match="unknown setting"):
        load_recipe(bad)
    bad.write_text("epochs: [1\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="cannot read"):
        load_recipe(tmp_path / "none.yaml")
