"""Unpacking untrusted audit inputs safely: a JSON document of sources, or a ZIP archive.

Two input formats (docs/oracle-protocol.md, "Input format"), told apart by their first bytes:

* a ZIP archive (starts with ``PK\\x03\\x04``, or ``PK\\x05\\x06`` when empty);
* anything else must be a UTF-8 JSON document ``{"files": {"rel/path.sol": "source", ...}}``
  (paths relative and ``/``-separated; other top-level keys are ignored).

Every entry is written under ``dest`` as a plain file (mode 0644: archive permission bits are
ignored, nothing is ever made executable, nothing is ever run). Non-``.sol`` files are written
too, because project configuration (``foundry.toml``, ``remappings.txt``, ...) decides how the
sources compile; it is only ever *read*.

Defences (auditor/archive_guard.py), each raising :class:`ArchiveError` with a machine code (``ArchiveError.code``):

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

import json
import lzma
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path, PurePosixPath

from auditor.archive_guard import CHUNK, ArchiveError, ArchiveLimits, Names, Writer, safe_relpath, show_name

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unpack(data: bytes, dest: Path, limits: ArchiveLimits | None = None) -> list[Path]:
    """Unpack `data` (JSON sources or ZIP) into the existing folder `dest`; returns the files written
    (absolute, sorted). Raises ArchiveError; `dest` is best left for the caller to discard then."""
    limits = limits or ArchiveLimits()
    root = dest.resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(dest)
    writer = Writer(root, limits)
    try:
        if is_zip(data):
            _unpack_zip(data, writer, limits)
        else:
            _unpack_json(data, writer, limits)
    except BaseException:
        writer.discard()
        raise
    return sorted(writer.written)


# ---- JSON --------------------------------------------------------------------------------------
def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ArchiveError("duplicate", f"duplicate key {show_name(key)} in the JSON input")
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


def _unpack_json(data: bytes, writer: Writer, limits: ArchiveLimits) -> None:
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
    names = Names(limits)
    planned: list[tuple[PurePosixPath, bytes]] = []
    for name, content in files.items():
        if not isinstance(content, str):
            raise ArchiveError("bad_format", f"the content of {show_name(name)} is not a string")
        rel = safe_relpath(name, limits)
        names.add(rel, False, show_name(name))
        try:
            raw = content.encode("utf-8")
        except UnicodeEncodeError:
            raise ArchiveError("bad_format", f"the content of {show_name(name)} is not valid Unicode") from None
        planned.append((rel, raw))
    for rel, raw in planned:
        writer.write(rel, (raw[i:i + CHUNK] for i in range(0, max(len(raw), 1), CHUNK)))


# ---- ZIP ---------------------------------------------------------------------------------------
def _unpack_zip(data: bytes, writer: Writer, limits: ArchiveLimits) -> None:
    try:
        zf = zipfile.ZipFile(BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ArchiveError("bad_format", f"not a readable ZIP archive: {exc}") from None
    if len(infos) > limits.max_files:
        raise ArchiveError("too_many_files", f"more than {limits.max_files} entries ({len(infos)})")
    names = Names(limits)
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath, bool]] = []
    declared = 0
    for info in infos:
        # orig_filename: zipfile cuts names at a NUL byte, which must be refused rather than hidden.
        name = info.orig_filename
        shown = show_name(name)
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
    """The decompressed bytes of one entry, at most CHUNK at a time (so a bomb never sits in memory);
    a corrupt entry (bad CRC, truncated, unsupported method, bad compressed data) is bad_format."""
    try:
        with zf.open(info) as member:
            while chunk := member.read(CHUNK):
                yield chunk
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error, lzma.LZMAError,
            ValueError, OSError) as exc:  # bz2 reports bad data as OSError
        raise ArchiveError("bad_format", f"cannot read {show_name(info.filename)}: {exc}"[:300]) from None
