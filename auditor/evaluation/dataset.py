"""Labelled datasets of vulnerable contracts: what an evaluation scores an audit report against.

Each format has one loader function; `LOADERS` maps a format name to it, so a new format is one
function and one registry entry. The formats: "smartbugs" (SmartBugs-curated, here), "swc" (the
SWC registry's test cases, auditor/evaluation/swc_registry.py) and "labels" (a labels.json or
labels.yaml of one's own, auditor/evaluation/label_file.py); docs/finetuning.md describes them.
The model they build (`LabelledDataset`, `LabelledFile`, `Label`) is in
auditor/evaluation/labelled.py and importable from here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from auditor.evaluation.label_file import load_label_file
from auditor.evaluation.labelled import DatasetError, Label, LabelledDataset, LabelledFile, path_parts
from auditor.evaluation.swc_registry import load_swc_registry
from auditor.findings import Category

__all__ = ["LOADERS", "DatasetError", "Label", "LabelledDataset", "LabelledFile", "icse_subset", "load_dataset",
           "load_label_file", "load_smartbugs", "load_swc_registry"]


# --------------------------------------------------------------------------------------------
# SmartBugs curated (https://github.com/smartbugs/smartbugs-curated)

SMARTBUGS_LABELS = "vulnerabilities.json"
SMARTBUGS_ICSE = "ICSE2020_curated_69.txt"
ICSE_SUBSET = "icse2020"


def load_smartbugs(directory: Path | str) -> LabelledDataset:
    """A SmartBugs-curated checkout: `vulnerabilities.json` at its root, sources under dataset/.

    The ICSE 2020 subset, when its list is present, is in `subsets["icse2020"]`.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory (expected a SmartBugs-curated checkout)")
    labels_file = root / SMARTBUGS_LABELS
    if not labels_file.is_file():
        hint = ""
        if (root.parent / SMARTBUGS_LABELS).is_file():
            hint = f"; did you mean its parent {root.parent}?"
        raise DatasetError(f"{root} is not a SmartBugs-curated checkout: it has no {SMARTBUGS_LABELS}{hint}")
    try:
        entries = json.loads(labels_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read {labels_file}: {exc}") from exc
    if not isinstance(entries, list):
        raise DatasetError(f"{labels_file}: expected a JSON list of labelled files")
    files = [_smartbugs_entry(labels_file, i, e) for i, e in enumerate(entries)]
    dataset = LabelledDataset(name="smartbugs-curated", root=root, audit_root=root / "dataset", files=files)
    if (root / SMARTBUGS_ICSE).is_file():
        dataset.subsets[ICSE_SUBSET] = frozenset(_icse_paths(root / SMARTBUGS_ICSE, dataset))
    return dataset


def _smartbugs_entry(source: Path, index: int, entry: object) -> LabelledFile:
    where = f"{source}, entry {index}"
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise DatasetError(f"{where}: expected an object with a 'path'")
    where = f"{source}, {entry['path']}"
    labels = []
    for vuln in entry.get("vulnerabilities") or []:
        try:
            category = Category(vuln["category"])
            lines = tuple(int(n) for n in vuln["lines"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: bad vulnerability {vuln!r} ({exc})") from exc
        if category is Category.CODE_QUALITY or not lines or min(lines) < 1:
            raise DatasetError(f"{where}: bad vulnerability {vuln!r}")
        labels.append(Label(category, lines))
    path = "/".join(path_parts(entry["path"]))
    return LabelledFile(path=path, labels=tuple(labels), pragma=entry.get("pragma"))


_MOVED = re.compile(r"\[\s*MOVED TO:\s*(?P<to>[^\]\s]+)\s*\]", re.IGNORECASE)
_DECLARED = re.compile(r"with the (\d+) contracts", re.IGNORECASE)


def icse_subset(directory: Path | str) -> set[str]:
    """Paths (as in vulnerabilities.json, "dataset/<category>/<file>.sol") of the ICSE 2020 files."""
    root = Path(directory)
    listing = root / SMARTBUGS_ICSE
    if not listing.is_file():
        raise DatasetError(f"{root} has no {SMARTBUGS_ICSE} (the ICSE 2020 subset list)")
    dataset = load_smartbugs(root)
    return set(dataset.subsets[ICSE_SUBSET])


def _icse_paths(listing: Path, dataset: LabelledDataset) -> set[str]:
    """Parse the list: prose header, then one "./dataset/<cat>/<file>.sol" a line.

    Files moved since the study carry "[MOVED TO: ./<cat>/<file>.sol]" (relative to dataset/);
    the new place wins. A path that still names no labelled file falls back to a unique file
    name match. The count is checked against the one the header declares ("with the 69 contracts").
    """
    text = listing.read_text(encoding="utf-8")
    found: set[str] = set()
    unknown: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        token = line.split(maxsplit=1)[0] if line else ""
        if not token.endswith(".sol"):
            continue  # the prose header
        moved = _MOVED.search(line)
        candidates = [_dataset_relative(dataset, moved["to"])] if moved else []
        path = _first_resolved(dataset, [*candidates, token])
        if path is None:
            unknown.append(line)
        else:
            found.add(path)
    if unknown:
        raise DatasetError(f"{listing}: no labelled file for {', '.join(unknown)}")
    declared = _DECLARED.search(text)
    if declared and int(declared[1]) != len(found):
        raise DatasetError(f"{listing} declares {declared[1]} contracts but lists {len(found)} labelled files")
    return found


def _dataset_relative(dataset: LabelledDataset, path: str) -> str:
    """A "MOVED TO" target is relative to the audited directory (dataset/), not the root."""
    rel = dataset.audit_root.relative_to(dataset.root).as_posix()
    parts = path_parts(path)
    return "/".join(parts) if parts[:1] == (rel,) else "/".join((rel, *parts))


def _first_resolved(dataset: LabelledDataset, candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        parts = path_parts(candidate)
        if "/".join(parts) in dataset._by_path:
            return "/".join(parts)
    for candidate in candidates:
        resolved = dataset.resolve(candidate)
        if resolved is not None:
            return resolved
    return None


# --------------------------------------------------------------------------------------------

Loader = Callable[[Path], LabelledDataset]

LOADERS: dict[str, Loader] = {
    "smartbugs": load_smartbugs,
    "swc": load_swc_registry,
    "labels": load_label_file,
}


def load_dataset(fmt: str, directory: Path | str) -> LabelledDataset:
    try:
        loader = LOADERS[fmt]
    except KeyError:
        raise DatasetError(f"unknown dataset format {fmt!r} (known: {', '.join(sorted(LOADERS))})") from None
    return loader(Path(directory))
