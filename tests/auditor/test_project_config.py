"""The project config (solsentry.toml, [tool.solsentry]) end to end: real `solsentry` runs with real
Slither on a small reentrancy project; precedence, discovery, filters, compiler pins, `init`."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from auditor.commands.init import default_text
from auditor.options import AuditOptions
from auditor.project_config import load, to_options
from auditor.tools.registry import TOOL_NAMES

EXE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "solsentry"
BANK = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract {name} {{
    mapping(address => uint256) public credit;

    function deposit() public payable {{
        credit[msg.sender] += msg.value;
    }}

    function withdraw() public {{
        uint256 owed = credit[msg.sender];
        (bool ok, ) = msg.sender.call{{value: owed}}("");
        require(ok);
        credit[msg.sender] = 0;
    }}
}}
"""
FAST = ["--tools", "slither", "--review", "none"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One result cache for the module: the filters apply after the cache, so sharing it only saves time."""
    return str(tmp_path_factory.mktemp("results"))


@pytest.fixture
def project(tmp_path):
    """A plain directory: src/Bank.sol, mocks/MockBank.sol, src/legacy/old/Old.sol (all reentrant)."""
    root = tmp_path / "proj"
    for rel, name in (("src/Bank.sol", "Bank"), ("mocks/MockBank.sol", "MockBank"),
                      ("src/legacy/old/Old.sol", "Old")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(BANK.format(name=name))
    return root


@pytest.fixture
def run(results):
    def go(*args, cwd=None):
        return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300,
                              env={**os.environ, "SOLSENTRY_RESULTS_DIR": results}, stdin=subprocess.DEVNULL)
    return go


def report(run, target, *args, expect=None):
    out = Path(target).parent / "report.json" if Path(target).is_file() else Path(target).parent / "r.json"
    proc = run("audit", target, "--format", "json", "--out", out, *args)
    assert "Traceback" not in proc.stderr
    if expect is not None:
        assert proc.returncode == expect, proc.stderr
    return json.loads(out.read_text()), proc


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def toml(root, text, name="solsentry.toml"):
    (root / name).write_text(text)


# ---- precedence --------------------------------------------------------------------------------
def test_config_sets_tools_review_and_fail_on(run, project):
    toml(project, 'tools = ["slither"]\nreview = "none"\nfail-on = "none"\n')
    rep, proc = report(run, project, expect=0)          # vulnerable, but the config says never fail
    assert [t["name"] for t in rep["tools"]] == ["slither"] and rep["review"] is None
    assert f"config: {project / 'solsentry.toml'}" in proc.stderr


def test_flag_beats_config(run, project):
    toml(project, 'tools = ["slither"]\nreview = "none"\nfail-on = "none"\n')
    report(run, project, "--fail-on", "high", expect=1)


def test_quiet_prints_no_config_line(run, project):
    toml(project, 'fail-on = "none"\n')
    _, proc = report(run, project, *FAST, "-q", expect=0)
    assert "config:" not in proc.stderr


# ---- what is analyzed and reported -------------------------------------------------------------
def test_exclude_paths(run, project):
    toml(project, 'fail-on = "none"\nexclude-paths = ["mocks/*.sol", "src/legacy/**"]\n')
    rep, _ = report(run, project, *FAST, expect=0)
    assert [f["path"] for f in rep["files"]] == ["src/Bank.sol"]
    assert {f["locations"][0]["file"] for f in rep["findings"]} == {"src/Bank.sol"}


def _rules(run, project, table):
    toml(project, f'fail-on = "none"\nexclude-paths = ["mocks/**", "src/legacy"]\n[detectors]\n{table}\n')
    return report(run, project, *FAST, expect=0)[0]["findings"]


def test_detectors_include_by_name(run, project):
    found = _rules(run, project, 'include = ["reentrancy-eth"]')
    assert found and all(any(r["detector"] == "reentrancy-eth" for r in f["reporters"]) for f in found)


@pytest.mark.parametrize("rule", ["SWC-107", "reentrancy", "slither:reentrancy-eth"])
def test_detectors_exclude_by_swc_category_and_name(run, project, rule):
    found = _rules(run, project, f'exclude = ["{rule}"]')
    assert found and not [f for f in found if f["swc"] == "SWC-107" or f["category"] == "reentrancy"]


def test_detectors_include_by_category(run, project):
    found = _rules(run, project, 'include = ["unchecked_low_level_calls"]')
    assert found and {f["category"] for f in found} == {"unchecked_low_level_calls"}


def test_min_severity(run, project):
    toml(project, 'fail-on = "none"\nmin-severity = "medium"\n')
    everything, _ = report(run, project, *FAST, "--no-config", "--fail-on", "none", expect=0)
    assert any(f["severity"] == "informational" for f in everything["findings"])
    rep, _ = report(run, project, *FAST, expect=0)
    assert rep["findings"] and {f["severity"] for f in rep["findings"]} <= {"high", "medium"}


def test_compiler_version_pin(run, project):
    toml(project, '[compiler]\nversion = "0.8.24"\noptimizer = true\n')
    rep, _ = report(run, project, *FAST, "--fail-on", "none", expect=0)
    assert {f["solc"] for f in rep["files"]} == {"0.8.24"}
    assert all(f["compiler_settings"]["optimizer"] for f in rep["files"])


def test_compiler_pin_the_pragma_refuses_is_a_file_error(run, project):
    toml(project, '[compiler]\nversion = "0.4.26"\n')
    proc = run("audit", project, *FAST, "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "pins solc 0.4.26, which the pragmas do not allow" in " ".join(proc.stderr.split())


# ---- errors ------------------------------------------------------------------------------------
def test_unknown_key_names_the_key_and_file(run, project):
    toml(project, "detector = []\n")
    one_line_error(run("audit", project, *FAST), "solsentry.toml", "unknown key 'detector'",
                   "did you mean 'detectors'?")
    toml(project, "[detectors]\nincludes = []\n")
    one_line_error(run("audit", project, *FAST), "unknown key 'detectors.includes'")


@pytest.mark.parametrize("text,needle", [('fail-on = 1\n', "'fail-on' must be one of"),
                                         ('[mythril]\ntimeout = "60"\n', "'mythril.timeout' must be an integer"),
                                         ('exclude-paths = "mocks"\n', "'exclude-paths' must be a list of strings"),
                                         ('[compiler]\nversion = "^0.8.0"\n', "exact solc version"),
                                         ('tools = [\n', "not valid TOML")])
def test_wrong_type_names_the_key_and_type(run, project, text, needle):
    toml(project, text)
    one_line_error(run("audit", project, *FAST), "solsentry.toml", needle)


# ---- discovery ---------------------------------------------------------------------------------
def test_pyproject_table(run, project):
    toml(project, '[project]\nname = "x"\n\n[tool.solsentry]\nfail-on = "none"\n', "pyproject.toml")
    _, proc = report(run, project, *FAST, expect=0)
    assert "pyproject.toml" in proc.stderr
    toml(project, '[tool.solsentry]\nfail-one = "none"\n', "pyproject.toml")
    one_line_error(run("audit", project, *FAST), "unknown key 'tool.solsentry.fail-one'")


def test_solsentry_toml_beats_pyproject(run, project):
    toml(project, '[tool.solsentry]\nfail-on = "none"\n', "pyproject.toml")
    toml(project, 'fail-on = "high"\n')
    _, proc = report(run, project, *FAST, expect=1)
    assert f"config: {project / 'solsentry.toml'}" in proc.stderr


def test_file_target_finds_its_project_root(run, project):
    toml(project, 'fail-on = "none"\n')
    report(run, project / "src" / "Bank.sol", *FAST, expect=0)
    (project / "src" / "foundry.toml").write_text("[profile.default]\n")   # a nearer root: no config there
    report(run, project / "src" / "Bank.sol", *FAST, expect=1)


def test_config_and_no_config(run, project, tmp_path):
    toml(project, 'fail-on = "none"\n')
    report(run, project, *FAST, "--no-config", expect=1)
    other = tmp_path / "ci.toml"
    other.write_text('fail-on = "high"\n')
    _, proc = report(run, project, *FAST, "--config", other, expect=1)
    assert f"config: {other}" in proc.stderr
    one_line_error(run("audit", project, "--config", other, "--no-config"), "exclude each other")


# ---- solsentry init ----------------------------------------------------------------------------
def test_init_writes_refuses_and_forces(run, tmp_path):
    proc = run("init", tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "solsentry.toml"
    assert written.read_text() == default_text()
    written.write_text("# mine\n")
    one_line_error(run("init", tmp_path), "already exists", "--force")
    assert written.read_text() == "# mine\n"
    assert run("init", tmp_path, "--force").returncode == 0 and written.read_text() == default_text()


def test_init_file_means_the_defaults(tmp_path):
    (tmp_path / "solsentry.toml").write_text(default_text())
    cfg = load(tmp_path / "solsentry.toml", tmp_path)
    defaults = AuditOptions()
    assert (cfg.tools, cfg.review, cfg.fail_on, cfg.mythril_timeout) == (TOOL_NAMES, defaults.review, "high", None)
    opts = to_options(cfg)
    assert opts["compiler_override"] is None and opts["exclude_paths"] == ()
    assert opts["detectors_include"] == opts["detectors_exclude"] == ()
    assert opts["min_severity"] in (None, "informational")     # informational: every finding, as without
    text = default_text()                                     # every key is in the file, set or commented out
    for key in ("tools", "review", "fail-on", "min-severity", "exclude-paths", "[detectors]", "include",
                "exclude", "[mythril]", "timeout", "[compiler]", "version", "optimizer", "runs", "via-ir",
                "evm-version"):
        assert key in text


@pytest.mark.parametrize("doc", ["README.md", "docs/configuration.md"])
def test_documented_examples_load(tmp_path, doc):
    """The docs' example configs are valid (comments and all), so the docs cannot drift from the schema."""
    text = (Path(__file__).resolve().parents[2] / doc).read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
    assert blocks
    for block in blocks:
        (tmp_path / "solsentry.toml").write_text(block)
        cfg = load(tmp_path / "solsentry.toml", tmp_path)
        assert cfg.compiler.get("version") == "0.8.24" and cfg.exclude_paths == ("src/test/**", "mocks/*.sol")


@pytest.mark.parametrize("pattern,path,hit", [("mocks/*.sol", "/r/mocks/A.sol", True),
                                              ("mocks/*.sol", "/r/mocks/sub/B.sol", False),
                                              ("src/test/**", "/r/src/test/a/B.t.sol", True),
                                              ("**/*.t.sol", "/r/x/y/C.t.sol", True),
                                              ("**/*.t.sol", "/r/C.t.sol", True),
                                              ("src/legacy", "/r/src/legacy/old/Old.sol", True),
                                              ("src/legacy", "/r/src/legacyX.sol", False),
                                              ("src/[!m]*.sol", "/r/src/mock.sol", False)])
def test_glob_semantics(pattern, path, hit):
    from auditor.filters import compile_glob

    assert bool(compile_glob(f"/r/{pattern}").match(path)) is hit


def test_mythril_timeout_from_config_unless_flag_given(tmp_path):
    """The merge itself (Mythril is too slow to run here): the file's value where the flag is at its default."""
    from click.core import ParameterSource

    from auditor.project_config import merge_cli

    (tmp_path / "solsentry.toml").write_text("[mythril]\ntimeout = 7\n")

    class Ctx:
        def __init__(self, given):
            self.params = {"tools": "slither", "fail_on": "high", "review": "none", "mythril_timeout": given,
                           "path": tmp_path, "config_file": None, "no_config": False, "quiet": True}
            self.given = given

        def get_parameter_source(self, name):
            return ParameterSource.COMMANDLINE if name == "mythril_timeout" and self.given else ParameterSource.DEFAULT

    assert merge_cli(Ctx(None)).mythril_timeout == 7
    assert merge_cli(Ctx(30)).mythril_timeout == 30
