"""The warm audit pool (auditor/runtime/warm.py) isolates each audit as a fresh child would: an audit over
its memory cap or time budget fails alone with the typed error and its worker is replaced, never reused;
concurrent audits of same-named files see only their own; a worker killed from outside is replaced (mid-
audit: that audit fails with AuditCrashed, not a hang); workers are recycled, each audit's working
directory is removed after it, and nothing is left once the pool is closed. Real worker processes, real
Slither, real solc-js; the conditions are waited for, never fixed times."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from testsupport.waiting import wait_for
from testsupport.warmpool import (
    CLEAN,
    REENTRANT,
    Workdirs,
    gone,
    left,
    many_functions,
    no_thread_errors,
    ours,
    thread_errors,
    tree,
    workdir,
)

from auditor.options import AuditOptions
from auditor.runtime import limits
from auditor.runtime.isolated import AuditCrashed, AuditMemoryExceeded, AuditTimeout
from auditor.runtime.warm import PoolConfig, WarmPool

OPTIONS = AuditOptions(tools=("slither",), review="none", hosted=True, use_cache=False)
# Over the worker tree's size before an audit: a normal one grows ~100-300 MB, many_functions(1000) >1.4 GB.
HEADROOM_MB = 700
BUDGET_S = 5.0         # many_functions(400) runs ~45 s
WARM_S = 300           # generous: only bounds a hung test


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """Source folders by name, and SOLSENTRY_RESULTS_DIR in a temporary folder (the workers inherit it)."""
    base = tmp_path_factory.mktemp("sources")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOLSENTRY_RESULTS_DIR", str(base / "results"))
        folders = {}
        for name, file, text in (("reentrant", "Bank.sol", REENTRANT), ("clean", "Bank.sol", CLEAN),
                                 ("hog", "Big.sol", many_functions(1000)), ("slow", "Big.sol", many_functions(400)),
                                 ("thief", "Thief.sol", 'pragma solidity ^0.4.24;\nimport "../clean/Bank.sol";\n'
                                                        "contract Thief is EtherBank {}\n")):
            (base / name).mkdir()
            (base / name / file).write_text(text)
            folders[name] = base / name
        yield folders


def _start(tmp: Path, **config) -> WarmPool:
    pool = WarmPool(PoolConfig(children_dir=tmp / "children", **config))
    pool.start()
    _ready(pool)
    return pool


def _ready(pool: WarmPool, old: tuple[int, ...] = ()) -> list[int]:
    """The pids once every worker is warm, none of them in `old`."""
    size = pool.config.size
    return wait_for(lambda: pool.ready() == size and len(p := pool.pids()) == size and not set(p) & set(old) and p,
                    WARM_S, f"{size} warm workers")


@pytest.fixture(scope="module")
def solo(src, tmp_path_factory):
    pool = _start(tmp_path_factory.mktemp("solo"), size=1)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def pair(src, tmp_path_factory):
    pool = _start(tmp_path_factory.mktemp("pair"), size=2)
    yield pool
    pool.close()


def _reentrancy(report) -> bool:
    return any(f.category == "reentrancy" for f in report.findings)


def _mid_audit(pid: int) -> list:
    """Once worker `pid` is auditing: its tree."""
    wait_for(lambda: workdir(pid), WARM_S, f"worker {pid} to start the audit", interval=0.05)
    return tree(pid)


@pytest.mark.slow
def test_an_audit_over_its_memory_cap_fails_alone_and_the_pool_goes_on(pair, src, audit_tree):
    pids = _ready(pair)
    trees = {p: tree(p) for p in pids}                  # each worker and its resident compilers
    cap = int(max(limits.tree_rss_mb(p) for p in pids)) + HEADROOM_MB
    barrier = threading.Barrier(2)

    def audit(name):
        barrier.wait()          # a budget the hog would run past, were the cap not enforced
        return pair.run(src[name], OPTIONS, 120, cap)

    with ThreadPoolExecutor(2) as ex:
        hog, bank = ex.submit(audit, "hog"), ex.submit(audit, "reentrant")
        with pytest.raises(AuditMemoryExceeded, match=rf"^the audit went over its memory limit of {cap} MB$"):
            hog.result(600)
        assert _reentrancy(bank.result(600))          # the neighbour, under the same cap, is untouched
    now = _ready(pair)                                  # the killed worker left the pool before the error
    (killed,) = set(pids) - set(now)
    audit_tree.assert_gone(trees[killed], within=10)
    cap = int(max(limits.tree_rss_mb(p) for p in now)) + HEADROOM_MB
    report = pair.run(src["reentrant"], OPTIONS, 600, cap)
    assert _reentrancy(report) and report.files[0].status == "compiled"


@pytest.mark.slow
def test_an_audit_over_its_budget_times_out_and_a_new_worker_serves(solo, src, audit_tree):
    (pid,) = _ready(solo)
    with ThreadPoolExecutor(1) as ex:
        started = time.monotonic()
        slow = ex.submit(solo.run, src["slow"], OPTIONS, BUDGET_S)
        procs = _mid_audit(pid)
        with pytest.raises(AuditTimeout, match=rf"budget of {BUDGET_S:g} s"):
            slow.result(600)
        took = time.monotonic() - started
    assert BUDGET_S <= took < BUDGET_S + 60
    assert gone(pid)
    audit_tree.assert_gone(procs, within=10)          # the worker and its resident compilers
    (new,) = _ready(solo, old=(pid,))
    assert _reentrancy(solo.run(src["reentrant"], OPTIONS, 600))
    assert solo.pids() == [new]


def test_concurrent_audits_of_same_named_files_see_their_own(pair, src):
    texts = {"reentrant": REENTRANT, "clean": CLEAN}

    def audit(name, barrier):
        barrier.wait()
        return pair.run(src[name], OPTIONS, 600)

    together = []
    for order in (("reentrant", "clean"), ("clean", "reentrant")):
        _ready(pair)
        watch, barrier = Workdirs(pair), threading.Barrier(2)
        with ThreadPoolExecutor(2) as ex:
            reports = dict(zip(order, ex.map(audit, order, [barrier] * 2), strict=True))
        seen = watch.stop()
        for name, report in reports.items():
            (entry,) = report.files
            assert entry.path == "Bank.sol" and entry.status == "compiled"
            assert entry.sha256 == hashlib.sha256(texts[name].encode()).hexdigest(), name
        assert _reentrancy(reports["reentrant"]) and not _reentrancy(reports["clean"])
        # two workers, each in a directory of its own, removed after its audit
        assert len(seen) == 2 and len(set(seen.values())) == 2
        assert not any(os.path.exists(d) for d in seen)
        together.append(watch.together)
    assert 2 in together                                # both audits seen running at once


def test_an_audit_cannot_import_another_audits_files(pair, src):
    report = pair.run(src["thief"], OPTIONS, 600)
    (entry,) = report.files
    assert entry.status == "error" and "leads outside the project" in entry.error
    assert "only the submitted files may be read" in entry.error    # the hosted sandbox, from its options
    assert not report.findings


def test_a_worker_killed_while_idle_is_replaced(solo, src, audit_tree):
    (pid,) = _ready(solo)
    procs = tree(pid)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), 60, f"worker {pid} to die")
    assert _reentrancy(solo.run(src["reentrant"], OPTIONS, 600))
    (new,) = solo.pids()
    assert new != pid
    audit_tree.assert_gone(procs, within=10)


@pytest.mark.slow
def test_a_worker_killed_mid_audit_fails_that_audit_only(solo, src, audit_tree):
    (pid,) = _ready(solo)
    with ThreadPoolExecutor(1) as ex:
        slow = ex.submit(solo.run, src["slow"], OPTIONS, 600)
        procs = _mid_audit(pid)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(AuditCrashed) as caught:
            slow.result(120)                           # far below the budget: no hang
    assert type(caught.value) is AuditCrashed
    audit_tree.assert_gone(procs, within=10)
    (new,) = _ready(solo, old=(pid,))
    assert _reentrancy(solo.run(src["reentrant"], OPTIONS, 600))
    assert solo.pids() == [new]


@pytest.mark.parametrize(("config", "per_worker"), [({"max_audits": 2, "max_growth_mb": 0}, 2),
                                                    ({"max_audits": 0, "max_growth_mb": 1}, 1)],
                         ids=["max_audits", "max_growth_mb"])
def test_workers_are_recycled_and_nothing_is_left_after_close(src, tmp_path, audit_tree, monkeypatch, config,
                                                               per_worker):
    others, errors = ours(), thread_errors(monkeypatch)      # others: the module's pools, if started
    pool = _start(tmp_path, size=1, **config)
    try:
        watch, served, procs = Workdirs(pool), [], []
        for _ in range(2 * per_worker):
            (pid,) = _ready(pool, old=tuple(p for p in served if served.count(p) == per_worker))
            procs += tree(pid)
            records = [r.name.split("-")[0] for r in (tmp_path / "children").iterdir()]
            assert records == [str(pid)]                       # the live worker alone is recorded
            before = watch.seen()
            assert _reentrancy(pool.run(src["reentrant"], OPTIONS, 600))
            (own,) = set(watch.seen()) - set(before)                     # this audit's own directory ...
            assert watch.seen()[own] == pid and not os.path.exists(own)          # ... gone after it
            served.append(pid)
        assert [served.count(p) for p in dict.fromkeys(served)] == [per_worker, per_worker]
        assert gone(served[0])
    finally:
        pool.close()          # at once: the last worker was recycled, and its successor is being started
    seen = watch.stop()
    assert pool.pids() == [] and pool.ready() == 0
    assert not left(others)                   # close() has returned: nothing of the pool runs
    audit_tree.assert_gone(procs, within=0)
    assert not list((tmp_path / "children").iterdir())
    assert len({Path(d).parent for d in seen}) == 1 and not Path(next(iter(seen))).parent.exists()
    no_thread_errors(errors)


def test_a_pool_closed_while_its_workers_start_raises_nothing_and_leaves_nothing(src, monkeypatch):
    """A service stopped just after it started (or after a recycling): close() at different moments of
    the workers' start, each time."""
    others, errors = ours(), thread_errors(monkeypatch)
    moments = (lambda pool: True, lambda pool: pool.pids(), lambda pool: len(pool.pids()) == 2)
    for i in range(24):
        pool = WarmPool(PoolConfig(size=2))
        pool.start()
        wait_for(lambda: moments[i % 3](pool), WARM_S, "the workers to start", interval=0.001)  # noqa: B023
        pool.close()
        assert pool.pids() == [] and not left(others), i
    no_thread_errors(errors)
