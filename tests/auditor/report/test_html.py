from __future__ import annotations

import re
from html.parser import HTMLParser

from auditor.report.registry import get_format


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


def test_self_contained_page(report):
    page = get_format("html").render(report)
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    parsed = _parse(page)
    assert parsed.scripts == 0
    for tag, attrs in parsed.tags:
        assert tag != "link"
        assert not (attrs.get("src") or "").strip(), (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("#", "https://swcregistry.io/")), (tag, attrs)


def test_escapes_script_from_descriptions(report):
    page = get_format("html").render(report)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "solc &lt;0.4.24&gt; | exited with code 1" in page


def test_one_row_per_finding(report):
    page = get_format("html").render(report)
    parsed = _parse(page)
    tables = [attrs for tag, attrs in parsed.tags if tag == "table" and attrs.get("id") == "findings"]
    assert len(tables) == 1
    rows = [attrs for tag, attrs in parsed.tags if tag == "tr" and "finding" in (attrs.get("class") or "").split()]
    assert len(rows) == len(report.findings)
    classes = sorted(r["class"] for r in rows)
    assert classes == sorted(["finding sev-high", "finding sev-medium", "finding sev-low",
                              "finding sev-informational", "finding sev-high suppressed"])
    assert len(re.findall(r'<tr class="finding sev-high" ', page)) == 1
    articles = [a for tag, a in parsed.tags if tag == "article"]
    assert {a["id"] for a in articles} == {f"finding-{f.id}" for f in report.findings}


def test_summary_and_tool_failures(report):
    page = get_format("html").render(report)
    assert '<div class="card sev-high"><span class="n">1</span>High</div>' in page
    assert '<tr class="run state-failed">' in page
    assert '<tr class="run state-timeout">' in page
    assert "2 tool run(s) failed or timed out" in page
    assert "contracts/Vault.sol:20-31" in page
