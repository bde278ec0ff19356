"""LoRA supervised fine-tuning of a causal code LM on the review prompts, with the Trainer.

Linear `run`: split by contract, tokenize (loss on the answer only), LoRA via peft, train with
AdamW, weight decay, a linear schedule with warm-up, gradient accumulation and checkpointing
(bf16 on GPU), early stopping on the validation loss, then save the adapter, measure perplexity
and finding-level F1 on the held-out files, and optionally merge the adapter into the weights.
Multi-GPU: the same command under `accelerate launch` (configs in `finetune/accelerate/`).
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable
from pathlib import Path

from auditor.review.llm.answer import Answer, AnswerError, parse
from auditor.review.llm.prompt import render_plain
from finetune.data import split_groups
from finetune.errors import FinetuneError
from finetune.recipe import SFTRecipe
from finetune.sft_data import SFTExample

Log = Callable[[str], None]


def render(tok, messages: list[dict]) -> str:
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return render_plain(messages)


def tokenize(tok, examples: list[SFTExample], max_len: int) -> tuple[list[dict], int]:
    """input_ids / labels per example, the prompt masked out of the loss; over-long ones dropped."""
    rows, dropped = [], 0
    eos = tok.eos_token or ""
    for e in examples:
        prompt = tok(render(tok, e.messages), add_special_tokens=False)["input_ids"]
        answer = tok(e.answer + eos, add_special_tokens=False)["input_ids"]
        if len(prompt) + len(answer) > max_len:
            dropped += 1
            continue
        rows.append({"input_ids": prompt + answer, "attention_mask": [1] * (len(prompt) + len(answer)),
                     "labels": [-100] * len(prompt) + answer})
    return rows, dropped


def finding_f1(expected: list[Answer], predicted: list[Answer | None]) -> dict:
    """Verdicts match by (id, verdict); missed findings by category and a line within 2."""
    tp = n_pred = n_exp = 0
    for exp, pred in zip(expected, predicted, strict=True):
        want_v = {(v.id, v.verdict) for v in exp.verdicts}
        want_f = [(f.category, f.line) for f in exp.findings]
        n_exp += len(want_v) + len(want_f)
        if pred is None:
            continue
        got_v = {(v.id, v.verdict) for v in pred.verdicts}
        n_pred += len(got_v) + len(pred.findings)
        tp += len(want_v & got_v)
        unused = list(want_f)
        for f in pred.findings:
            hit = next((w for w in unused if w[0] == f.category and abs(w[1] - f.line) <= 2), None)
            if hit:
                tp += 1
                unused.remove(hit)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_exp if n_exp else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "answers_valid": sum(a is not None for a in predicted), "answers": len(predicted)}


def run(base_model: str, examples: list[SFTExample], recipe: SFTRecipe, out: Path, resume: bool = False,
        merge: bool = False, log: Log = print) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        EarlyStoppingCallback,
        Trainer,
        TrainingArguments,
    )

    if not examples:
        raise FinetuneError("no instruction examples to train on")
    random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    cuda = torch.cuda.is_available()
    try:
        tok = AutoTokenizer.from_pretrained(base_model)
        kwargs: dict = {"dtype": torch.bfloat16 if cuda else torch.float32}
        if recipe.load_in:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=recipe.load_in == "8bit",
                                                               load_in_4bit=recipe.load_in == "4bit")
        model = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise FinetuneError(f"cannot load the base model {base_model}: {exc}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if recipe.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = recipe.lora
    model = get_peft_model(model, LoraConfig(
        task_type="CAUSAL_LM", r=lora.get("r", 16), lora_alpha=lora.get("alpha", 32),
        lora_dropout=lora.get("dropout", 0.05), target_modules=list(lora.get("target_modules", ["q_proj", "v_proj"]))))
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true" and cuda:
        # FSDP flattens each wrapped layer into one tensor of one dtype: peft keeps adapters in
        # float32 over a bf16 base, so bring them to the base's dtype.
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.to(torch.bfloat16)

    train_groups, val_groups = split_groups([e.group for e in examples], recipe.validation_fraction, recipe.seed)
    train_rows, dropped_t = tokenize(tok, [e for e in examples if e.group in train_groups], recipe.max_seq_length)
    val_examples = [e for e in examples if e.group in val_groups]
    val_rows, dropped_v = tokenize(tok, val_examples, recipe.max_seq_length)
    log(f"train: {len(train_rows)} examples, validation: {len(val_rows)} (held-out files: {len(val_groups)}); "
        f"{dropped_t + dropped_v} longer than {recipe.max_seq_length} tokens dropped")
    if not train_rows:
        raise FinetuneError(f"every training example is longer than max_seq_length={recipe.max_seq_length}")

    per_step = recipe.per_device_batch_size * recipe.gradient_accumulation_steps
    total = recipe.max_steps if recipe.max_steps > 0 else math.ceil(len(train_rows) / per_step * recipe.epochs)
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=recipe.per_device_batch_size,
        per_device_eval_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps, learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay, lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=max(0, int(total * recipe.warmup_ratio)), num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps, optim="adamw_torch", bf16=cuda, use_cpu=not cuda,
        gradient_checkpointing=False,        # enabled on the model above (with input grads for LoRA)
        eval_strategy="epoch" if val_rows else "no", save_strategy="epoch",
        load_best_model_at_end=bool(val_rows), metric_for_best_model="eval_loss", greater_is_better=False,
        save_total_limit=2, logging_steps=recipe.logging_steps, report_to=["tensorboard"],
        seed=recipe.seed, data_seed=recipe.seed, remove_unused_columns=False,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train_rows, eval_dataset=val_rows or None,
                      data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
                      callbacks=[EarlyStoppingCallback(recipe.patience)] if val_rows else [])
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    metrics: dict = {"train_loss": result.training_loss, "steps": result.global_step,
                     "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h]}
    if val_rows:
        ev = trainer.evaluate()
        metrics["eval_loss"] = ev["eval_loss"]
        metrics["perplexity"] = math.exp(min(ev["eval_loss"], 50))
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out / "adapter"))          # gathers shards; writes on the main process only
    if not trainer.is_world_process_zero():
        return metrics
    tok.save_pretrained(str(out / "adapter"))
    log(f"adapter saved to {out / 'adapter'}")
    if val_examples and recipe.eval_generate_limit > 0:
        metrics["finding_f1"] = _heldout_f1(model, tok, val_examples[:recipe.eval_generate_limit], recipe)
    if merge:
        merged = model.merge_and_unload()
        merged.save_pretrained(str(out / "merged"))
        tok.save_pretrained(str(out / "merged"))
        log(f"merged model saved to {out / 'merged'}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _heldout_f1(model, tok, examples: list[SFTExample], recipe: SFTRecipe) -> dict:
    import torch

    model.eval()
    predicted: list[Answer | None] = []
    for e in examples:
        enc = tok(render(tok, e.messages), return_tensors="pt", add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=recipe.answer_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
        try:
            predicted.append(parse(tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)))
        except AnswerError:
            predicted.append(None)
    return finding_f1([Answer.model_validate_json(e.answer) for e in examples], predicted)
