"""PR mode end to end (`solsentry audit PATH --diff REF | --diff-from REPORT.json`): real git
repositories made here, real Slither runs through the real CLI. Only the findings a commit adds are
reported, counted and failed on; fixed ones are counted; nothing of the repository (hooks, filters,
fsmonitor) runs while the base is read; bad input fails in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from testsupport.gitrepo import GIT_ENV, HARMLESS, KILL, commit, git, init, vault

FAST = ("--tools", "slither", "--review", "none")


def _hooked(repo: Path, log: Path) -> None:
    """Arm every way a checkout could run the repository's code: each appends to `log` if it ever runs."""
    hooks = repo / ".git" / "hooks"
    for name in ("post-checkout", "reference-transaction", "post-merge"):
        hook = hooks / name
        hook.write_text(f'#!/bin/sh\necho "{name} $PWD" >> "{log}"\n')
        hook.chmod(0o755)
    spy = repo / ".git" / "spy.sh"
    spy.write_text(f'#!/bin/sh\necho "filter-or-fsmonitor $PWD" >> "{log}"\ncat\n')
    spy.chmod(0o755)
    git(repo, "config", "filter.spy.smudge", str(spy))
    git(repo, "config", "filter.spy.clean", str(spy))
    git(repo, "config", "filter.spy.required", "true")
    git(repo, "config", "core.fsmonitor", str(spy))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return {"SOLSENTRY_RESULTS_DIR": str(tmp_path_factory.mktemp("results"))}


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """c1: Vault (a reentrancy, high); c2: + kill() (suicidal, high). Hooks and filters armed after."""
    root = tmp_path_factory.mktemp("added")
    repo = init(root / "repo")
    base = commit(repo, {"Vault.sol": vault(), ".gitattributes": "*.sol filter=spy\n"}, "vault")
    commit(repo, {"Vault.sol": vault(KILL)}, "add kill")
    log = root / "ran.log"
    _hooked(repo, log)
    return repo, base, log


