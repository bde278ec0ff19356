"""The SWC registry's test cases (SmartContractSecurity/SWC-registry, test_cases/) as a labelled dataset.

Layout: `test_cases/solidity/<weakness>/<case>/<case>.sol` with `<case>.yaml` beside it:

    issues:
    - id: SWC-107
      count: 1
      locations:
      - bytecode_offsets: {...}
        line_numbers: {simple_dao.sol: [17, 18]}

Each location with line numbers is one `Label` (category `swc_category(id)`, its SWC id kept). A
`*_fixed` variant lists no locations: a file with zero labels, so findings there are false positives.
A few cases hold a second source the case imports (ECDSA.sol, base.sol); it is a labelled file too,
with the labels the case's YAML gives it. Code-quality ids (pragma, visibility, unused variables,
...) are not weaknesses the evaluation scores: they are counted in `skipped`, not kept.

The directory to audit is `test_cases/solidity`, so a report's paths read `<weakness>/<case>/<file>.sol`;
labelled paths are relative to the dataset root (`test_cases/solidity/...`) and resolve from either.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from auditor.evaluation.labelled import DatasetError, Label, LabelledDataset, LabelledFile, label_lines, source_length
from auditor.findings import Category
from auditor.swc import normalize_swc, swc_category

SOURCES = ("test_cases", "solidity")
FIXED_SUBSET = "fixed"
VULNERABLE_SUBSET = "vulnerable"
# The registry names a repaired variant <case>_fixed, or <case>_fixed_<n> when there are several.
_FIXED = re.compile(r"_fixed(?:_\d+)?$")


def dataset_root(directory: Path) -> Path:
    """The checkout's root: `directory` itself, or the root above a test_cases/ or test_cases/solidity/
    given instead (the latter is the directory one audits, so it is an easy one to pass)."""
    if not directory.is_dir():
        raise DatasetError(f"{directory} is not a directory (expected an SWC registry checkout)")
    if directory.joinpath(*SOURCES).is_dir():
        return directory
    here = directory.resolve()
    for root, below in ((here.parent, SOURCES[:1]), (here.parent.parent, SOURCES)):
        if here.parts[-len(below):] == below and root.joinpath(*SOURCES).is_dir():
            return root
    raise DatasetError(f"{directory} is not an SWC registry checkout: it has no {'/'.join(SOURCES)}/ directory")


def load_swc_registry(directory: Path | str) -> LabelledDataset:
    """Every source of the registry's test cases, labelled from the cases' YAML files.

    Subsets: "fixed" (the `*_fixed` variants' sources) and "vulnerable" (the other cases' sources
    with at least one scored label); the imported helper sources are in neither.
    """
    root = dataset_root(Path(directory))
    sources = root.joinpath(*SOURCES)
    stray = sorted(p.relative_to(sources).as_posix() for p in sources.rglob("*.sol")
                   if len(p.relative_to(sources).parts) != 3)
    if stray:
        raise DatasetError(f"{sources}: sources outside the <weakness>/<case>/ layout: {', '.join(stray[:5])}")
    files: list[LabelledFile] = []
    skipped: Counter[str] = Counter()
    unplaced = 0
    fixed, vulnerable = set(), set()
    for case in sorted(d for d in sources.glob("*/*") if d.is_dir()):
        case_files, case_skipped, case_unplaced = _case(root, case)
        if not case_files:
            continue  # a directory with no sources at all (e.g. only compiler output) is no case
        files += case_files
        skipped += case_skipped
        unplaced += case_unplaced
        main = next(f for f in case_files if f.path.endswith(f"/{case.name}/{case.name}.sol"))
        if _FIXED.search(case.name):
            fixed.add(main.path)
        elif main.labels:
            vulnerable.add(main.path)
    if not files:
        raise DatasetError(f"{sources} holds no test cases")
    notes = []
    if skipped:
        notes.append(f"{sum(skipped.values())} code-quality labels not scored: "
                     + ", ".join(f"{swc} {n}" for swc, n in sorted(skipped.items())))
    if unplaced:
        notes.append(f"{unplaced} locations without line numbers (bytecode offsets only) not labelled")
    return LabelledDataset(name="swc-registry", root=root, audit_root=sources, files=files,
                           subsets={FIXED_SUBSET: frozenset(fixed), VULNERABLE_SUBSET: frozenset(vulnerable)},
                           skipped=dict(sorted(skipped.items())), notes=notes)


def _case(root: Path, case: Path) -> tuple[list[LabelledFile], Counter[str], int]:
    """One case directory: (its labelled files, its skipped labels by SWC id, locations with no lines)."""
    names = sorted(p.name for p in case.glob("*.sol") if p.is_file())
    if not names:
        return [], Counter(), 0
    rel = case.relative_to(root).as_posix()
    if f"{case.name}.sol" not in names:
        raise DatasetError(f"{rel}: no {case.name}.sol (a case is <case>/<case>.sol with <case>.yaml)")
    spec = case / f"{case.name}.yaml"
    if not spec.is_file():
        raise DatasetError(f"{rel}: {case.name}.sol has no {case.name}.yaml beside it")
    try:
        doc = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read {spec}: {exc}") from exc
    where = spec.relative_to(root).as_posix()
    if not isinstance(doc, dict) or not isinstance(doc.get("issues", []), list | None):
        raise DatasetError(f"{where}: expected a mapping with an 'issues' list")
    labels: dict[str, list[Label]] = {name: [] for name in names}
    lengths: dict[str, int] = {}
    skipped: Counter[str] = Counter()
    unplaced = 0
    for i, issue in enumerate(doc.get("issues") or []):
        at = f"{where}, issue {i + 1}"
        if not isinstance(issue, dict):
            raise DatasetError(f"{at}: expected a mapping with 'id' and 'locations', got {issue!r}")
        swc = normalize_swc(issue["id"]) if isinstance(issue.get("id"), str | int) else None
        if swc is None:
            raise DatasetError(f"{at}: {issue.get('id')!r} is not an SWC registry id (SWC-100 ... SWC-136)")
        locations = issue.get("locations") or []
        count = issue.get("count", len(locations))
        if not isinstance(locations, list) or isinstance(count, bool) or not isinstance(count, int):
            raise DatasetError(f"{at}: expected a 'locations' list and an integer 'count'")
        if count != len(locations):
            raise DatasetError(f"{at}: count {count} but {len(locations)} locations")
        category = swc_category(swc)
        for j, loc in enumerate(locations):
            numbers = loc.get("line_numbers") if isinstance(loc, dict) else None
            if not isinstance(loc, dict) or not isinstance(numbers, dict | None):
                raise DatasetError(f"{at}, location {j + 1}: expected a mapping with 'line_numbers': "
                                   f"{{FILE.sol: [lines]}}, got {loc!r}")
            if not numbers:
                unplaced += 1
                continue
            for name, lines in numbers.items():
                if name not in labels:
                    raise DatasetError(f"{at}, location {j + 1}: line_numbers name {name!r}, which is no source "
                                       f"of this case ({', '.join(names)})")
                if name not in lengths:
                    lengths[name] = source_length(case / name)
                checked = label_lines(lines, f"{at}, location {j + 1}, {name}", lengths[name])
                if category is Category.CODE_QUALITY:
                    skipped[swc] += 1
                else:
                    labels[name].append(Label(category, checked, swc))
    files = [LabelledFile(path=f"{rel}/{name}", labels=tuple(found)) for name, found in labels.items()]
    return files, skipped, unplaced
