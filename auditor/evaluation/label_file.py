"""The "labels" dataset format: a directory with a `labels.json` (or `labels.yaml`) of one's own.

    {"name": "my-contracts",                    # optional; default: the directory's name
     "audit_root": "contracts",                 # optional; the directory to audit; default "."
     "files": [{"path": "contracts/Vault.sol",  # relative to the directory holding labels.json
                "labels": [{"category": "reentrancy", "swc": "SWC-107", "lines": [42, 43]}]}],
     "subsets": {"core": ["contracts/Vault.sol"]}}   # optional: named scopes to score apart

A label names its class by `category` (a Category value), by `swc` (an SWC registry id, scored
as `auditor.swc.SWC_CATEGORIES` says) or both (then `category` is the class it is scored as and
`swc` feeds the per-SWC breakdown). Checked strictly, since a typo in a label silently changes
the scores: unknown keys, paths that leave the directory (absolute, `..`, a link out) or lie
outside the audit root, missing files and lines past a file's end are errors. `description` is
allowed on the dataset, a file and a label, for people; it is not read. Code-quality labels
are counted in `skipped`, as nothing scores them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path, PurePosixPath

import yaml

from auditor.evaluation.labelled import DatasetError, Label, LabelledDataset, LabelledFile, label_lines, source_length
from auditor.findings import Category
from auditor.swc import normalize_swc, swc_category

LABEL_FILES = ("labels.json", "labels.yaml", "labels.yml")
_TOP_KEYS = {"name", "audit_root", "files", "subsets", "description"}
_FILE_KEYS = {"path", "labels", "description"}
_LABEL_KEYS = {"category", "swc", "lines", "description"}


def load_label_file(directory: Path | str) -> LabelledDataset:
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory (expected one holding {' or '.join(LABEL_FILES[:2])})")
    present = [root / n for n in LABEL_FILES if (root / n).is_file()]
    if len(present) != 1:
        found = ", ".join(p.name for p in present) or "none of them"
        raise DatasetError(f"{root}: expected exactly one of {', '.join(LABEL_FILES)} (found {found})")
    source = present[0]
    try:
        text = source.read_text(encoding="utf-8")
        doc = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read {source}: {exc}") from exc
    where = source.name
    _keys(doc, _TOP_KEYS, where, required=("files",))
    name = doc.get("name", root.resolve().name)
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(f"{where}: 'name' must be a non-empty string")
    audit_rel = _relative(doc.get("audit_root", "."), f"{where}: audit_root", allow_root=True)
    audit_root = _inside(root, audit_rel, f"{where}: audit_root")
    if not audit_root.is_dir():
        raise DatasetError(f"{where}: audit_root {'/'.join(audit_rel) or '.'} is not a directory")
    entries = doc["files"]
    if not isinstance(entries, list) or not entries:
        raise DatasetError(f"{where}: 'files' must be a non-empty list")
    skipped: Counter[str] = Counter()
    files = [_file(root, audit_rel, entry, f"{where}: files[{i}]", skipped) for i, entry in enumerate(entries)]
    subsets = _subsets(doc.get("subsets", {}), f"{where}: subsets")
    notes = [f"{sum(skipped.values())} code-quality labels not scored"] if skipped else []
    return LabelledDataset(name=name, root=root, audit_root=audit_root, files=files, subsets=subsets,
                           skipped=dict(sorted(skipped.items())), notes=notes)


def _keys(value: object, allowed: set[str], where: str, required: tuple[str, ...] = ()) -> None:
    if not isinstance(value, dict):
        raise DatasetError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise DatasetError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    missing = [k for k in required if k not in value]
    if missing:
        raise DatasetError(f"{where}: missing {', '.join(missing)}")


def _relative(value: object, where: str, allow_root: bool = False) -> tuple[str, ...]:
    """A '/'-separated path that stays inside the dataset directory, as components."""
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}: expected a relative path, got {value!r}")
    text = value.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"[A-Za-z]:", text):
        raise DatasetError(f"{where}: {value!r} is absolute; paths are relative to the dataset directory")
    parts = tuple(p for p in PurePosixPath(text).parts if p != ".")
    if ".." in parts:
        raise DatasetError(f"{where}: {value!r} leaves the dataset directory ('..')")
    if not parts and not allow_root:
        raise DatasetError(f"{where}: {value!r} names no file")
    return parts


def _inside(root: Path, parts: tuple[str, ...], where: str) -> Path:
    """root/parts, refused when a link takes it out of root."""
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise DatasetError(f"{where}: {'/'.join(parts)} leads outside the dataset directory (a link)")
    return path


def _file(root: Path, audit_rel: tuple[str, ...], entry: object, where: str, skipped: Counter[str]) -> LabelledFile:
    _keys(entry, _FILE_KEYS, where, required=("path",))
    parts = _relative(entry["path"], f"{where}.path")
    path = "/".join(parts)
    where = f"{where} ({path})"
    if parts[:len(audit_rel)] != audit_rel:
        raise DatasetError(f"{where}: not inside audit_root {'/'.join(audit_rel)}, so no audit would report on it")
    full = _inside(root, parts, where)
    if not full.is_file():
        raise DatasetError(f"{where}: no such file")
    length = source_length(full)
    labels = entry.get("labels", [])
    if not isinstance(labels, list):
        raise DatasetError(f"{where}: 'labels' must be a list")
    kept = []
    for j, spec in enumerate(labels):
        label = _label(spec, f"{where}, labels[{j}]", length)
        if label.category is Category.CODE_QUALITY:
            skipped[label.swc or label.category.value] += 1
        else:
            kept.append(label)
    return LabelledFile(path=path, labels=tuple(kept))


def _label(spec: object, where: str, length: int) -> Label:
    _keys(spec, _LABEL_KEYS, where, required=("lines",))
    if "category" not in spec and "swc" not in spec:
        raise DatasetError(f"{where}: name its class with 'category', 'swc' or both")
    swc = None
    if "swc" in spec:
        swc = normalize_swc(spec["swc"]) if isinstance(spec["swc"], str | int) else None
        if swc is None:
            raise DatasetError(f"{where}: {spec['swc']!r} is not an SWC registry id (SWC-100 ... SWC-136)")
    if "category" in spec:
        try:
            category = Category(spec["category"])
        except ValueError:
            valid = ", ".join(c.value for c in Category)
            raise DatasetError(f"{where}: unknown category {spec['category']!r} (valid: {valid})") from None
    else:
        category = swc_category(swc)
    return Label(category, label_lines(spec["lines"], f"{where}.lines", length), swc)


def _subsets(value: object, where: str) -> dict[str, frozenset[str]]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, list) for k, v in value.items()):
        raise DatasetError(f"{where}: expected a mapping of name -> list of file paths")
    # The dataset checks that each names labelled files; here only that each path is one.
    return {k: frozenset("/".join(_relative(p, f"{where}.{k}")) for p in v) for k, v in value.items()}
