from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from auditor.report.json_format import SCHEMA_PATH, SCHEMA_URI, load_schema, report_json_schema
from auditor.report.model import SCHEMA_ID, Report
from auditor.report.registry import get_format


def test_committed_schema_matches_the_models():
    assert SCHEMA_PATH.is_file()
    assert load_schema() == report_json_schema(), (
        "auditor/report/schema/report-1.schema.json is stale: run `.venv/bin/python -m auditor.report.json_format`")


def test_schema_is_a_valid_json_schema_with_id_and_title():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_URI
    assert SCHEMA_ID in schema["title"]
    assert schema["properties"]["schema"]["const"] == SCHEMA_ID


def test_rendered_report_validates(report, empty_report):
    validator = Draft202012Validator(load_schema())
    for r in (report, empty_report):
        data = json.loads(get_format("json").render(r))
        errors = sorted(validator.iter_errors(data), key=str)
        assert not errors, errors[0]


def test_json_is_report_to_json_and_round_trips(report):
    text = get_format("json").render(report)
    assert text == report.to_json()
    data = json.loads(text)
    assert data["schema"] == SCHEMA_ID
    assert Report.model_validate(data) == report


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(schema="solsentry.report/2"),
    lambda d: d["findings"][0].update(severity="critical"),
    lambda d: d["findings"][0]["locations"][0].update(start_line=0),
    lambda d: d["findings"][0].update(locations=[]),
    lambda d: d.pop("summary"),
])
def test_schema_rejects_bad_reports(report, mutate):
    data = json.loads(report.to_json())
    mutate(data)
    assert not Draft202012Validator(load_schema()).is_valid(data)


def test_documented_example_validates():
    doc = Path(__file__).resolve().parents[3] / "docs" / "report-schema.md"
    example = re.search(r"```json\n(.*?)\n```", doc.read_text(encoding="utf-8"), re.S)
    assert example, "docs/report-schema.md has no ```json example"
    data = json.loads(example.group(1))
    Draft202012Validator(load_schema()).validate(data)
    assert Report.model_validate(data).summary.high == 1
