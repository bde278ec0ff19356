"""The defences of auditor/archive.py, whatever the input format: the caps (`ArchiveLimits`), the
error with its machine code (`ArchiveError`, codes listed in auditor/archive.py), path checks
(`safe_relpath`, `Names`) and the `Writer` that creates files inside the destination only and enforces
the size limits on the bytes actually written.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from auditor.errors import AuditorError

CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME_SHOWN = 120


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one input may unpack to."""

    max_files: int = 5000                 # entries, folders included
    max_file_bytes: int = 2_000_000       # one file, decompressed
    max_total_bytes: int = 50_000_000     # all files, decompressed
    max_ratio: float = 100.0              # decompressed / compressed size of one ZIP entry
    ratio_grace_bytes: int = 256 * 1024   # the ratio is checked once an entry is past this size
    max_path_chars: int = 1024


class ArchiveError(AuditorError):
    """The input cannot be unpacked safely; `code` says why (see auditor/archive.py)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---- paths -------------------------------------------------------------------------------------
def safe_relpath(name: str, limits: ArchiveLimits | None = None) -> PurePosixPath:
    """`name` as a relative POSIX path with no `.`/empty components; raises ArchiveError."""
    limits = limits or ArchiveLimits()
    shown = show_name(name)
    if name.startswith(("/", "\\")):
        raise ArchiveError("absolute", f"absolute path {shown}")
    if _DRIVE.match(name):
        raise ArchiveError("absolute", f"path with a drive letter {shown}")
    if ".." in re.split(r"[/\\]", name):
        raise ArchiveError("traversal", f"path escapes the input folder: {shown}")
    if "\\" in name:
        raise ArchiveError("bad_path", f"backslash in path {shown}")
    if _CONTROL.search(name):
        raise ArchiveError("bad_path", f"control character in path {shown}")
    if len(name) > limits.max_path_chars:
        raise ArchiveError("bad_path", f"path longer than {limits.max_path_chars} characters: {shown}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts:
        raise ArchiveError("bad_path", f"empty path {shown}")
    if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        raise ArchiveError("bad_path", f"path component longer than 255 bytes: {shown}")
    return PurePosixPath(*parts)


def show_name(name: str) -> str:
    text = ascii(name) if _CONTROL.search(name) else repr(name)
    return text if len(text) <= _MAX_NAME_SHOWN else text[:_MAX_NAME_SHOWN] + "...'"


class Names:
    """Every file and folder path seen, to refuse duplicates and file/folder clashes."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.files: set[PurePosixPath] = set()
        self.dirs: set[PurePosixPath] = set()
        self.entries = 0

    def add(self, rel: PurePosixPath, is_dir: bool, shown: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise ArchiveError("too_many_files", f"more than {self.limits.max_files} entries")
        parents = set(rel.parents) - {PurePosixPath(".")}
        if rel in self.files or (not is_dir and rel in self.dirs) or parents & self.files:
            raise ArchiveError("duplicate", f"duplicate or clashing path {shown}")
        if is_dir:
            self.dirs.add(rel)
        else:
            self.files.add(rel)
        self.dirs |= parents


# ---- writing -----------------------------------------------------------------------------------
class Writer:
    def __init__(self, root: Path, limits: ArchiveLimits) -> None:
        self.root = root
        self.limits = limits
        self.total = 0
        self.written: list[Path] = []

    def mkdir(self, rel: PurePosixPath) -> Path:
        """Create the folder `rel` one component at a time, refusing to pass through anything that is
        not a real folder inside the root (a symbolic link, a file)."""
        current = self.root
        for part in rel.parts:
            current = current / part
            try:
                os.mkdir(current, 0o700)         # submitted code: private
            except FileExistsError:
                pass
            except OSError as exc:
                raise ArchiveError("bad_path", f"cannot create folder {show_name(rel.as_posix())}: {exc.strerror}") \
                    from None
            st = os.lstat(current)
            if stat.S_ISLNK(st.st_mode):
                raise ArchiveError("traversal", f"path escapes the input folder: {show_name(rel.as_posix())}")
            if not stat.S_ISDIR(st.st_mode):
                raise ArchiveError("duplicate", f"path is both a file and a folder: {show_name(rel.as_posix())}")
        if not current.resolve(strict=True).is_relative_to(self.root):
            raise ArchiveError("traversal", f"path escapes the input folder: {show_name(rel.as_posix())}")
        return current

    def write(self, rel: PurePosixPath, chunks: Iterable[bytes], compressed_size: int | None = None) -> None:
        shown = show_name(rel.as_posix())
        path = self.mkdir(rel.parent) / rel.name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            raise ArchiveError("duplicate", f"duplicate path {shown}") from None
        except OSError as exc:
            raise ArchiveError("bad_path", f"cannot create {shown}: {exc.strerror}") from None
        self.written.append(path)
        size = 0
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                size += len(chunk)
                self.total += len(chunk)
                if size > self.limits.max_file_bytes:
                    raise ArchiveError("too_large", f"{shown} is over the {self.limits.max_file_bytes} byte limit")
                if self.total > self.limits.max_total_bytes:
                    raise ArchiveError("bomb", f"the input unpacks to more than {self.limits.max_total_bytes} bytes")
                if (compressed_size is not None and size > self.limits.ratio_grace_bytes
                        and size > self.limits.max_ratio * max(compressed_size, 1)):
                    raise ArchiveError("bomb", f"{shown} decompresses more than {self.limits.max_ratio:g} times "
                                               "its compressed size")
                fh.write(chunk)

    def discard(self) -> None:
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()
