"""LoRA fine-tuning of the review model (both heads at once) on CPU or GPU.

`train` is linear: split by contract, build the network, loop over epochs of mixed batches
(function batches for the detection head, finding batches for the triage head), validate after
each epoch, stop early when the validation loss stops falling, keep the best weights, write the
run directory (model, metrics.json, TensorBoard log, learning-curve plot).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from auditor.review.texts import CATEGORIES
from finetune.data import FindingExample, FunctionExample, split_groups
from finetune.errors import FinetuneError
from finetune.recipe import ReviewRecipe

Log = Callable[[str], None]


@dataclass
class History:
    steps: list[tuple[int, float]] = field(default_factory=list)               # (step, train loss)
    epochs: list[dict] = field(default_factory=list)                          # per-epoch metrics
    best_epoch: int = 0
    stopped_early: bool = False


def _dedupe(funcs: list[FunctionExample]) -> list[FunctionExample]:
    """Identical normalized functions (copied SafeMath, ERC20 boilerplate) become one example with
    the union of their labels: duplicates would weigh boilerplate many times over."""
    merged: dict[str, set[str]] = {}
    first: dict[str, FunctionExample] = {}
    for f in funcs:
        merged.setdefault(f.text, set()).update(f.labels)
        first.setdefault(f.text, f)
    return [FunctionExample(**{**asdict(first[t]), "labels": tuple(sorted(labels))}) for t, labels in merged.items()]


def _targets(funcs: list[FunctionExample]):
    import torch

    y = torch.zeros(len(funcs), len(CATEGORIES))
    for i, f in enumerate(funcs):
        for c in f.labels:
            y[i, CATEGORIES.index(c)] = 1.0
    return y


def train(funcs: list[FunctionExample], findings: list[FindingExample], recipe: ReviewRecipe, run_dir: Path,
          log: Log = print) -> tuple[object, History]:
    """Train on every group not held out for validation; returns (Loaded model, history)."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from auditor.review.net import build, save

    if not funcs:
        raise FinetuneError("no function examples to train on")
    random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    train_groups, val_groups = split_groups([f.group for f in funcs], recipe.validation_fraction, recipe.seed)
    tr_funcs = _dedupe([f for f in funcs if f.group in train_groups])
    va_funcs = [f for f in funcs if f.group in val_groups]
    tr_find = [f for f in findings if f.group in train_groups]
    va_find = [f for f in findings if f.group in val_groups]
    log(f"train: {len(tr_funcs)} functions, {len(tr_find)} findings from {len(train_groups)} files; "
        f"validation: {len(va_funcs)} functions, {len(va_find)} findings from {len(val_groups)} files")

    loaded = build(recipe.lora, len(CATEGORIES), recipe.seed)
    net, tok = loaded.net, loaded.tokenizer
    layers = net.bert.config.num_hidden_layers
    split = layers - int(recipe.lora.get("top_layers", layers))
    t0 = time.monotonic()
    ml = recipe.max_length
    f_tr = Features(net, tok, [f.text for f in tr_funcs], ml["function"], split)
    f_va = Features(net, tok, [f.text for f in va_funcs], ml["function"], split)
    g_tr = Features(net, tok, [(f.meta, f.context) for f in tr_find], ml["triage"], split)
    g_va = Features(net, tok, [(f.meta, f.context) for f in va_find], ml["triage"], split)
    log(f"frozen layers 1-{split} encoded once in {time.monotonic() - t0:.1f} s; training layers {split + 1}-{layers}")
    y_tr = _targets(tr_funcs)
    pos = y_tr.sum(0)
    detect_pw = ((len(tr_funcs) - pos) / pos.clamp(min=1)).clamp(1.0, recipe.positive_weight_cap)
    n_true = sum(f.label for f in tr_find)
    triage_pw = torch.tensor(min(recipe.positive_weight_cap, max(1.0, (len(tr_find) - n_true) / max(1, n_true))))
    detect_loss = torch.nn.BCEWithLogitsLoss(pos_weight=detect_pw)
    triage_loss = torch.nn.BCEWithLogitsLoss(pos_weight=triage_pw)
    z_tr = torch.tensor([float(f.label) for f in tr_find])
    val_parts = {"detect": (f_va, _targets(va_funcs), detect_loss),
                 "triage": (g_va, torch.tensor([float(f.label) for f in va_find]), triage_loss)}

    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    bs = recipe.batch_size
    per_epoch = math.ceil(len(tr_funcs) / bs) + math.ceil(len(tr_find) / bs)
    total = per_epoch * recipe.epochs if recipe.max_steps is None else min(recipe.max_steps, per_epoch * recipe.epochs)
    warmup = max(1, int(total * recipe.warmup_fraction))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))

    run_dir.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(run_dir / "tensorboard"))
    history = History()
    best_loss, best_state, bad_epochs, step = math.inf, None, 0, 0
    rng = random.Random(recipe.seed)
    started = time.monotonic()
    for epoch in range(1, recipe.epochs + 1):
        net.train()
        jobs = [("detect", idx) for idx in _chunks(list(range(len(tr_funcs))), bs, rng)]
        jobs += [("triage", idx) for idx in _chunks(list(range(len(tr_find))), bs, rng)]
        rng.shuffle(jobs)
        running = []
        for head, idx in jobs:
            if recipe.max_steps is not None and step >= recipe.max_steps:
                break
            loss = (_batch_loss(net, head, idx, f_tr, y_tr, detect_loss) if head == "detect"
                    else _batch_loss(net, head, idx, g_tr, z_tr, triage_loss))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            running.append(loss.item())
            history.steps.append((step, loss.item()))
            writer.add_scalar(f"train/loss_{head}", loss.item(), step)
        val = evaluate_loss(net, val_parts)
        metrics = {"epoch": epoch, "step": step, "train_loss": sum(running) / max(1, len(running)), **val,
                   "elapsed_s": round(time.monotonic() - started, 1)}
        history.epochs.append(metrics)
        for k, v in metrics.items():
            if k not in ("epoch", "step") and v is not None:
                writer.add_scalar(f"epoch/{k}", v, epoch)
        log(f"epoch {epoch}: train loss {metrics['train_loss']:.4f}, validation loss "
            f"{_fmt(val['val_loss'])} ({metrics['elapsed_s']} s)")
        current = val["val_loss"] if val["val_loss"] is not None else metrics["train_loss"]
        if current < best_loss - 1e-4:
            best_loss, bad_epochs, history.best_epoch = current, 0, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()
                          if any(k.endswith(s) for s in ("lora_A.default.weight", "lora_B.default.weight"))
                          or k.startswith(("triage.", "detect."))}
        else:
            bad_epochs += 1
            if bad_epochs >= recipe.patience:
                history.stopped_early = True
                log(f"early stop: no lower validation loss for {recipe.patience} epochs (best: epoch "
                    f"{history.best_epoch})")
                break
        if recipe.max_steps is not None and step >= recipe.max_steps:
            break
    writer.close()
    if best_state is not None:
        net.load_state_dict(best_state, strict=False)
    net.eval()
    config = {"name": recipe.name, "categories": list(CATEGORIES), "max_length": dict(recipe.max_length),
              "triage_facts": True,    # finetune.data writes the code facts into the triage text
              "thresholds": dict(recipe.thresholds), "recipe": asdict(recipe), "best_epoch": history.best_epoch,
              "train_files": len(train_groups)}
    loaded.config = config
    save(loaded, run_dir / "model", config)
    (run_dir / "metrics.json").write_text(json.dumps({"epochs": history.epochs, "best_epoch": history.best_epoch,
                                                      "stopped_early": history.stopped_early}, indent=2) + "\n")
    plot_curves(history, run_dir / "learning-curves.png")
    return loaded, history


