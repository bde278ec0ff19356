"""Training recipes: hyperparameters live in YAML, read into one checked dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from finetune.errors import RecipeError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass
class ReviewRecipe:
    name: str = "solsentry-review-minilm"
    seed: int = 17
    lora: dict = field(default_factory=lambda: {"r": 8, "alpha": 16, "dropout": 0.1,
                                                "target_modules": ["query", "value"]})
    max_length: dict = field(default_factory=lambda: {"function": 128, "triage": 160})
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    epochs: int = 10
    patience: int = 2
    validation_fraction: float = 0.15
    positive_weight_cap: float = 8.0
    thresholds: dict = field(default_factory=lambda: {"triage": 0.5, "detect": 0.5})
    max_steps: int | None = None          # stop after this many optimizer steps (tests, smoke runs)


def load_recipe(path: Path | str) -> ReviewRecipe:
    return _load(path, ReviewRecipe)


def _load(path: Path | str, cls):
    import yaml

    path = Path(path)
    if not path.is_file() and (RECIPES_DIR / path.name).is_file():
        path = RECIPES_DIR / path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path} must be a mapping of settings")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RecipeError(f"recipe {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    recipe = cls(**data)
    for name in ("batch_size", "per_device_batch_size", "gradient_accumulation_steps"):
        value = getattr(recipe, name, 1)
        if not isinstance(value, int) or value < 1:
            raise RecipeError(f"recipe {path}: {name} must be a positive integer")
    if not isinstance(recipe.epochs, int | float) or recipe.epochs <= 0:
        raise RecipeError(f"recipe {path}: epochs must be positive")
    if not 0 < recipe.validation_fraction < 1:
        raise RecipeError(f"recipe {path}: validation_fraction must be between 0 and 1")
    return recipe


@dataclass
class SFTRecipe:
    """LoRA supervised fine-tuning of a causal LM on the review prompts (`finetune sft`)."""

    name: str = "solsentry-review-llm"
    seed: int = 17
    lora: dict = field(default_factory=lambda: {"r": 16, "alpha": 32, "dropout": 0.05,
                                                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                   "gate_proj", "up_proj", "down_proj"]})
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    lr_scheduler: str = "linear"
    per_device_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    gradient_checkpointing: bool = True
    epochs: float = 3
    max_steps: int = -1
    patience: int = 2
    max_seq_length: int = 8192
    answer_tokens: int = 1024
    validation_fraction: float = 0.15
    eval_generate_limit: int = 20        # held-out prompts answered for finding-level F1
    logging_steps: int = 10
    load_in: str | None = None           # "8bit" | "4bit" (bitsandbytes, GPU)


def load_sft_recipe(path: Path | str) -> SFTRecipe:
    return _load(path, SFTRecipe)
