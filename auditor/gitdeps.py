"""Dependencies that are not in a commit's tree, provided to the base audit from the checkout.

Submodules (gitlinks: Foundry's lib/forge-std) and ignored dependency folders (`node_modules`,
`lib/<pkg>` installed by `forge install --no-git`) are in the work tree but not in the committed
tree that auditor/gitbase.py writes. Without them the base would not compile, and every finding of
the head would look new. The checkout's copies are the best stand-in for the base's.

They are *copied* into the base folder, not linked or passed as `--allow-path`: a link leaving the
base root is refused by the sandbox (auditor/sandbox.py) unless its target is allowed, and even
then every path through it resolves outside the root, so file names (and the results cache's keys,
which hold names relative to the root) would differ from the head's. A copy keeps the base root the
only root, with the same relative names as the head.

What is copied: `.sol` files and the small files the target detection reads (package markers,
remappings, configs), never anything else. Links inside the dependency are followed only while
their real path stays inside the repository (as the head's sandbox allows them); `.git` folders are
not entered.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from auditor.gitbase import Materialized

# What auditor/targets reads besides sources: package markers (targets/walk.py), remappings and configs.
_KEPT_NAMES = frozenset({"foundry.toml", "remappings.txt", "package.json", "LICENSE", "LICENSE.md", "README.md",
                         "hardhat.config.js", "hardhat.config.ts", "truffle-config.js", "truffle.js"})
_MAX_FILE = 8 << 20
_MAX_FILES = 200_000      # a runaway tree (a link farm) stops here rather than fill the disk


def dependency_dirs(checkout: Path, tree: Materialized) -> list[str]:
    """Folders of the checkout, '/'-separated relative to its top, to copy into the base: the
    submodules of the base's tree, and `node_modules` and `lib/<pkg>` beside any folder of the tree
    that the tree itself lacks."""
    found = [g for g in tree.gitlinks if (checkout / g).is_dir()]
    for d in sorted(tree.dirs):
        here = checkout / d if d else checkout
        modules = _join(d, "node_modules")
        if modules not in tree.dirs and (here / "node_modules").is_dir():
            found.append(modules)
        lib = here / "lib"
        if lib.is_dir() and not lib.is_symlink():
            for pkg in sorted(lib.iterdir()):
                name = _join(d, f"lib/{pkg.name}")
                if pkg.is_dir() and name not in tree.dirs and name not in tree.paths:
                    found.append(name)
    # Outermost only: a copied folder brings what is below it.
    out: list[str] = []
    for name in sorted(set(found)):
        if not any(PurePosixPath(name).is_relative_to(o) for o in out):
            out.append(name)
    return out


def copy_dependencies(checkout: Path, tree: Materialized, dest: Path) -> list[str]:
    """Copy `dependency_dirs` from `checkout` into `dest`; returns the folders copied."""
    top = checkout.resolve()
    budget = [_MAX_FILES]
    names = dependency_dirs(checkout, tree)
    for name in names:
        _copy_tree(checkout / name, dest / name, top, set(), budget)
    return names


def _copy_tree(src: Path, dst: Path, top: Path, seen: set[Path], budget: list[int]) -> None:
    real = src.resolve()
    if real in seen or not real.is_relative_to(top):
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(src), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if budget[0] <= 0:
            return
        path = Path(entry.path)
        try:
            if entry.is_symlink() and not path.resolve().is_relative_to(top):
                continue          # a link out of the repository: the head's sandbox refuses it too
            if entry.is_dir():    # follows a link that stayed inside; `seen` stops loops
                if entry.name != ".git":
                    _copy_tree(path, dst / entry.name, top, seen, budget)
            elif (entry.is_file() and (entry.name.endswith(".sol") or entry.name in _KEPT_NAMES)
                  and entry.stat().st_size <= _MAX_FILE):
                dst.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dst / entry.name, follow_symlinks=True)
                budget[0] -= 1
        except OSError:
            continue              # unreadable or vanished: the base audit goes without it


def _join(d: str, name: str) -> str:
    return f"{d}/{name}" if d else name