def _chunks(items: list[int], size: int, rng: random.Random) -> list[list[int]]:
    rng.shuffle(items)
    return [items[i:i + size] for i in range(0, len(items), size)]


class Features:
    """The frozen lower layers' output for each text, computed once: training then runs only the
    LoRA-adapted top layers per step (the lower layers have no adapters, so their output never
    changes). Texts are (first, second) pairs for findings, plain strings for functions."""

    def __init__(self, net, tok, texts: list, max_length: int, split: int, batch_size: int = 64) -> None:
        import torch

        from auditor.review.net import batches

        self.split = split
        self.hidden: list = []
        net.eval()
        with torch.no_grad():
            for ids, mask in batches(tok, texts, max_length, batch_size):
                h = net.lower(ids, mask, split)
                for row, n in zip(h, mask.sum(1).tolist(), strict=True):
                    self.hidden.append(row[:n].clone())

    def batch(self, idx: list[int]):
        import torch

        rows = [self.hidden[i] for i in idx]
        width = max(r.shape[0] for r in rows)
        h = torch.zeros(len(rows), width, rows[0].shape[1])
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for j, r in enumerate(rows):
            h[j, :r.shape[0]] = r
            mask[j, :r.shape[0]] = 1
        return h, mask


def _batch_loss(net, head: str, idx: list[int], feats: Features, targets, loss_fn):
    h, mask = feats.batch(idx)
    pooled = net.upper_pooled(h, mask, feats.split)
    if head == "detect":
        return loss_fn(net.detect(pooled), targets[idx])
    return loss_fn(net.triage(pooled).squeeze(-1), targets[idx])


def evaluate_loss(net, parts: dict) -> dict:
    """Mean validation loss per head, and their sum (None where there is nothing to validate on).
    `parts`: head -> (Features, targets, loss function)."""
    import torch

    net.eval()
    out: dict = {"val_loss_detect": None, "val_loss_triage": None}
    with torch.no_grad():
        for head, (feats, targets, loss_fn) in parts.items():
            n = len(feats.hidden)
            if not n:
                continue
            total = 0.0
            for i in range(0, n, 64):
                idx = list(range(i, min(i + 64, n)))
                total += _batch_loss(net, head, idx, feats, targets, loss_fn).item() * len(idx)
            out[f"val_loss_{head}"] = total / n
    parts_present = [v for v in out.values() if v is not None]
    out["val_loss"] = sum(parts_present) if parts_present else None
    return out


def plot_curves(history: History, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if history.steps:
        xs, ys = zip(*history.steps, strict=True)
        window = max(1, len(ys) // 50)
        smooth = [sum(ys[max(0, i - window + 1):i + 1]) / len(ys[max(0, i - window + 1):i + 1])
                  for i in range(len(ys))]
        ax.plot(xs, smooth, label="train loss (smoothed)", color="#888")
    for key, colour in (("val_loss", "#c0392b"), ("val_loss_detect", "#2980b9"), ("val_loss_triage", "#27ae60")):
        pts = [(e["step"], e[key]) for e in history.epochs if e.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=key.replace("_", " "), color=colour)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("review model: learning curves")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"
