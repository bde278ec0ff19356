"""The `solsentry` command itself: fast startup, clear errors, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ["torch", "transformers", "slither", "crytic_compile", "web3", "peft", "rich", "pydantic"]


def test_help_and_version_import_nothing_heavy():
    code = ("import sys; from auditor.cli import cli; import click\n"
            "for args in (['--help'], ['--version']):\n"
            "    try: cli.main(args=args, prog_name='solsentry', standalone_mode=False)\n"
            "    except SystemExit: pass\n"
            "print(json.dumps(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_help_lists_command_groups(solsentry):
    out = solsentry("--help")
    assert out.returncode == 0
    assert "solc" in out.stdout and "compile" in out.stdout


def test_version(solsentry):
    from auditor import __version__

    out = solsentry("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_solc_which_pragma_and_file(solsentry):
    out = solsentry("solc", "which", ">=0.4.22 <0.6.0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("/0.5.17/solc")
    assert "solc 0.5.17" in out.stderr
    out = solsentry("solc", "which", "tests/fixtures/solidity/pragmas/Top.sol")
    assert out.stdout.strip().endswith("/0.4.24/solc")


def test_solc_which_impossible_is_exit_2_without_traceback(solsentry):
    out = solsentry("solc", "which", "tests/fixtures/solidity/pragmas/Clash.sol")
    assert out.returncode == 2
    assert "no solc version satisfies every pragma" in out.stderr
    assert "Traceback" not in out.stderr


def test_solc_install_bad_version_is_exit_2(solsentry):
    out = solsentry("solc", "install", "0.8.99")
    assert out.returncode == 2
    assert "solc 0.8.99 cannot be installed" in out.stderr and "Traceback" not in out.stderr
    out = solsentry("solc", "install", "banana")
    assert out.returncode == 2 and "not a solc version" in out.stderr


def test_solc_list_shows_installed(solsentry):
    out = solsentry("solc", "list")
    assert out.returncode == 0 and "0.4.26" in out.stdout


def test_compile_examples_and_errors(solsentry, tmp_path):
    out = solsentry("compile", "examples")
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("EtherBank", "CoinFlip", "TimeLockedWallet", "Treasury"):
        assert name in out.stdout
    out = solsentry("compile", "tests/fixtures/solidity/pragmas/Broken.sol")
    assert out.returncode == 2 and "undefinedThing" in out.stdout
    (tmp_path / "notes.txt").write_text("hello")
    out = solsentry("compile", str(tmp_path / "notes.txt"))
    assert out.returncode == 2 and "not a Solidity" in out.stderr
    out = solsentry("compile", str(tmp_path / "does-not-exist"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_command_is_usage_error(solsentry):
    out = solsentry("frobnicate")
    assert out.returncode == 2 and "No such command" in out.stderr
