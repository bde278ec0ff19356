"""The tree of a git commit, written into a folder without running anything of the repository.

PR mode (`solsentry audit PATH --diff REF`, auditor/diff.py) audits the base commit as well. A
checkout (`git checkout`, `git worktree add`) would run the repository's hooks (post-checkout) and
filters (smudge, process), which are code of whoever wrote the repository's config. So the tree is
read with plumbing that runs neither: `git ls-tree -r -z -l` lists it and `git cat-file --batch`
(without `--filters`) hands over the stored bytes. Only regular blobs are written (modes 100644 and
100755, as 0644: nothing there is ever executed); symbolic links (120000) are skipped, since the
sandbox would refuse them anyway and a link out of the tree must not be created; an entry whose
path is absolute, holds `..` or a `.git` component is refused. Gitlinks (160000, submodules such as
Foundry's lib/forge-std) have no tree here: `gitlinks` lists them so that the caller can provide
the checkout's copies (auditor/gitdeps.py).
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from auditor.errors import AuditorError

# A blob that is not Solidity and larger than this is no config or marker an audit reads (they are
# small); leaving it out keeps a repository's binaries and data out of the temporary folder.
MAX_OTHER_BLOB = 1 << 20
# Every git call: no hooks, no fsmonitor daemon (core.fsmonitor may name a program), no prompts.
_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]


class GitBaseError(AuditorError):
    """PR mode cannot read the base: no git repository, an unknown ref, git missing or failing."""


@dataclass
class Materialized:
    commit: str
    files: int = 0
    skipped_links: list[str] = field(default_factory=list)
    gitlinks: list[str] = field(default_factory=list)      # submodule paths, '/'-separated
    dirs: set[str] = field(default_factory=set)             # every directory of the tree ('' = top)
    paths: set[str] = field(default_factory=set)            # every entry of the tree, written or not


def _git(repo: Path, *args: str, what: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        # Paths are bytes to git: undecodable ones survive as surrogates (os.fsencode writes them back).
        done = subprocess.run([*_GIT, "-C", str(repo), *args], capture_output=True, encoding="utf-8",
                              errors="surrogateescape", env=env, timeout=120, check=False)
    except FileNotFoundError:
        raise GitBaseError("--diff needs git, which is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitBaseError(f"git took too long to {what}") from None
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise GitBaseError(f"cannot {what}: {detail}")
    return done.stdout


def toplevel(path: Path) -> Path:
    """The top of the git work tree that holds `path` (a file or a folder)."""
    start = path if path.is_dir() else path.parent
    if not start.is_dir():
        raise GitBaseError(f"{path} does not exist")
    try:
        out = _git(start, "rev-parse", "--show-toplevel", what="find the git repository")
    except GitBaseError as exc:
        if "not a git repository" not in str(exc):
            raise          # e.g. git's "dubious ownership" refusal: its own words say what to do
        raise GitBaseError(f"{path} is not inside a git repository (--diff REF compares with a commit of "
                           "it; use --diff-from REPORT.json otherwise)") from None
    return Path(out.strip()).resolve()


def resolve(repo: Path, ref: str) -> str:
    """The commit `ref` names, as a full sha."""
    # A ref that starts with '-' would be read as an option of git.
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n"):
        raise GitBaseError(f"--diff {ref!r}: not a git ref")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                    what=f"resolve {ref}").strip()
    except GitBaseError:
        raise GitBaseError(f"--diff {ref}: no such commit in {repo} (fetch it first, e.g. "
                           f"git fetch origin {ref.removeprefix('origin/')})") from None


def _safe(path: str) -> bool:
    p = PurePosixPath(path)
    return (bool(path) and not p.is_absolute() and ".." not in p.parts
            and not any(part.lower() == ".git" for part in p.parts))


def _entries(repo: Path, commit: str) -> list[tuple[str, str, str, int, str]]:
    """(mode, type, object, size, path) of every entry of the commit's tree, recursively."""
    out = _git(repo, "ls-tree", "-r", "-z", "-l", "--full-tree", commit, what=f"list the tree of {commit}")
    entries = []
    for record in filter(None, out.split("\0")):
        meta, _, path = record.partition("\t")
        mode, kind, obj, size = meta.split()
        entries.append((mode, kind, obj, int(size) if size.isdigit() else 0, path))
    return entries


def materialize(repo: Path, commit: str, dest: Path) -> Materialized:
    """Write the tree of `commit` of `repo` into the empty folder `dest` (see the module docstring)."""
    result = Materialized(commit)
    wanted: list[tuple[str, str]] = []
    for mode, kind, obj, size, path in _entries(repo, commit):
        if not _safe(path):
            raise GitBaseError(f"the tree of {commit[:12]} holds an unsafe path {path!r}; refusing to write it")
        result.paths.add(path)
        parent = PurePosixPath(path).parent
        result.dirs.update(str(p) if str(p) != "." else "" for p in [parent, *parent.parents])
        if mode == "160000":
            result.gitlinks.append(path)
        elif mode == "120000":
            result.skipped_links.append(path)
        elif kind == "blob" and mode in ("100644", "100755") and (path.endswith(".sol") or size <= MAX_OTHER_BLOB):
            wanted.append((obj, path))
    result.dirs.add("")
    _write_blobs(repo, wanted, dest)
    result.files = len(wanted)
    # enclosing_project() and node_modules_dirs() stop at a `.git`: the base stops where the head does.
    (dest / ".git").write_text("")
    return result


def _write_blobs(repo: Path, wanted: list[tuple[str, str]], dest: Path) -> None:
    if not wanted:
        return
    proc = subprocess.Popen([*_GIT, "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:   # a writer thread: git answers while it reads, so one side must not block the other
        try:
            for obj, _ in wanted:
                proc.stdin.write(obj.encode() + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for obj, path in wanted:
            header = proc.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise GitBaseError(f"git cat-file could not read {path} ({obj[:12]})")
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)      # the newline after each object
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL|O_NOFOLLOW: a name seen twice, or anything already there, is never written through.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
    finally:
        writer.join(timeout=5)
        proc.stdout.close()      # on an early error git gets EPIPE and stops
        proc.wait(timeout=30)
