"""The source sandbox (auditor/sandbox.py): which imports an audit may read, decided before reading."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from auditor.pipeline import AuditOptions, audit
from auditor.sandbox import Sandbox
from auditor.solc.sources import Remapping, compilation_unit, resolve_checked
from auditor.targets import load_target

PRAGMA = "pragma solidity ^0.8.0;\n"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(project, outside dir holding secret.sol)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.sol").write_text(PRAGMA + f"contract S {{}} // {secrets.token_hex(8)}\n")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    return project, outside


def refusal(project: Path, spec: str, remappings=(), roots=None) -> str | None:
    importer = project / "src" / "A.sol"
    importer.write_text(PRAGMA + f'import "{spec}";\n')
    sandbox = Sandbox.of([project])
    return resolve_checked(importer, spec, list(remappings), roots or [project], sandbox)[1]


def test_absolute_imports_are_refused_whether_or_not_the_file_exists(layout):
    project, outside = layout
    for spec in (str(outside / "secret.sol"), str(outside / "missing.sol"), "/proc/self/environ"):
        why = refusal(project, spec)
        assert why and "absolute import paths are not allowed" in why and spec in why


def test_dot_dot_escapes_are_refused_from_the_path_text(layout):
    project, _ = layout
    # The same message for a file that exists and one that does not: existence is not revealed.
    a = refusal(project, "../../outside/secret.sol")
    b = refusal(project, "../../outside/nothing-here.sol")
    assert a and b and "leads outside the project" in a
    assert a.replace("secret", "X") == b.replace("nothing-here", "X")
    assert refusal(project, "./B.sol") is None  # inside: allowed (and simply not found)


def test_remappings_whose_target_is_outside_are_refused(layout):
    project, outside = layout
    for target in (f"{outside}/", "../outside/", "lib/../../outside/"):
        why = refusal(project, "evil/secret.sol", [Remapping("evil/", target)])
        assert why and "the remapping" in why and "evil/secret.sol" in why, target
    (project / "lib" / "dep").mkdir(parents=True)
    assert refusal(project, "dep/X.sol", [Remapping("dep/", "lib/dep/")]) is None


def test_symbolic_links_leaving_the_roots_are_refused(layout):
    project, outside = layout
    (project / "src" / "link.sol").symlink_to(outside / "secret.sol")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "pkg").symlink_to(outside)
    assert "symbolic link" in refusal(project, "./link.sol")
    why = refusal(project, "pkg/secret.sol", roots=[project, project / "node_modules"])
    assert why and "symbolic link" in why


def test_refused_imports_are_never_read(layout, monkeypatch):
    project, outside = layout
    imports = f'import "{outside}/secret.sol";\nimport "../../outside/secret.sol";\n'
    (project / "src" / "A.sol").write_text(PRAGMA + imports)
    read: list[Path] = []
    original = Path.read_text

    def spy(self, *args, **kwargs):
        read.append(Path(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    unit = compilation_unit([project / "src" / "A.sol"], (), [project], Sandbox.of([project]))
    assert list(unit) == [(project / "src" / "A.sol").resolve()]
    assert len(unit[(project / "src" / "A.sol").resolve()].refused) == 2
    assert not any(p.is_relative_to(outside) for p in read)


def test_allow_path_lets_a_named_directory_in(layout):
    project, outside = layout
    (project / "src" / "A.sol").write_text(PRAGMA + 'import "ext/secret.sol";\ncontract A {}\n')
    (project / "remappings.txt").write_text(f"ext/={outside}/\n")
    (project / "foundry.toml").write_text('[profile.default]\nsrc = "src"\n')
    t = load_target(project)
    unit = compilation_unit(t.sources, t.remappings, t.include_roots, t.sandbox)
    assert any(sf.refused for sf in unit.values())
    t = load_target(project, allow_paths=[outside])
    unit = compilation_unit(t.sources, t.remappings, t.include_roots, t.sandbox)
    assert not any(sf.refused for sf in unit.values())
    assert (outside / "secret.sol").resolve() in unit
    with pytest.raises(Exception, match="hosted audit"):
        load_target(project, allow_paths=[outside], hosted=True)


def test_hosted_targets_ignore_the_enclosing_project(tmp_path):
    # A submission unpacked below a directory that happens to be a Foundry project must not borrow
    # its remappings or libs (a server's data dir could sit inside any checkout).
    host = tmp_path / "host"
    (host / "lib" / "secretlib" / "src").mkdir(parents=True)
    (host / "lib" / "secretlib" / "src" / "S.sol").write_text(PRAGMA + "contract S {}\n")
    (host / "foundry.toml").write_text('[profile.default]\nsrc = "src"\n')
    job = host / "jobs" / "1" / "src"
    job.mkdir(parents=True)
    (job / "A.sol").write_text(PRAGMA + 'import "secretlib/S.sol";\ncontract A {}\n')
    assert load_target(job).project_root == host          # the CLI borrows it, on purpose
    t = load_target(job, hosted=True)
    assert t.project_root is None and t.sandbox.roots == (job.resolve(),)
    unit = compilation_unit(t.sources, t.remappings, t.include_roots, t.sandbox)
    assert all(p.is_relative_to(job.resolve()) for p in unit)


def test_a_refused_import_is_a_file_error_and_the_rest_is_analyzed(layout):
    project, _ = layout
    (project / "src" / "Bad.sol").write_text(PRAGMA + 'import "../../outside/secret.sol";\ncontract B {}\n')
    (project / "src" / "Good.sol").write_text(PRAGMA + "contract G { function f() external {} }\n")
    report = audit(project, AuditOptions(tools=("slither",), review="none", use_cache=False, hosted=True))
    files = {f.path: f for f in report.files}
    assert files["src/Good.sol"].status == "compiled"
    assert files["src/Bad.sol"].status == "error"
    assert "'../../outside/secret.sol' refused" in files["src/Bad.sol"].error
    assert "only the submitted files may be read" in files["src/Bad.sol"].error
    assert not any("secret" in f.path for f in report.files)
