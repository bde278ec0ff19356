"""The SWC/category tables against the installed Slither and Mythril, and their documentation."""

from __future__ import annotations

import ast
import inspect
import logging
import re
from pathlib import Path

import pytest

from auditor import swc
from auditor.config import PROJECT_ROOT, get_settings
from auditor.findings import Category, Confidence, Severity

DOC = PROJECT_ROOT / "docs" / "swc-mapping.md"
WEAKNESSES = PROJECT_ROOT / "docs" / "weaknesses.md"
C = Category


def _slither_detectors() -> dict[str, type]:
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    classes = [c for _, c in inspect.getmembers(all_detectors, inspect.isclass)
               if issubclass(c, AbstractDetector) and c is not AbstractDetector]
    return {c.ARGUMENT: c for c in classes}


def _mythril_analysis_dir() -> Path:
    env = get_settings().mythril_env
    found = sorted(env.glob("lib/python*/site-packages/mythril/analysis"))
    if not found or not (found[0] / "swc_data.py").is_file():
        pytest.skip(f"no Mythril installation under {env}")
    return found[0]


def _swc_constants(swc_data: Path) -> dict[str, str]:
    """NAME -> '107' for the module-level string constants of mythril/analysis/swc_data.py."""
    consts = {}
    for node in ast.parse(swc_data.read_text()).body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    consts[target.id] = node.value.value
    return consts


def _mythril_titles(swc_data: Path) -> dict[str, str]:
    for node in ast.parse(swc_data.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SWC_TO_TITLE" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("SWC_TO_TITLE not found in swc_data.py")


def _mythril_module_swcs(analysis: Path) -> dict[str, set[str]]:
    """Module file -> SWC numbers it declares: every `swc_id = ...` / `swc_id=...`, names resolved."""
    consts = _swc_constants(analysis / "swc_data.py")
    out: dict[str, set[str]] = {}
    for path in sorted((analysis / "module" / "modules").glob("*.py")):
        exprs = []
        for node in ast.walk(ast.parse(path.read_text())):
            assigned = isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "swc_id" for t in node.targets)
            if assigned or (isinstance(node, ast.keyword) and node.arg == "swc_id"):
                exprs.append(node.value)
        ids = set()
        for expr in exprs:
            for sub in ast.walk(expr):
                if isinstance(sub, ast.Name) and sub.id in consts:
                    ids.add(consts[sub.id])
                elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    ids.update(re.findall(r"\b\d{3}\b", sub.value))
        if ids:
            out[path.name] = ids
    return out


# (a) Slither


def test_slither_table_matches_the_installed_detectors():
    detectors = _slither_detectors()
    assert len(detectors) >= 100
    missing = sorted(set(detectors) - set(swc.SLITHER_DETECTORS))
    assert not missing, f"Slither detectors with no row in SLITHER_DETECTORS: {missing}"
    stale = sorted(set(swc.SLITHER_DETECTORS) - set(detectors))
    assert not stale, f"rows for detectors this Slither does not ship: {stale}"


def test_slither_rows_are_well_formed():
    for check, (swc_id, category) in swc.SLITHER_DETECTORS.items():
        assert swc_id is None or swc_id in swc.SWC_TITLES, check
        assert isinstance(category, Category), check


def test_every_slither_impact_and_confidence_converts():
    from slither.detectors.abstract_detector import classification_txt

    for check, cls in _slither_detectors().items():
        impact = classification_txt[cls.IMPACT]
        assert impact.lower() in {"high", "medium", "low", "informational", "optimization"}, check
        assert swc.slither_severity(impact) in Severity
        assert swc.slither_confidence(classification_txt[cls.CONFIDENCE]).value == \
            classification_txt[cls.CONFIDENCE].lower(), check


# (b) Mythril


