"""The provider against real solc-js installs (npm registry at setup, npm's cache after)."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from auditor.config import Settings
from auditor.errors import PragmaError, SolcInstallError
from auditor.solc.provider import SolcProvider
from auditor.solc.sources import Remapping
from auditor.solc.versions import Constraint, Version

SOLIDITY = Path(__file__).resolve().parents[2] / "fixtures" / "solidity"


def test_range_picks_newest_allowed(provider):
    assert str(provider.for_pragma(">=0.4.22 <0.6.0").version) == "0.5.17"


def test_caret_04_picks_0426_when_installable(provider):
    assert Version.parse("0.4.26") in provider.installable()
    binary = provider.for_pragma("^0.4.0")
    assert str(binary.version) == "0.4.26"
    assert binary.path.is_file()


def test_two_files_with_different_pragmas_meet_in_the_middle(provider):
    # Top.sol: ^0.4.24, imports Base.sol: >=0.4.22 <0.4.25  ->  only 0.4.24 fits both.
    binary = provider.for_files([SOLIDITY / "pragmas" / "Top.sol"])
    assert str(binary.version) == "0.4.24"


def test_impossible_pragma_names_files_and_constraints(provider):
    with pytest.raises(PragmaError) as err:
        provider.for_files([SOLIDITY / "pragmas" / "Clash.sol"])
    msg = str(err.value)
    assert "no solc version satisfies every pragma" in msg
    assert "Clash.sol: ^0.5.0" in msg and "Base.sol: >=0.4.22 <0.4.25" in msg


def test_impossible_single_pragma(provider):
    with pytest.raises(PragmaError, match=r"no solc version .*pragma: >=0.9.0"):
        provider.for_pragma(">=0.9.0")


def test_remapped_import_pragma_counts(provider):
    root = SOLIDITY / "remap"
    binary = provider.for_files([root / "src" / "Main.sol"], [Remapping.parse("@math/=deps/math/")], [root])
    assert binary.version.minor == 8


def _fresh(tmp_path, **kw) -> SolcProvider:
    return SolcProvider(Settings(cache_dir=tmp_path / "cache", **kw))


def test_unknown_version_is_a_clear_error(tmp_path):
    with pytest.raises(SolcInstallError, match=r"solc 0\.8\.99 cannot be installed: .*no such release"):
        _fresh(tmp_path).install("0.8.99")


def test_unsupported_old_version_is_refused(tmp_path):
    with pytest.raises(SolcInstallError, match=r"solc 0\.4\.0 is not supported"):
        _fresh(tmp_path).install("0.4.0")


def test_offline_setting_without_cache_explains(tmp_path):
    with pytest.raises(SolcInstallError, match=r"solc 0\.4\.24 cannot be installed: .*offline mode"):
        _fresh(tmp_path, offline=True).install("0.4.24")


def test_concurrent_installs_of_one_version_install_once(tmp_path):
    p1, p2 = _fresh(tmp_path), _fresh(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda p: p.ensure("0.4.24"), [p1, p2])
    assert a.path == b.path
    out = subprocess.run([str(a.path), "--version"], capture_output=True, text=True).stdout
    assert "0.4.24" in out
    leftovers = [d.name for d in (tmp_path / "cache" / "solc").iterdir() if d.name.startswith(".0.4.24")]
    assert leftovers == []


def test_concurrent_installs_across_processes(tmp_path):
    code = ("import sys; from auditor.config import Settings; from auditor.solc.provider import SolcProvider;"
            "print(SolcProvider(Settings(cache_dir=sys.argv[1])).ensure('0.5.17').path)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "cache")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o.strip() for o, _ in outs}) == 1


def test_works_offline_once_cached(provider, solsentry):
    # A network namespace with loopback only: the registry is unreachable.
    provider.ensure("0.4.26")
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("unshare -n not permitted here")
    exe = Path(sys.executable).parent / "solsentry"
    out = subprocess.run(["unshare", "-n", str(exe), "solc", "which", "^0.4.24"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("0.4.26/solc")


def test_offline_falls_back_to_newest_installed(tmp_path, provider):
    # Only 0.4.24 is in this cache; offline, ^0.4.24 cannot get 0.4.26 and settles for 0.4.24.
    online = _fresh(tmp_path)
    online.ensure("0.4.24")
    offline = _fresh(tmp_path, offline=True)
    assert str(offline.select([("x", Constraint.parse("^0.4.24"))]).version) == "0.4.24"
