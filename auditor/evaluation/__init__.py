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
from auditor.evaluation.scoring import MERGED, Counts, EvalScores, ScopeScores, ToolScores, score, to_json, to_markdown

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