def _audit(solsentry, results, tmp_path, *args, fmt="json"):
    out = tmp_path / f"report.{fmt}"
    proc = solsentry("audit", *args, *FAST, "--format", fmt, "--out", str(out), env=results)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, (json.loads(out.read_text()) if fmt in ("json", "sarif") else out.read_text())


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_diff_reports_only_the_added_finding(solsentry, results, added, tmp_path, validate_report):
    repo, base, log = added
    full_proc, full = _audit(solsentry, results, tmp_path, str(repo), "--fail-on", "none")
    assert full_proc.returncode == 0, full_proc.stderr
    proc, pr = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1")
    validate_report(pr)
    assert proc.returncode == 1, proc.stderr           # the new finding is high
    in_kill = [f for f in full["findings"] if f["locations"][0]["function"] == "kill"]
    assert in_kill and [f["fingerprint"] for f in pr["findings"]] == [f["fingerprint"] for f in in_kill]
    assert pr["diff"] == {"base": "HEAD~1", "base_commit": base, "base_complete": True, "new": len(in_kill),
                          "fixed": 0, "unchanged": len(full["findings"]) - len(in_kill)}
    assert pr["summary"]["high"] == 1 and pr["summary"]["total"] == len(in_kill)
    assert "PR mode: 1 new finding, 0 fixed since HEAD~1" in " ".join(proc.stdout.split())   # the summary
    # The base's fingerprints are kept: the next run against the same commit audits no base.
    stored = list((Path(results["SOLSENTRY_RESULTS_DIR"]) / "pr-base").glob("*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["commit"] == base
    written = stored[0].stat().st_mtime_ns
    _, again = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1")
    assert again["findings"] == pr["findings"] and again["diff"] == pr["diff"]
    assert stored[0].stat().st_mtime_ns == written        # read back, not audited (and stored) again
    assert not log.exists(), log.read_text()


def test_sarif_and_markdown_hold_only_the_new_finding(solsentry, results, added, tmp_path, validate_sarif):
    repo, _, log = added
    proc, sarif = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1", fmt="sarif")
    assert proc.returncode == 1, proc.stderr
    validate_sarif(sarif)
    results_ = sarif["runs"][0]["results"]
    assert len(results_) == 1 and "suicidal" in json.dumps(results_[0]).lower()
    assert sarif["runs"][0]["properties"]["diff"]["new"] == 1
    _, md = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1", fmt="md")
    assert md.splitlines()[0].startswith("**SolSentry: 1 new finding, 0 fixed since `HEAD~1`")
    assert "Suicidal" in md and "Reentrancy" not in md
    assert not log.exists(), log.read_text()


def test_diff_from_a_base_report_matches_diff(solsentry, results, added, tmp_path):
    repo, _, _ = added
    old = tmp_path / "old"
    old.mkdir()
    (old / "Vault.sol").write_text(vault())
    base_json = tmp_path / "base.json"
    proc = solsentry("audit", str(old), *FAST, "--fail-on", "none", "--format", "json", "--out", str(base_json),
                     env=results)
    assert proc.returncode == 0, proc.stderr
    _, by_ref = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1")
    proc, by_file = _audit(solsentry, results, tmp_path, str(repo), "--diff-from", str(base_json))
    assert proc.returncode == 1
    assert [f["fingerprint"] for f in by_file["findings"]] == [f["fingerprint"] for f in by_ref["findings"]]
    assert by_file["diff"] == {**by_ref["diff"], "base": "base.json", "base_commit": None}
    # A PR report is no base: its findings are only what was new against its own base.
    pr_json = tmp_path / "pr.json"
    pr_json.write_text(json.dumps(by_ref))
    proc = solsentry("audit", str(repo), *FAST, "--diff-from", str(pr_json), env=results)
    assert "PR-mode report" in _one_line_error(proc)


def test_fail_on_counts_only_new_findings_and_fixed_ones_are_counted(solsentry, results, tmp_path):
    repo = init(tmp_path / "repo")
    commit(repo, {"Vault.sol": vault()}, "vault")
    commit(repo, {"Vault.sol": vault(KILL)}, "add kill")
    commit(repo, {"Vault.sol": vault(HARMLESS)}, "remove kill, add total")
    full = solsentry("audit", str(repo), *FAST, env=results)
    assert full.returncode == 1, full.stderr            # the old reentrancy is still there, and high
    proc, pr = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1", "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr            # ... but it is not new
    assert pr["diff"]["fixed"] == 1 and pr["diff"]["new"] == len(pr["findings"])
    assert not any(f["severity"] == "high" for f in pr["findings"])
    _, md = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1", fmt="md")
    assert f"**SolSentry: {pr['diff']['new']} new finding" in md.splitlines()[0] and "1 fixed since" in md


def test_reading_the_base_runs_no_hook_filter_or_fsmonitor(solsentry, results, added, tmp_path):
    repo, _, log = added
    proc = solsentry("audit", str(repo), *FAST, "--diff", "HEAD~1", "--no-cache", env=results)
    assert proc.returncode == 1, proc.stderr
    assert not log.exists(), log.read_text()
    # The trap is real: a checkout of a copy of the repository springs it.
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    subprocess.run(["git", "-C", str(copy), "checkout", "-q", "HEAD~1"], env={**GIT_ENV, "PATH": "/usr/bin:/bin"},
                   capture_output=True, check=False)
    assert log.exists() and str(copy) in log.read_text()


def test_bad_base_input_fails_in_one_line(solsentry, results, added, tmp_path):
    repo, _, _ = added
    assert "no such commit" in _one_line_error(solsentry("audit", str(repo), *FAST, "--diff", "nosuch", env=results))
    assert "not a git ref" in _one_line_error(solsentry("audit", str(repo), *FAST, "--diff", "--x", env=results))
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "Vault.sol").write_text(vault())
    env = {**results, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    assert "not inside a git repository" in _one_line_error(
        solsentry("audit", str(loose), *FAST, "--diff", "HEAD", env=env))
    for name, text in (("other.json", '{"schema": "something/else", "findings": []}'), ("text.json", "not json"),
                       ("broken.json", '{"schema": "solsentry.report/1", "findings": 3}')):
        (tmp_path / name).write_text(text)
        line = _one_line_error(solsentry("audit", str(repo), *FAST, "--diff-from", str(tmp_path / name), env=results))
        assert f"--diff-from {tmp_path / name}" in line
    assert "not both" in _one_line_error(solsentry("audit", str(repo), *FAST, "--diff", "HEAD~1", "--diff-from",
                                                   str(tmp_path / "other.json"), env=results))


def test_foundry_dependencies_outside_the_tree_are_seen_at_the_base(solsentry, results, tmp_path):
    """lib/dep is ignored, lib/sub a submodule (a gitlink): neither is in the commit's tree."""
    repo = init(tmp_path / "proj")
    sub = init(repo / "lib" / "sub")
    commit(sub, {"src/Sub.sol": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
                                "contract Sub { function s() public pure returns (uint256) { return 2; } }\n"}, "sub")
    (repo / "lib" / "dep" / "src").mkdir(parents=True)
    (repo / "lib" / "dep" / "src" / "Dep.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
        "contract Dep { function d() public pure returns (uint256) { return 1; } }\n")
    # ping: a low-level call (informational), at the base and the head alike
    head = ('import "dep/Dep.sol";\nimport "sub/Sub.sol";\n\ncontract Token is Dep, Sub {\n'
            '    function ping(address a) external { (bool ok, ) = a.call(""); require(ok); }\n%s}\n')
    pragma = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"
    commit(repo, {"foundry.toml": '[profile.default]\nsrc = "src"\nlibs = ["lib"]\n', ".gitignore": "lib/dep/\n",
                  "src/Token.sol": pragma + head % HARMLESS}, "token")
    assert "160000" in git(repo, "ls-tree", "HEAD", "lib/sub")
    commit(repo, {"src/Token.sol": pragma + head % (HARMLESS + KILL)}, "add kill")
    proc, pr = _audit(solsentry, results, tmp_path, str(repo), "--diff", "HEAD~1")
    assert proc.returncode == 1, proc.stderr
    assert pr["target_kind"] == "foundry" and pr["diff"]["base_complete"] is True
    assert [f["locations"][0]["function"] for f in pr["findings"]] == ["kill"]
    assert pr["diff"]["unchanged"] >= 1 and all(f["status"] == "compiled" for f in pr["files"])
