"""auditor.runtime.children with real processes: the start-up cleanup of recorded groups, PR_SET_PDEATHSIG
for processes outside the group, and the records of audit_isolated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from auditor.runtime import children

ROOT = Path(__file__).resolve().parents[2]


def test_leftovers_are_killed_and_records_removed(tmp_path, leftover_audit, audit_tree):
    procs = leftover_audit(tmp_path / "children")
    assert len(list((tmp_path / "children").iterdir())) == 1
    groups = [os.getpgid(p.pid) for p in procs]
    assert groups.count(procs[0].pid) == 3 and len(set(groups)) == 2    # one left the group
    # another one whose leader is already dead: what it started is found by the recorded token
    headless = leftover_audit(tmp_path / "children")
    headless[0].kill()
    audit_tree.assert_gone(headless[:1])
    assert children.kill_leftovers(tmp_path / "children") >= len(procs) + len(headless) - 1
    audit_tree.assert_gone(procs + headless, within=0.1)     # the call returns once they are gone
    assert list((tmp_path / "children").iterdir()) == []


def test_records_of_a_running_owner_a_recycled_pid_and_garbage(tmp_path):
    d = tmp_path / "children"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], process_group=0)
    try:
        mine = children.record(d, sleeper.pid, children.new_token())       # its owner (this process) runs
        assert mine is not None and mine.stat().st_mode & 0o777 == 0o600
        recycled = d / f"{sleeper.pid}-x.json"                           # same pid, another start time
        recycled.write_text(json.dumps({"pgid": sleeper.pid, "started": 1.0, "token": "x", "owner": 1,
                                        "owner_started": 1.0}))
        (d / "garbage.json").write_text("{")
        assert children.kill_leftovers(d) == 0
        assert sleeper.poll() is None
        assert sorted(p.name for p in d.iterdir()) == [mine.name]
        children.forget(mine)
        assert list(d.iterdir()) == []
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_process_outside_the_group_dies_with_its_parent(tmp_path, audit_tree):
    """A Popen with die_with_parent() in a session of its own, started from a thread like Mythril."""
    script = (
        "import subprocess, sys, threading, time\n"
        "from auditor.runtime.children import die_with_parent\n"
        "def start():\n"
        "    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True, preexec_fn=die_with_parent())\n"
        "    print(p.pid, flush=True)\n"
        "    p.wait()\n"
        "threading.Thread(target=start).start()\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    child = psutil.Process(int(parent.stdout.readline()))
    assert os.getpgid(child.pid) == child.pid != os.getpgid(parent.pid)
    parent.kill()
    parent.wait()
    audit_tree.assert_gone([child])


def test_a_finished_audit_leaves_no_record_and_no_process(tmp_path):
    from auditor.pipeline import AuditOptions
    from auditor.runtime.isolated import audit_isolated

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    report = audit_isolated(ROOT / "examples" / "EtherBank.sol", AuditOptions(tools=("slither",), review="none",
                                                                             use_cache=False),
                            300, children_dir=tmp_path / "children")
    assert report.summary.total >= 1
    assert list((tmp_path / "children").iterdir()) == []
    deadline = time.monotonic() + 10       # the resource tracker is this process's, not the audit's
    while True:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before
                and "resource_tracker" not in " ".join(p.cmdline())]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, [p.cmdline() for p in left]