def test_every_mythril_swc_has_a_row():
    analysis = _mythril_analysis_dir()
    declared = _mythril_module_swcs(analysis)
    assert len(declared) >= 15, declared  # the parse found the modules' ids
    emitted = {f"SWC-{n}" for ids in declared.values() for n in ids}
    assert {"SWC-101", "SWC-107", "SWC-116", "SWC-120", "SWC-132"} <= emitted
    missing = sorted(emitted - set(swc.MYTHRIL_SWCS))
    assert not missing, f"SWC ids Mythril emits with no row in MYTHRIL_SWCS: {missing}"
    stale = sorted(set(swc.MYTHRIL_SWCS) - emitted)
    assert not stale, f"rows for SWC ids no Mythril module emits: {stale}"


def test_mythril_titles_are_mythrils():
    titles = _mythril_titles(_mythril_analysis_dir() / "swc_data.py")
    for key, (title, _category) in swc.MYTHRIL_SWCS.items():
        assert titles[key.removeprefix("SWC-")] == title, key


# (c) spot checks and unknown input


def test_registry_is_complete():
    assert list(swc.SWC_TITLES) == [f"SWC-{n}" for n in range(100, 137)]
    assert list(swc.SWC_CATEGORIES) == list(swc.SWC_TITLES)          # every id has a class, no other id does
    assert swc.swc_category("107") is Category.REENTRANCY and swc.swc_category("swc-117") is Category.SIGNATURE
    assert swc.swc_category("SWC-999") is swc.swc_category(None) is Category.OTHER
    assert set(swc.MYTHRIL_SWCS) <= set(swc.SWC_TITLES) and swc.MYTHRIL_PATTERN_SWCS.issubset(swc.MYTHRIL_SWCS)


@pytest.mark.parametrize(("check", "expected"), [
    ("reentrancy-eth", ("SWC-107", C.REENTRANCY)), ("reentrancy-events", ("SWC-107", C.REENTRANCY)),
    ("tx-origin", ("SWC-115", C.ACCESS_CONTROL)), ("arbitrary-send-eth", ("SWC-105", C.ACCESS_CONTROL)),
    ("suicidal", ("SWC-106", C.UNPROTECTED_SELFDESTRUCT)), ("controlled-delegatecall", ("SWC-112", C.PROXY)),
    ("unchecked-transfer", ("SWC-104", C.TOKEN_INTEGRATION)), ("pyth-unchecked-publishtime", (None, C.ORACLE)),
    ("unchecked-lowlevel", ("SWC-104", C.UNCHECKED_LOW_LEVEL_CALLS)),
    ("unchecked-send", ("SWC-104", C.UNCHECKED_LOW_LEVEL_CALLS)),
    ("weak-prng", ("SWC-120", C.BAD_RANDOMNESS)), ("timestamp", ("SWC-116", C.TIME_MANIPULATION)),
    ("calls-loop", ("SWC-113", C.DENIAL_OF_SERVICE)), ("costly-loop", ("SWC-128", C.DENIAL_OF_SERVICE)),
    ("uninitialized-storage", ("SWC-109", C.OTHER)), ("divide-before-multiply", (None, C.PRECISION_LOSS)),
    ("pragma", ("SWC-103", C.CODE_QUALITY)), ("solc-version", ("SWC-102", C.CODE_QUALITY)),
    ("naming-convention", (None, C.CODE_QUALITY)), (" Reentrancy-ETH ", ("SWC-107", C.REENTRANCY)),
])
def test_slither_spot_checks(check, expected):
    assert swc.slither_class(check) == expected


@pytest.mark.parametrize(("swc_id", "expected"), [
    ("101", ("SWC-101", C.ARITHMETIC)), ("SWC-107", ("SWC-107", C.REENTRANCY)),
    ("swc-114", ("SWC-114", C.FRONT_RUNNING)), ("115", ("SWC-115", C.ACCESS_CONTROL)),
    ("116", ("SWC-116", C.TIME_MANIPULATION)), ("120", ("SWC-120", C.BAD_RANDOMNESS)),
    ("104", ("SWC-104", C.UNCHECKED_LOW_LEVEL_CALLS)), ("110", ("SWC-110", C.OTHER)),
    ("123", ("SWC-123", C.OTHER)), ("113", ("SWC-113", C.DENIAL_OF_SERVICE)),
    ("106", ("SWC-106", C.UNPROTECTED_SELFDESTRUCT)), ("112", ("SWC-112", C.PROXY)),
    ("116 120", ("SWC-116", C.TIME_MANIPULATION)),  # a module's metadata form
])
def test_mythril_spot_checks(swc_id, expected):
    assert swc.mythril_class(swc_id) == expected


