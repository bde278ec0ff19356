"""Private state on disk: folders 0700, files 0600.

The servers (`solsentry serve`, `solsentry oracle run`) call `restrict_umask()` first, so that
everything they and their audit children create is private; the folders they keep state in are
created (or tightened) with `private_dir`, and files made before the umask was set with
`private_file`. The results cache uses them itself, since the CLI shares it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def restrict_umask() -> int:
    """Make every file and folder this process (and its children) creates private; the old umask."""
    return os.umask(PRIVATE_UMASK)


def _ours(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid()


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents with mode 0700, or tighten an existing folder to 0700.

    An existing folder is changed only when this user owns it and it is not shared by nature (the
    home folder, `/`, a sticky folder such as /tmp); otherwise a group/other-accessible one gets a
    warning.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:           # made meanwhile by another process or thread
            continue
        os.chmod(d, 0o700)                # whatever the umask
    if not missing:
        try:
            st = path.stat()
        except OSError:
            return path
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode) and mode & 0o077:
            shared = mode & stat.S_ISVTX or path.resolve() in (Path("/"), Path.home().resolve())
            if _ours(st) and not shared:
                os.chmod(path, 0o700)
            else:
                log.warning("%s is accessible to other users (mode %o); it holds private data", path, mode)
    return path


def private_file(path: Path) -> Path:
    """Tighten an existing file of this user to 0600 (nothing happens to a missing one)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return path
    if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077 and _ours(st):
        os.chmod(path, 0o600)
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database and its -wal/-shm/-journal files, 0600 (SQLite gives new ones the
    database file's mode)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(Path(f"{path}{suffix}"))
    return path
