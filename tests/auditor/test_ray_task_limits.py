"""The body of a Ray audit task (auditor.runtime.isolated.audit_task), run here without Ray: it
unpacks under the caller's archive limits and audits through audit_isolated, so the time budget
and the cap on the tree's resident memory are those of a local audit."""

from __future__ import annotations

from pathlib import Path

from auditor.archive_guard import ArchiveLimits
from auditor.runtime.isolated import audit_task, pack

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"tools": ("slither",), "review": "none", "use_cache": False, "hosted": True, "allow_paths": ()}


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Bank.sol").write_text((ROOT / "examples" / "EtherBank.sol").read_text())
    (src / "README").write_text("two files")
    return src


def test_a_ray_task_is_killed_at_the_memory_cap_of_a_local_audit(tmp_path):
    kind, message = audit_task(pack(_src(tmp_path)), OPTIONS, 600, 60, None)
    assert (kind, message) == ("memory", "the audit went over its memory limit of 60 MB")


def test_a_ray_task_stops_at_its_budget(tmp_path):
    kind, message = audit_task(pack(_src(tmp_path)), OPTIONS, 0.5, 0, None)
    assert (kind, message) == ("timeout", "the audit ran past its budget of 0.5 s")


def test_a_ray_task_unpacks_under_the_callers_archive_limits(tmp_path):
    kind, message = audit_task(pack(_src(tmp_path)), OPTIONS, 600, 0, ArchiveLimits(max_files=1))
    assert kind == "error" and "more than 1 entries" in message