def test_unknown_input_does_not_raise(caplog):
    with caplog.at_level(logging.DEBUG, logger="auditor.swc"):
        assert swc.slither_class("no-such-detector") == (None, Category.OTHER)
        assert swc.mythril_class("999") == (None, Category.OTHER)
        assert swc.mythril_class("") == (None, Category.OTHER)
        assert swc.mythril_class("SWC-118") == ("SWC-118", Category.OTHER)  # a real id no module emits
    assert "no-such-detector" in caplog.text and "999" in caplog.text
    assert swc.swc_title("SWC-999") is None and swc.swc_title("nonsense") is None
    assert swc.slither_severity("Catastrophic") is Severity.INFORMATIONAL
    assert swc.slither_confidence("") is Confidence.LOW
    assert swc.mythril_severity("Unknown") is Severity.INFORMATIONAL


def test_titles_and_normalization():
    assert swc.swc_title("107") == "Reentrancy"
    assert swc.swc_title("SWC-115") == "Authorization through tx.origin"
    assert swc.swc_title("swc-136") == "Unencrypted Private Data On-Chain"
    assert swc.normalize_swc(101) == swc.normalize_swc("SWC-101") == "SWC-101"
    assert swc.normalize_swc(None) is None


def test_severity_and_confidence_conversion():
    for name, sev in [("High", Severity.HIGH), ("Medium", Severity.MEDIUM), ("Low", Severity.LOW)]:
        assert swc.slither_severity(name) is sev and swc.mythril_severity(name) is sev, name
        assert swc.slither_confidence(name) is Confidence(sev.value), name
    assert swc.slither_severity("Informational") is swc.slither_severity("Optimization") is Severity.INFORMATIONAL
    assert swc.mythril_confidence("106") is Confidence.HIGH
    assert swc.mythril_confidence("107") is swc.mythril_confidence("999") is Confidence.MEDIUM


# (d) the taxonomy: modern classes refine DASP classes without re-keying findings

# The rows that moved to a modern class, with the class they had before: finding ids, merging and
# SmartBugs scoring are keyed by the DASP class, so each must still be scored as that class.
PREVIOUS_CLASS = {
    **dict.fromkeys(["suicidal", "unprotected-upgrade", "controlled-delegatecall"], Category.ACCESS_CONTROL),
    "unchecked-transfer": Category.UNCHECKED_LOW_LEVEL_CALLS,
    **dict.fromkeys(["pyth-deprecated-functions", "pyth-unchecked-confidence", "pyth-unchecked-publishtime",
                     "chronicle-unchecked-price", "chainlink-feed-registry", "optimism-deprecation"], Category.OTHER),
    "divide-before-multiply": Category.ARITHMETIC,
}
PREVIOUS_MYTHRIL_CLASS = {"SWC-106": Category.ACCESS_CONTROL, "SWC-112": Category.ACCESS_CONTROL}


def test_every_class_refines_a_dasp_class():
    for c in Category:
        assert (c.dasp.is_dasp or c is C.CODE_QUALITY) and c.dasp.dasp is c.dasp, c
    modern = [c for c in Category if not c.is_dasp and c is not C.CODE_QUALITY]
    assert len(modern) >= 10 and all(c.dasp is not c for c in modern)      # a modern class is never its own
    assert len([c for c in Category if c.is_dasp]) == 10


def test_rows_that_changed_class_keep_their_dasp_class():
    rows = [(swc.SLITHER_DETECTORS[k][1], v) for k, v in PREVIOUS_CLASS.items()]
    rows += [(swc.MYTHRIL_SWCS[k][1], v) for k, v in PREVIOUS_MYTHRIL_CLASS.items()]
    for now, before in rows:
        assert now is not before and now.dasp is before, (now, before)


