"""All 143 SmartBugs-curated files through a Slither audit: each audits or reports a clear
compile error; nothing crashes or hangs (slow; Mythril's full run is in docs/benchmarks.md)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [os.environ.get("SOLSENTRY_SMARTBUGS_DIR", ""), ROOT / "shared" / "datasets" / "smartbugs-curated",
              ROOT.parent / "shared" / "datasets" / "smartbugs-curated"]
DATASET = next((Path(c) for c in CANDIDATES if c and (Path(c) / "vulnerabilities.json").is_file()), None)


@pytest.mark.slow
@pytest.mark.skipif(DATASET is None, reason="SmartBugs-curated dataset not found beside the project")
def test_every_file_audits_or_reports_a_compile_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLSENTRY_RESULTS_DIR", str(tmp_path / "results"))
    from auditor.config import get_settings
    from auditor.pipeline import AuditOptions, audit

    get_settings.cache_clear()
    try:
        report = audit(DATASET / "dataset", AuditOptions(tools=("slither",)))
    finally:
        get_settings.cache_clear()
    own = [f for f in report.files if not f.dependency]
    assert len(own) == 143
    for f in own:
        assert f.status == "compiled" or f.error, f.path
    runs = {r.unit: r for r in report.tool_runs if r.tool == "slither"}
    assert set(runs) == {f.path for f in own}
    for r in runs.values():
        assert r.state in ("ok", "failed", "skipped")
        assert r.state == "ok" or r.message
    ok = sum(r.state == "ok" for r in runs.values())
    assert ok >= 135, f"only {ok} of 143 files analyzed"
