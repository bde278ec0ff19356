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
    known = {f.name: f for f in fields(ReviewRecipe)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RecipeError(f"recipe {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    recipe = ReviewRecipe(**data)
    for name in ("batch_size", "epochs"):
        if not isinstance(getattr(recipe, name), int) or getattr(recipe, name) < 1:
            raise RecipeError(f"recipe {path}: {name} must be a positive integer")
    if not 0 < recipe.validation_fraction < 1:
        raise RecipeError(f"recipe {path}: validation_fraction must be between 0 and 1")
    return recipe