# (e) documentation


def _tables(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """Section heading -> first cell (backticks removed) -> {column header: cell} of its table."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    section, header = "", None
    for line in path.read_text().splitlines():
        section = line[3:].strip() if line.startswith("## ") else section
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            header = None                   # a table ends at the first line that is not a row
        elif header is None:
            header = cells
        elif not line.startswith("| ---"):
            out.setdefault(section, {})[cells[0].strip("`")] = dict(zip(header, cells, strict=True))
    return out


def test_doc_rows_agree_with_the_tables():
    tables = _tables(DOC)
    slither, mythril, registry = tables["Slither detectors"], tables["Mythril SWC ids"], tables["The SWC registry"]
    assert list(slither) == list(swc.SLITHER_DETECTORS) and list(mythril) == list(swc.MYTHRIL_SWCS)
    assert set(_slither_detectors()) <= set(slither)                 # every installed detector is listed
    for check, (swc_id, category) in swc.SLITHER_DETECTORS.items():
        row = slither[check]
        assert row["SWC"] == (swc_id or "—"), check
        assert (row["category"], row["scored as (DASP)"]) == (f"`{category.value}`", f"`{category.dasp.value}`"), check
    for key, (title, category) in swc.MYTHRIL_SWCS.items():
        row = mythril[key]
        assert row["Mythril's title"] == title, key
        assert (row["category"], row["scored as (DASP)"]) == (f"`{category.value}`", f"`{category.dasp.value}`"), key
    assert list(registry) == list(swc.SWC_TITLES)
    for key, c in swc.SWC_CATEGORIES.items():
        dasp = "—" if c is C.CODE_QUALITY else f"`{c.dasp.value}`"
        assert list(registry[key].values())[1:] == [swc.SWC_TITLES[key], f"`{c.value}`", dasp], key
    assert "other" in DOC.read_text() and "unknown" in DOC.read_text().lower()


def weakness_sections() -> dict[str, dict[str, str]]:
    """docs/weaknesses.md: class -> its bullet fields ('Slither': ...) and its whole 'text'."""
    out: dict[str, dict[str, str]] = {}
    for block in re.split(r"^## ", WEAKNESSES.read_text(), flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        fields = dict(re.findall(r"^- \*\*([^*]+):\*\* (.*)$", body, flags=re.M))
        fields["text"] = " ".join(body.split())
        out[name.strip().strip("`")] = fields
    return out


def test_weakness_sections_agree_with_the_tables():
    sections = weakness_sections()
    assert list(sections) == [c.value for c in Category] and list(Category)[-1] is Category.CODE_QUALITY
    modules = {k: row["module(s)"] for k, row in _tables(DOC)["Mythril SWC ids"].items()}
    for name, fields in sections.items():
        c = Category(name)
        swcs = [k for k, v in swc.SWC_CATEGORIES.items() if v is c]
        slither = [k for k, (_, v) in swc.SLITHER_DETECTORS.items() if v is c]
        mythril = [k for k, (_, v) in swc.MYTHRIL_SWCS.items() if v is c]
        scored, _, swc_cell = fields["Scored as"].partition("; **SWC:** ")
        assert re.findall(r"SWC-\d{3}", swc_cell) == swcs and (swc_cell == "none") == (not swcs), name
        assert c is C.CODE_QUALITY or scored.startswith(f"`{c.dasp.value}` "), name
        assert re.findall(r"`([^`]+)`", fields["Slither"]) == slither, name
        assert (fields["Slither"] == "none") == (not slither), name
        listed = re.findall(r"`(SWC-\d{3})` \(([^)]*)\)", fields["Mythril"])
        assert listed == [(k, modules[k]) for k in mythril] and (fields["Mythril"] == "none") == (not mythril), name
        if not slither and not mythril:
            assert "only the review can raise it" in fields["text"], name
    intro = " ".join(WEAKNESSES.read_text().split("## ")[0].split())
    assert "SmartBugs scoring" in intro and "keyed by the DASP class" in intro
