"""The root setting SOLSENTRY_HOME and the warning for unknown SOLSENTRY_* variables, through the real
`solsentry` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).parent / "solsentry")
EXAMPLE = ROOT / "examples" / "EtherBank.sol"


def run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """`solsentry ARGS` with no SOLSENTRY_* variable but those given (the caller's could add warnings)."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("SOLSENTRY_")}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env={**base, **env}, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=ROOT)


# ---- unknown variables ------------------------------------------------------------------------------
def test_a_mistyped_variable_gets_one_warning_naming_the_closest_known_one(tmp_path):
    out = run("api-key", "list", env={"SOLSENTRY_DATA_DIR": str(tmp_path), "SOLSENTRY_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "warning: unknown setting SOLSENTRY_DATA_DIR (did you mean SOLSENTRY_API_DATA_DIR?)"]


def test_known_variables_of_every_package_are_not_warned_about(tmp_path):
    env = {"SOLSENTRY_HOME": str(tmp_path),
           "SOLSENTRY_API_DATA_DIR": str(tmp_path / "api"),          # the API's settings
           "SOLSENTRY_MYTHRIL_TIMEOUT_S": "60",                      # the auditor's
           "SOLSENTRY_CONFIRMATIONS": "1",                           # the oracle's, named through its entry point
           "SOLSENTRY_KEYSTORE_PASSWORD_FILE": str(tmp_path / "pw"),  # read by the oracle's keystore
           "SOLSENTRY_LLM_API_KEY": "sk-not-a-real-key",             # read directly by the LLM reviewer
           "SOLSENTRY_AUDIT_TOKEN": "x"}                             # set for audit processes
    out = run("api-key", "list", env=env)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_a_name_like_nothing_known_is_warned_about_without_a_guess(tmp_path):
    out = run("api-key", "list", env={"SOLSENTRY_HOME": str(tmp_path), "SOLSENTRY_QQQXYZ": "1"})
    assert out.stderr.splitlines() == ["warning: unknown setting SOLSENTRY_QQQXYZ"]


@pytest.mark.parametrize("args", [("--help",), ("api-key", "list", "--help"), ("--version",), ()])
def test_no_warning_for_help_or_version(args):
    out = run(*args, env={"SOLSENTRY_DATA_DIR": "/nowhere"})
    assert "warning" not in out.stderr, out.stderr


# ---- SOLSENTRY_HOME ---------------------------------------------------------------------------------
def test_home_holds_the_api_and_oracle_state(tmp_path):
    home = tmp_path / "home"
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    env = {"SOLSENTRY_HOME": str(home)}
    assert run("api-key", "create", "--name", "t", env=env).returncode == 0
    assert (home / "api" / "api.sqlite").is_file()
    made = run("oracle", "keystore", "create", "--password-file", str(password), env=env)
    assert made.returncode == 0, made.stderr
    assert (home / "oracle" / "keystore.json").is_file()
    status = run("oracle", "status", env=env)
    assert status.returncode == 2 and f"no job store at {home / 'oracle' / 'jobs.sqlite'}" in status.stderr


def test_home_holds_compilers_and_results_unless_a_specific_variable_moves_them(tmp_path):
    from auditor.config import Settings

    installed = Settings().solc_dir          # what `make` filled for this user
    home = tmp_path / "home"
    home.mkdir()
    empty = run("solc", "list", env={"SOLSENTRY_HOME": str(home), "SOLSENTRY_OFFLINE": "1"})
    assert "No compiler installed yet" in empty.stdout, empty.stdout + empty.stderr
    # SOLSENTRY_CACHE_DIR wins over the root for compilers (and results).
    moved = run("solc", "list", env={"SOLSENTRY_HOME": str(home), "SOLSENTRY_CACHE_DIR": str(installed.parent),
                                     "SOLSENTRY_OFFLINE": "1"})
    assert "No compiler installed yet" not in moved.stdout and "solc-js" in moved.stdout, moved.stdout
    # The compilers reached from the root (a link to this user's), the results written under it.
    (home / "solc").symlink_to(installed, target_is_directory=True)
    audited = run("audit", str(EXAMPLE), "--tools", "slither", "--review", "none", "-q", "--format", "json",
                  "--out", str(tmp_path / "r.json"), env={"SOLSENTRY_HOME": str(home), "SOLSENTRY_OFFLINE": "1"})
    assert audited.returncode == 1, audited.stderr       # EtherBank has a high finding
    assert any((home / "results").iterdir())


def test_precedence_of_the_specific_variables(monkeypatch, tmp_path):
    from auditor.api.config import ApiSettings
    from auditor.config import Settings
    from oracle.config import OracleSettings

    for name in list(os.environ):
        if name.upper().startswith("SOLSENTRY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOLSENTRY_HOME", str(tmp_path / "home"))
    home = tmp_path / "home"
    s, api, oracle = Settings(), ApiSettings(), OracleSettings()
    assert (s.solc_dir, s.results_path) == (home / "solc", home / "results")
    assert (api.data_dir, api.oracle_db) == (home / "api", home / "oracle" / "jobs.sqlite")
    assert (oracle.chain_dir, oracle.db_path, oracle.keystore_file) == (
        home / "chain", home / "oracle" / "jobs.sqlite", home / "oracle" / "keystore.json")
    monkeypatch.setenv("SOLSENTRY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SOLSENTRY_API_DATA_DIR", str(tmp_path / "api"))
    monkeypatch.setenv("SOLSENTRY_CHAIN_DIR", str(tmp_path / "chain"))
    s, api, oracle = Settings(), ApiSettings(), OracleSettings()
    assert (s.solc_dir, s.results_path) == (tmp_path / "cache" / "solc", tmp_path / "cache" / "results")
    assert api.data_dir == tmp_path / "api" and api.oracle_db == home / "oracle" / "jobs.sqlite"
    assert oracle.chain_dir == tmp_path / "chain" and oracle.db_path == home / "oracle" / "jobs.sqlite"
    monkeypatch.delenv("SOLSENTRY_HOME")
    assert OracleSettings().db_path == Path.home() / ".cache" / "solsentry" / "oracle" / "jobs.sqlite"
