from __future__ import annotations

import pytest

from auditor.errors import AuditorError
from auditor.report.html import HtmlFormat
from auditor.report.json_format import JsonFormat
from auditor.report.markdown import MarkdownFormat
from auditor.report.registry import (
    ReportFormat,
    UnknownFormatError,
    all_formats,
    format_for_path,
    format_names,
    get_format,
)
from auditor.report.sarif import SarifFormat


def test_registered_formats_in_order():
    assert format_names() == ["json", "sarif", "md", "html"]
    assert [type(f) for f in all_formats()] == [JsonFormat, SarifFormat, MarkdownFormat, HtmlFormat]


@pytest.mark.parametrize(("name", "cls"), [("json", JsonFormat), ("SARIF", SarifFormat), (" md ", MarkdownFormat),
                                           ("html", HtmlFormat)])
def test_get_format(name, cls):
    fmt = get_format(name)
    assert isinstance(fmt, cls)
    assert fmt is get_format(name)


def test_unknown_format_is_a_typed_error():
    with pytest.raises(UnknownFormatError) as info:
        get_format("pdf")
    assert isinstance(info.value, AuditorError)
    assert info.value.name == "pdf"
    assert "'pdf'" in str(info.value)
    assert "json, sarif, md, html" in str(info.value)


def test_format_for_path():
    assert isinstance(format_for_path("out/report.sarif"), SarifFormat)
    assert isinstance(format_for_path("REPORT.HTML"), HtmlFormat)
    assert isinstance(format_for_path("r.json"), JsonFormat)
    with pytest.raises(UnknownFormatError):
        format_for_path("report.txt")


def test_metadata_is_declared():
    for fmt in all_formats():
        assert fmt.EXTENSION.startswith(".")
        assert "/" in fmt.MEDIA_TYPE
        assert fmt.DESCRIPTION


def test_base_class_rejects_bad_metadata():
    with pytest.raises(TypeError, match="NAME"):
        class NoName(ReportFormat):
            EXTENSION = ".x"
            MEDIA_TYPE = "text/plain"
            DESCRIPTION = "x"

            def render(self, report):
                return ""

    with pytest.raises(TypeError, match="EXTENSION"):
        class BadExtension(ReportFormat):
            NAME = "x"
            EXTENSION = "txt"
            MEDIA_TYPE = "text/plain"
            DESCRIPTION = "x"

            def render(self, report):
                return ""

    with pytest.raises(TypeError, match="render"):
        class NoRender(ReportFormat):
            NAME = "x"
            EXTENSION = ".x"
            MEDIA_TYPE = "text/plain"
            DESCRIPTION = "x"


def test_write_adds_final_newline(tmp_path, report):
    path = get_format("json").write(report, tmp_path / "r.json")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text[:-1] == report.to_json()


@pytest.mark.parametrize("name", ["json", "sarif", "md", "html"])
def test_rendering_is_deterministic_and_handles_empty_reports(name, report, empty_report):
    fmt = get_format(name)
    assert fmt.render(report) == fmt.render(report.model_copy(deep=True))
    assert fmt.render(empty_report)
