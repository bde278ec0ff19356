"""Typed errors of the finetune package: one base, so the CLI can turn them into messages."""


class FinetuneError(Exception):
    """Base of every error finetune raises on purpose (bad data, bad recipe, missing model)."""


class RecipeError(FinetuneError):
    """A training recipe (YAML) is missing, malformed or names unknown settings."""
