"""Evaluation of the auditor against labelled datasets (SmartBugs curated, the SWC registry's test
cases, a labels file of one's own)."""

from auditor.evaluation.dataset import (
    LOADERS,
    DatasetError,
    Label,
    LabelledDataset,
    LabelledFile,
    icse_subset,
    load_dataset,
    load_label_file,
    load_smartbugs,
    load_swc_registry,
)
from auditor.evaluation.rendering import to_json, to_markdown
from auditor.evaluation.results import MERGED, Counts, EvalScores, ScopeScores, SwcScores, ToolScores
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
    "SwcScores",
    "ToolScores",
    "icse_subset",
    "load_dataset",
    "load_label_file",
    "load_smartbugs",
    "load_swc_registry",
    "score",
    "to_json",
    "to_markdown",
]
