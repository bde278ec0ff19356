"""Training examples for the review model, from a labelled dataset and the tools' report on it.

* Function examples: each function's code (comments stripped, names neutral), labelled with the
  categories of the labelled lines inside it (several labels: multi-label; none: a negative).
* Finding examples: each tool finding of a scored category with its code context, labelled true
  when it matches a labelled vulnerability under the evaluation protocol (same category, a
  location covering the line or starting within 2 lines of it), false otherwise.

Every example carries its `group` (the labelled file): splits are by contract file, never by
function, so no test function has a sibling in training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from auditor.evaluation.dataset import LabelledDataset
from auditor.evaluation.scoring import location_hits
from auditor.report.model import Report
from auditor.review.evidence import Facts, words
from auditor.review.source import functions, strip_comments
from auditor.review.texts import CATEGORIES, finding_context, finding_meta, function_text
from finetune.errors import FinetuneError

FUNCTIONS_FILE = "functions.jsonl"
FINDINGS_FILE = "findings.jsonl"


@dataclass(frozen=True)
class FunctionExample:
    group: str
    name: str
    start_line: int
    end_line: int
    text: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class FindingExample:
    group: str
    finding_id: str
    category: str
    meta: str
    context: str
    label: bool


def function_examples(dataset: LabelledDataset) -> list[FunctionExample]:
    out = []
    for lf in dataset.files:
        source = (dataset.root / lf.path).read_text(encoding="utf-8", errors="replace")
        for func in functions(source):
            labels = sorted({c.dasp.value for c, line in lf.pairs()
                             if func.covers(line) and c.dasp.value in CATEGORIES})
            out.append(FunctionExample(lf.path, func.name, func.start_line, func.end_line, function_text(func),
                                       tuple(labels)))
    return out


def finding_examples(dataset: LabelledDataset, report: Report) -> list[FindingExample]:
    out = []
    parsed: dict[str, tuple] = {}
    facts = Facts(_SourcesOf(dataset))
    for f in report.findings:
        if f.origin != "tool" or f.category.dasp.value not in CATEGORIES:
            continue
        path = dataset.resolve(f.primary.file)
        lf = dataset.file(f.primary.file)
        if path is None or lf is None:
            continue
        if path not in parsed:
            source = (dataset.root / path).read_text(encoding="utf-8", errors="replace")
            parsed[path] = (strip_comments(source).splitlines(), functions(source))
        lines, funcs = parsed[path]
        real = any(label.category.dasp is f.category.dasp and any(location_hits(loc, n) for loc in f.locations
                                                       if dataset.resolve(loc.file) == path for n in label.lines)
                   for label in lf.labels)
        # The facts are looked up by the report's path, as the audit's reviewer looks them up.
        meta = finding_meta(f, words(*facts.for_finding(f, f.category.dasp.value)))
        out.append(FindingExample(path, f.id, f.category.dasp.value, meta, finding_context(f, lines, funcs), real))
    return out


class _SourcesOf(Mapping):
    """Report path -> source text of the labelled file it names, read when first asked for."""

    def __init__(self, dataset: LabelledDataset) -> None:
        self.dataset = dataset
        self._texts: dict[str, str] = {}

    def __getitem__(self, path: str) -> str:
        if path not in self._texts:
            resolved = self.dataset.resolve(path)
            if resolved is None:
                raise KeyError(path)
            self._texts[path] = (self.dataset.root / resolved).read_text(encoding="utf-8", errors="replace")
        return self._texts[path]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.dataset.resolve(path) is not None

    def __iter__(self):
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def write(directory: Path, funcs: list[FunctionExample], findings: list[FindingExample]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in ((FUNCTIONS_FILE, funcs), (FINDINGS_FILE, findings)):
        with open(directory / name, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(asdict(row), sort_keys=True) + "\n")


def read(directory: Path) -> tuple[list[FunctionExample], list[FindingExample]]:
    missing = [n for n in (FUNCTIONS_FILE, FINDINGS_FILE) if not (directory / n).is_file()]
    if missing:
        raise FinetuneError(f"{directory} holds no training data ({', '.join(missing)} missing): "
                            "build it with `solsentry finetune data`")
    try:
        funcs = [FunctionExample(**{**json.loads(line), "labels": tuple(json.loads(line)["labels"])})
                 for line in (directory / FUNCTIONS_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
        findings = [FindingExample(**json.loads(line))
                    for line in (directory / FINDINGS_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (ValueError, TypeError) as exc:
        raise FinetuneError(f"{directory}: malformed training data ({exc})") from None
    return funcs, findings


def group_folds(groups: list[str], k: int, seed: int) -> list[set[str]]:
    """`k` disjoint sets of groups (contract files), shuffled with `seed`, sizes within one."""
    unique = sorted(set(groups))
    if k < 2 or k > len(unique):
        raise FinetuneError(f"cannot make {k} folds from {len(unique)} contract files")
    random.Random(seed).shuffle(unique)
    return [set(unique[i::k]) for i in range(k)]


def split_groups(groups: list[str], fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """(train, validation) groups; the validation share is `fraction` of the files, at least one."""
    unique = sorted(set(groups))
    random.Random(seed).shuffle(unique)
    n = max(1, round(len(unique) * fraction)) if len(unique) > 1 else 0
    return set(unique[n:]), set(unique[:n])
