"""The GitHub Action (action.yml + .ci/action.sh) run as GitHub would run it, off GitHub: each step's
`run` and `env` with their `${{ }}` expressions filled in from the inputs and a faked `github`
context, in a real git repository with a real `origin`. The SARIF upload (a `uses:` step) is left
out and the comment is a dry run; the audit itself is real. Also the pre-commit hook's definition."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from testsupport.gitrepo import KILL, commit, git, init, vault

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
MARKER = "<!-- solsentry-pr-comment -->"
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@pytest.fixture(scope="module")
def action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


@pytest.fixture
def workspace(tmp_path):
    """origin has main (Vault: a reentrancy); the checkout is a PR branch that adds kill()."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo = init(tmp_path / "work")
    commit(repo, {"contracts/Vault.sol": vault()}, "vault")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"contracts/Vault.sol": vault(KILL)}, "add kill")
    git(repo, "update-ref", "-d", "refs/remotes/origin/main")   # as actions/checkout leaves it: not fetched
    return repo


class Runner:
    """Runs the action's steps the way GitHub's composite runner does, for what these tests need."""

    def __init__(self, action: dict, workspace: Path, tmp: Path, event: str, inputs: dict[str, str]) -> None:
        self.action, self.workspace = action, workspace
        self.inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()} | inputs
        self.output_file, self.summary = tmp / "github_output", tmp / "step_summary"
        self.body = tmp / "comment.md"
        self.github = {"action_path": str(ROOT), "event_name": event, "token": "fake-token",
                       "base_ref": "main" if event == "pull_request" else "",
                       "event.pull_request.number": "7" if event == "pull_request" else ""}
        self.steps: dict[str, dict[str, str]] = {}
        self.env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", str(tmp)),
                    "SOLSENTRY_RESULTS_DIR": str(tmp / "results"), "GITHUB_WORKSPACE": str(workspace),
                    "GITHUB_EVENT_NAME": event, "GITHUB_BASE_REF": self.github["base_ref"],
                    "GITHUB_REPOSITORY": "acme/vault", "GITHUB_OUTPUT": str(self.output_file),
                    "GITHUB_STEP_SUMMARY": str(self.summary), "COMMENT_BODY_FILE": str(self.body)}

    def value(self, expr: str) -> str:
        scope, _, name = expr.partition(".")
        if scope == "inputs":
            return self.inputs[name]
        if scope == "github":
            return self.github[name]
        if scope == "steps":
            step, _, key = name.partition(".outputs.")
            return self.steps.get(step, {}).get(key, "")
        raise AssertionError(f"the test runner does not know ${{{{ {expr} }}}}")

    def fill(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), str(text))

    def run(self, name: str) -> subprocess.CompletedProcess:
        step = next(s for s in self.action["runs"]["steps"] if s["name"] == name)
        assert step["shell"] == "bash"
        env = {**self.env, **{k: self.fill(v) for k, v in step.get("env", {}).items()}}
        self.output_file.write_text("")
        proc = subprocess.run(["bash", "-c", self.fill(step["run"])], cwd=self.workspace, env=env,
                              capture_output=True, text=True, timeout=300)
        if "id" in step:
            lines = self.output_file.read_text().splitlines()
            self.steps[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
        return proc


def _run_all(runner: Runner) -> dict[str, subprocess.CompletedProcess]:
    names = [s["name"] for s in runner.action["runs"]["steps"] if "run" in s]
    return {name: runner.run(name) for name in names}


def test_pull_request_reports_only_the_new_finding(action, workspace, tmp_path, validate_sarif):
    runner = Runner(action, workspace, tmp_path, "pull_request",
                    {"tools": "slither", "review": "none", "path": "contracts"})
    done = _run_all(runner)
    assert "not installing" in done["Install SolSentry"].stdout           # solsentry is on PATH
    audit = done["Audit"]
    assert audit.returncode == 0, audit.stderr
    assert "PR mode: only findings that are not at origin/main" in audit.stdout
    assert runner.steps["audit"]["exit-code"] == "1"                       # kill() is new and high
    sarif = json.loads((workspace / runner.steps["audit"]["sarif-file"]).read_text())
    validate_sarif(sarif)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == 1 and "suicidal" in json.dumps(results[0]).lower()
    body = runner.body.read_text()
    assert body.splitlines()[0] == MARKER
    assert body.splitlines()[1].startswith("**SolSentry: 1 new finding, 0 fixed since `origin/main`")
    assert "Suicidal" in body and "Reentrancy" not in body
    assert "dry run: would comment on pull request 7" in done["Comment on the pull request"].stdout
    assert runner.summary.read_text().startswith("**SolSentry: 1 new finding")
    assert done["Verdict"].returncode == 1
    # The upload step gets the SARIF file the audit wrote.
    upload = next(s for s in action["runs"]["steps"] if s.get("uses", "").startswith("github/codeql-action/upload"))
    assert runner.fill(upload["with"]["sarif_file"]) == runner.steps["audit"]["sarif-file"]


def test_push_is_a_full_audit(action, workspace, tmp_path):
    runner = Runner(action, workspace, tmp_path, "push", {"tools": "slither", "review": "none", "fail-on": "none"})
    audit = runner.run("Audit")
    assert audit.returncode == 0, audit.stderr
    assert "full audit" in audit.stdout and runner.steps["audit"]["exit-code"] == "0"
    sarif = json.loads((workspace / "solsentry.sarif").read_text())
    titles = json.dumps(sarif["runs"][0]["results"]).lower()
    assert "suicidal" in titles and "reentran" in titles
    assert "diff" not in sarif["runs"][0]["properties"]
    assert runner.run("Verdict").returncode == 0


def test_action_inputs_and_outputs_are_wired(action):
    assert action["runs"]["using"] == "composite"
    assert {"path", "fail-on", "tools", "review", "base-ref", "sarif-file"} <= set(action["inputs"])
    text = (ROOT / "action.yml").read_text()
    for name in action["inputs"]:
        if name not in ("upload-sarif", "comment", "github-token"):
            assert f"${{{{ inputs.{name} }}}}" in text, name
    assert os.access(ROOT / ".ci" / "action.sh", os.X_OK)


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["id"] == "solsentry" and hook["language"] == "python"
    assert hook["entry"] == "solsentry audit . --review none --fail-on high"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("contracts/Token.sol") and not files.search("README.md")
