"""Unpacking untrusted audit inputs safely: a JSON document of sources, or a ZIP archive.

Two input formats (docs/oracle-protocol.md, "Input format"), told apart by their first bytes:

* a ZIP archive (starts with ``PK\\x03\\x04``, or ``PK\\x05\\x06`` when empty);
* anything else must be a UTF-8 JSON document ``{"files": {"rel/path.sol": "source", ...}}``
  (paths relative and ``/``-separated; other top-level keys are ignored).

Every entry is written under ``dest`` as a plain file (mode 0644: archive permission bits are
ignored, nothing is ever made executable, nothing is ever run). Non-``.sol`` files are written
too, because project configuration (``foundry.toml``, ``remappings.txt``, ...) decides how the
sources compile; it is only ever *read*.

Defences, each raising :class:`ArchiveError` with a machine code (``ArchiveError.code``):

============== =================================================================================
code           when
============== =================================================================================
traversal      a ``..`` path component (also when separated by backslashes)
absolute       ``/x``, ``\\x``, a drive letter (``C:``) or a UNC path
bad_path       an empty name, a backslash, a NUL or other control character, an over-long path
symlink        a ZIP entry whose Unix mode says symbolic link
special        a ZIP entry for a device, FIFO or socket
duplicate      two entries with the same (normalised) path, or a path that is both file and folder
too_many_files more entries than ``ArchiveLimits.max_files`` (folders count)
too_large      one file over ``max_file_bytes`` once decompressed
bomb           the total decompressed size over ``max_total_bytes``, or one entry decompressing more
               than ``max_ratio`` times its compressed size (past ``ratio_grace_bytes``)
bad_format     not a readable ZIP, not UTF-8, not JSON, not the expected JSON shape, an encrypted or
               corrupt entry (CRC mismatch), an unsupported compression method
============== =================================================================================

Sizes are enforced while decompressing, on the bytes actually produced: the sizes the ZIP
headers declare are only used to reject early, never to accept. Every path is checked
lexically first and again after resolving, and files are created with ``O_EXCL | O_NOFOLLOW``,
so nothing is written outside ``dest``. All names are checked before the first byte is
written; if a size limit trips while streaming, the files written so far are removed.

Error messages name archive entries, never local paths, so they are the same on every machine.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath

from auditor.errors import AuditorError

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CHUNK = 64 * 1024
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
    """The input cannot be unpacked safely; `code` says why (see the module docstring)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unpack(data: bytes, dest: Path, limits: ArchiveLimits | None = None) -> list[Path]:
    """Unpack `data` (JSON sources or ZIP) into the existing folder `dest`; returns the files written
    (absolute, sorted). Raises ArchiveError; `dest` is best left for the caller to discard then."""
    limits = limits or ArchiveLimits()
    root = dest.resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(dest)
    writer = _Writer(root, limits)
    try:
        if is_zip(data):
            _unpack_zip(data, writer, limits)
        else:
            _unpack_json(data, writer, limits)
    except BaseException:
        writer.discard()
        raise
    return sorted(writer.written)


# ---- paths -------------------------------------------------------------------------------------
def safe_relpath(name: str, limits: ArchiveLimits | None = None) -> PurePosixPath:
    """`name` as a relative POSIX path with no `.`/empty components; raises ArchiveError."""
    limits = limits or ArchiveLimits()
    shown = _show(name)
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


def _show(name: str) -> str:
    text = ascii(name) if _CONTROL.search(name) else repr(name)
    return text if len(text) <= _MAX_NAME_SHOWN else text[:_MAX_NAME_SHOWN] + "...'"


class _Names:
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
class _Writer:
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
                raise ArchiveError("bad_path", f"cannot create folder {_show(rel.as_posix())}: {exc.strerror}") \
                    from None
            st = os.lstat(current)
            if stat.S_ISLNK(st.st_mode):
                raise ArchiveError("traversal", f"path escapes the input folder: {_show(rel.as_posix())}")
            if not stat.S_ISDIR(st.st_mode):
                raise ArchiveError("duplicate", f"path is both a file and a folder: {_show(rel.as_posix())}")
        if not current.resolve(strict=True).is_relative_to(self.root):
            raise ArchiveError("traversal", f"path escapes the input folder: {_show(rel.as_posix())}")
        return current

    def write(self, rel: PurePosixPath, chunks: Iterable[bytes], compressed_size: int | None = None) -> None:
        shown = _show(rel.as_posix())
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


