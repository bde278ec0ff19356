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


def test_every_installed_slither_detector_has_a_row():
    detectors = _slither_detectors()
    assert len(detectors) >= 100
    missing = sorted(set(detectors) - set(swc.SLITHER_DETECTORS))
    assert not missing, f"Slither detectors with no row in SLITHER_DETECTORS: {missing}"


def test_slither_table_has_no_stale_rows():
    stale = sorted(set(swc.SLITHER_DETECTORS) - set(_slither_detectors()))
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


def test_mythril_rows_are_registry_ids():
    assert set(swc.MYTHRIL_SWCS) <= set(swc.SWC_TITLES)
    assert swc.MYTHRIL_PATTERN_SWCS.issubset(swc.MYTHRIL_SWCS)


# (c) spot checks and unknown input


def test_registry_is_complete():
    assert list(swc.SWC_TITLES) == [f"SWC-{n}" for n in range(100, 137)]


@pytest.mark.parametrize(("check", "expected"), [
    ("reentrancy-eth", ("SWC-107", Category.REENTRANCY)),
    ("reentrancy-events", ("SWC-107", Category.REENTRANCY)),
    ("tx-origin", ("SWC-115", Category.ACCESS_CONTROL)),
    ("suicidal", ("SWC-106", Category.ACCESS_CONTROL)),
    ("arbitrary-send-eth", ("SWC-105", Category.ACCESS_CONTROL)),
    ("controlled-delegatecall", ("SWC-112", Category.ACCESS_CONTROL)),
    ("unchecked-lowlevel", ("SWC-104", Category.UNCHECKED_LOW_LEVEL_CALLS)),
    ("unchecked-send", ("SWC-104", Category.UNCHECKED_LOW_LEVEL_CALLS)),
    ("weak-prng", ("SWC-120", Category.BAD_RANDOMNESS)),
    ("timestamp", ("SWC-116", Category.TIME_MANIPULATION)),
    ("calls-loop", ("SWC-113", Category.DENIAL_OF_SERVICE)),
    ("costly-loop", ("SWC-128", Category.DENIAL_OF_SERVICE)),
    ("uninitialized-storage", ("SWC-109", Category.OTHER)),
    ("divide-before-multiply", (None, Category.ARITHMETIC)),
    ("pragma", ("SWC-103", Category.CODE_QUALITY)),
    ("solc-version", ("SWC-102", Category.CODE_QUALITY)),
    ("naming-convention", (None, Category.CODE_QUALITY)),
    (" Reentrancy-ETH ", ("SWC-107", Category.REENTRANCY)),
])
def test_slither_spot_checks(check, expected):
    assert swc.slither_class(check) == expected


@pytest.mark.parametrize(("swc_id", "expected"), [
    ("101", ("SWC-101", Category.ARITHMETIC)),
    ("SWC-107", ("SWC-107", Category.REENTRANCY)),
    ("swc-114", ("SWC-114", Category.FRONT_RUNNING)),
    ("115", ("SWC-115", Category.ACCESS_CONTROL)),
    ("116", ("SWC-116", Category.TIME_MANIPULATION)),
    ("120", ("SWC-120", Category.BAD_RANDOMNESS)),
    ("104", ("SWC-104", Category.UNCHECKED_LOW_LEVEL_CALLS)),
    ("110", ("SWC-110", Category.OTHER)),
    ("123", ("SWC-123", Category.OTHER)),
    ("113", ("SWC-113", Category.DENIAL_OF_SERVICE)),
    ("116 120", ("SWC-116", Category.TIME_MANIPULATION)),  # a module's metadata form
])
def test_mythril_spot_checks(swc_id, expected):
    assert swc.mythril_class(swc_id) == expected


def test_unknown_input_does_not_raise(caplog):
    with caplog.at_level(logging.DEBUG, logger="auditor.swc"):
        assert swc.slither_class("no-such-detector") == (None, Category.OTHER)
        assert swc.mythril_class("999") == (None, Category.OTHER)
        assert swc.mythril_class("") == (None, Category.OTHER)
        assert swc.mythril_class("SWC-118") == ("SWC-118", Category.OTHER)  # a real id no module emits
    assert "no-such-detector" in caplog.text
    assert "999" in caplog.text
    assert swc.swc_title("SWC-999") is None
    assert swc.swc_title("nonsense") is None
    assert swc.slither_severity("Catastrophic") is Severity.INFORMATIONAL
    assert swc.slither_confidence("") is Confidence.LOW
    assert swc.mythril_severity("Unknown") is Severity.INFORMATIONAL


def test_titles_and_normalization():
    assert swc.swc_title("107") == "Reentrancy"
    assert swc.swc_title("SWC-115") == "Authorization through tx.origin"
    assert swc.swc_title("swc-136") == "Unencrypted Private Data On-Chain"
    assert swc.normalize_swc(101) == "SWC-101"
    assert swc.normalize_swc("SWC-107") == "SWC-107"
    assert swc.normalize_swc(None) is None


def test_severity_and_confidence_conversion():
    assert swc.slither_severity("High") is Severity.HIGH
    assert swc.slither_severity("Medium") is Severity.MEDIUM
    assert swc.slither_severity("Low") is Severity.LOW
    assert swc.slither_severity("Informational") is Severity.INFORMATIONAL
    assert swc.slither_severity("Optimization") is Severity.INFORMATIONAL
    assert swc.slither_confidence("High") is Confidence.HIGH
    assert swc.slither_confidence("Medium") is Confidence.MEDIUM
    assert swc.slither_confidence("Low") is Confidence.LOW
    assert swc.mythril_severity("High") is Severity.HIGH
    assert swc.mythril_severity("Medium") is Severity.MEDIUM
    assert swc.mythril_severity("Low") is Severity.LOW
    assert swc.mythril_confidence("106") is Confidence.HIGH
    assert swc.mythril_confidence("107") is Confidence.MEDIUM
    assert swc.mythril_confidence("999") is Confidence.MEDIUM


# (d) documentation


def _doc_rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows.setdefault(m.group(1), [c.strip() for c in m.group(2).split("|")])
    return rows


def test_doc_names_every_slither_check():
    text = DOC.read_text()
    missing = [c for c in _slither_detectors() if f"`{c}`" not in text]
    assert not missing, f"docs/swc-mapping.md does not mention {missing}"


def test_doc_rows_agree_with_the_tables():
    rows = _doc_rows()
    for check, (swc_id, category) in swc.SLITHER_DETECTORS.items():
        cells = rows[check]
        assert cells[0] == (swc_id or "—"), check
        assert f"`{category.value}`" in cells, check
    for key, (_title, category) in swc.MYTHRIL_SWCS.items():
        cells = rows[key]
        assert f"`{category.value}`" in cells, key
    assert "other" in DOC.read_text() and "unknown" in DOC.read_text().lower()
