"""The JSON report (schema `solsentry.report/1`) and its JSON Schema.

The JSON Schema is generated from the pydantic models and committed at `schema/report-1.schema.json`
(a test checks the two agree). After changing a model, regenerate it with

    .venv/bin/python -m auditor.report.json_format
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from auditor.report.base import ReportFormat
from auditor.report.model import SCHEMA_ID, SCHEMA_MINOR, Report

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "report-1.schema.json"
SCHEMA_URI = "urn:solsentry:schema:report-1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class JsonFormat(ReportFormat):
    NAME = "json"
    EXTENSION = ".json"
    MEDIA_TYPE = "application/json"
    DESCRIPTION = f"The full report as JSON (schema {SCHEMA_ID}); what every other format is made from"

    def render(self, report: Report) -> str:
        return report.to_json()


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report, as the models define it."""
    generated = Report.model_json_schema(by_alias=True)
    generated.pop("title", None)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_URI,
        "title": f"SolSentry audit report ({SCHEMA_ID})",
        "description": "What `solsentry audit --format json` writes; see docs/report-schema.md.",
        **generated,
    }
    # The schema field names the schema: pin it, so a consumer rejects reports of another version.
    schema["properties"]["schema"]["const"] = SCHEMA_ID
    # Additions a reader of an older minor version may ignore (model.SCHEMA_MINOR; docs/report-schema.md).
    schema["x-minor-version"] = SCHEMA_MINOR
    return schema


def schema_text() -> str:
    """The committed form of `report_json_schema()` (2-space indent, trailing newline)."""
    return json.dumps(report_json_schema(), indent=2, ensure_ascii=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The committed JSON Schema file."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_schema()}\n")