# ---- JSON --------------------------------------------------------------------------------------
def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ArchiveError("duplicate", f"duplicate key {_show(key)} in the JSON input")
        out[key] = value
    return out


# A string (an unterminated one runs to the end: linear time whatever the input) or a bracket.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]+|\\.)*"?|[\[\]{}]', re.DOTALL)
MAX_JSON_DEPTH = 64


def _check_nesting(text: str) -> None:
    """Refuse deeply nested JSON before parsing it: the C decoder recurses once per level, and a
    process whose recursion limit was raised (py_ecc sets 100,000 on import) would overflow the C
    stack and crash on a few hundred kilobytes of brackets instead of raising RecursionError."""
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ArchiveError("bad_format", f"the JSON input nests deeper than {MAX_JSON_DEPTH} levels")
        elif token in "]}":
            depth -= 1


def _unpack_json(data: bytes, writer: _Writer, limits: ArchiveLimits) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError("bad_format", f"the input is neither a ZIP archive nor UTF-8 text (byte {exc.start})") \
            from None
    _check_nesting(text)
    try:
        doc = json.loads(text, object_pairs_hook=_unique_pairs)
    except (ValueError, RecursionError) as exc:
        raise ArchiveError("bad_format", f"the input is neither a ZIP archive nor JSON: {exc}"[:300]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
        raise ArchiveError("bad_format", 'the JSON input must be an object {"files": {"path.sol": "source", ...}}')
    files: dict = doc["files"]
    names = _Names(limits)
    planned: list[tuple[PurePosixPath, bytes]] = []
    for name, content in files.items():
        if not isinstance(content, str):
            raise ArchiveError("bad_format", f"the content of {_show(name)} is not a string")
        rel = safe_relpath(name, limits)
        names.add(rel, False, _show(name))
        try:
            raw = content.encode("utf-8")
        except UnicodeEncodeError:
            raise ArchiveError("bad_format", f"the content of {_show(name)} is not valid Unicode") from None
        planned.append((rel, raw))
    for rel, raw in planned:
        writer.write(rel, (raw[i:i + _CHUNK] for i in range(0, max(len(raw), 1), _CHUNK)))


# ---- ZIP ---------------------------------------------------------------------------------------
def _unpack_zip(data: bytes, writer: _Writer, limits: ArchiveLimits) -> None:
    try:
        zf = zipfile.ZipFile(BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ArchiveError("bad_format", f"not a readable ZIP archive: {exc}") from None
    if len(infos) > limits.max_files:
        raise ArchiveError("too_many_files", f"more than {limits.max_files} entries ({len(infos)})")
    names = _Names(limits)
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath, bool]] = []
    declared = 0
    for info in infos:
        # orig_filename: zipfile cuts names at a NUL byte, which must be refused rather than hidden.
        name = info.orig_filename
        shown = _show(name)
        rel = safe_relpath(name, limits)
        mode = info.external_attr >> 16
        is_dir = info.is_dir() or stat.S_ISDIR(mode)
        if stat.S_ISLNK(mode):
            raise ArchiveError("symlink", f"symbolic link entry {shown}")
        if mode and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArchiveError("special", f"entry {shown} is not a regular file")
        if info.flag_bits & 0x1:
            raise ArchiveError("bad_format", f"entry {shown} is encrypted")
        names.add(rel, is_dir, shown)
        if not is_dir:
            # Header sizes only ever reject early; the real sizes are checked while streaming.
            if info.file_size > limits.max_file_bytes:
                raise ArchiveError("too_large", f"{shown} is over the {limits.max_file_bytes} byte limit")
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise ArchiveError("bomb", f"the input unpacks to more than {limits.max_total_bytes} bytes")
        plan.append((info, rel, is_dir))
    for info, rel, is_dir in plan:
        if is_dir:
            writer.mkdir(rel)
        else:
            writer.write(rel, _member_chunks(zf, info), compressed_size=info.compress_size)


def _member_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The decompressed bytes of one entry, at most _CHUNK at a time (so a bomb never sits in memory);
    a corrupt entry (bad CRC, truncated, unsupported method, bad compressed data) is bad_format."""
    try:
        with zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                yield chunk
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error, lzma.LZMAError,
            ValueError, OSError) as exc:  # bz2 reports bad data as OSError
        raise ArchiveError("bad_format", f"cannot read {_show(info.filename)}: {exc}"[:300]) from None
