"""`--out` and `--write-baseline` that cannot be written are refused before the audit, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "EtherBank.sol")


def _unwritable_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
        return folder
    # root ignores mode bits; sysfs refuses new files even to root
    if not Path("/sys").is_dir() or os.access("/sys/solsentry-probe", os.F_OK):
        pytest.skip("no directory that root cannot write to here")
    return Path("/sys")


@pytest.mark.parametrize("case", ["missing", "file-as-dir", "is-dir", "unwritable"])
@pytest.mark.parametrize("option", ["--out", "--write-baseline"])
def test_unwritable_destination_is_one_line_and_exit_2_before_the_audit(solsentry, tmp_path, case, option):
    (tmp_path / "plain").write_text("x")
    missing = tmp_path / "missing" / "dir"
    target, problem = {
        "missing": (missing / "r.json", f"directory {missing} does not exist"),
        "file-as-dir": (tmp_path / "plain" / "r.json", f"{tmp_path / 'plain'} is not a directory"),
        "is-dir": (tmp_path, "it is a directory"),
        "unwritable": (None, "is not writable"),
    }[case]
    if target is None:
        target = _unwritable_dir(tmp_path) / "r.json"
    what = "the report" if option == "--out" else "the baseline"
    results = tmp_path / "results"
    # Mythril and the review model on: the check must come before any of that work starts.
    proc = solsentry("audit", EXAMPLE, option, str(target), env={"SOLSENTRY_RESULTS_DIR": str(results)},
                     timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {what} to {target}: "), proc.stderr
    assert problem in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not results.exists(), "the audit ran before the check"
