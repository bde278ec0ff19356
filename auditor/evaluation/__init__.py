"""Evaluation of the auditor against labelled datasets (SmartBugs curated, ...)."""

from auditor.evaluation.dataset import (
    LOADERS,
    DatasetError,
    Label,
    LabelledDataset,
    LabelledFile,
    icse_subset,
    load_dataset,
    load_smartbugs,
)
from auditor.evaluation.rendering import to_json, to_markdown
from auditor.evaluation.results import MERGED, Counts, EvalScores, ScopeScores, ToolScores
from auditor.evaluation.scoring import score

__all__ = [
    "LOADERS",
    "MERGED",
    "Counts",
    "DatasetError",
    "EvalScores",
    "Label",
    "LabelledDataset",
    "LabelledFile",
    "ScopeScores",
    "ToolScores",
    "icse_subset",
    "load_dataset",
    "load_smartbugs",
    "score",
    "to_json",
    "to_markdown",
]
