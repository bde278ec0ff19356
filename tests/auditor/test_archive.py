"""auditor.archive: safe unpacking of JSON and ZIP inputs, against real archives built here."""

from __future__ import annotations

import json
import os
import stat
import struct
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from auditor.archive import is_zip, unpack
from auditor.archive_guard import ArchiveError, ArchiveLimits, safe_relpath
from auditor.errors import AuditorError

SOURCE = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\ncontract A { uint x; }\n"


# ---- helpers -----------------------------------------------------------------------------------
def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes | str]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" on purpose
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, content in entries:
                zf.writestr(name, content)
    return buf.getvalue()


def info(name: str, mode: int, system: int = 3) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name)
    zi.create_system = system
    zi.external_attr = mode << 16
    return zi


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def box(tmp_path: Path):
    """A sandbox holding `dest`; after each test nothing but `dest`'s own content may exist in it."""
    sandbox = tmp_path / "sandbox"
    dest = sandbox / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    before = tree(tmp_path)
    yield dest
    outside = {p for p in tree(tmp_path) - before if not p.startswith("sandbox/a/b/dest/")}
    assert not outside, f"written outside dest: {outside}"


def expect(code: str, data: bytes, dest: Path, limits: ArchiveLimits | None = None) -> ArchiveError:
    with pytest.raises(ArchiveError) as err:
        unpack(data, dest, limits or ArchiveLimits())
    assert err.value.code == code, (err.value.code, str(err.value))
    assert isinstance(err.value, AuditorError)
    assert str(dest.parent) not in str(err.value)  # messages name entries, never local paths
    return err.value


# ---- good inputs -------------------------------------------------------------------------------
def test_json_input_is_written_under_dest(box):
    doc = {"files": {"contracts/A.sol": SOURCE, "./contracts/lib/B.sol": "contract B {}", "README.md": "hi"}}
    written = unpack(json.dumps(doc).encode(), box)
    assert [p.relative_to(box).as_posix() for p in written] == ["README.md", "contracts/A.sol", "contracts/lib/B.sol"]
    assert (box / "contracts" / "A.sol").read_text() == SOURCE


def test_zip_input_with_folders_and_other_files(box):
    data = make_zip([("repo/", b""), ("repo/contracts/A.sol", SOURCE), ("repo/foundry.toml", "[profile.default]\n"),
                     (info("repo/run.sh", stat.S_IFREG | 0o755), "#!/bin/sh\nrm -rf /\n")])
    assert is_zip(data)
    written = unpack(data, box)
    assert {p.relative_to(box).as_posix() for p in written} == {"repo/contracts/A.sol", "repo/foundry.toml",
                                                                 "repo/run.sh"}
    script = box / "repo" / "run.sh"
    assert not script.stat().st_mode & 0o111  # never executable, whatever the archive says
    assert (box / "repo" / "contracts" / "A.sol").read_text() == SOURCE


def test_empty_zip_unpacks_to_nothing(box):
    assert unpack(make_zip([]), box) == []


def test_stored_entries_and_zip_made_on_windows(box):
    data = make_zip([(info("A.sol", 0, system=0), SOURCE)], method=zipfile.ZIP_STORED)
    assert [p.name for p in unpack(data, box)] == ["A.sol"]


# ---- paths -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "code"), [
    ("../evil.sol", "traversal"),
    ("contracts/../../evil.sol", "traversal"),
    ("..\\evil.sol", "traversal"),
    ("a/..", "traversal"),
    ("/tmp/evil.sol", "absolute"),
    ("\\evil.sol", "absolute"),
    ("\\\\server\\share\\evil.sol", "absolute"),
    ("C:/evil.sol", "absolute"),
    ("c:evil.sol", "absolute"),
    ("contracts\\A.sol", "bad_path"),
    ("a\x00.sol", "bad_path"),
    ("a\n.sol", "bad_path"),
    ("./", "bad_path"),
    ("x" * 300 + ".sol", "bad_path"),
])
def test_bad_paths_are_refused_in_zip_and_json(box, name, code):
    if "\x00" in name:  # zipfile cuts names at NUL when writing: put it into the bytes afterwards
        placeholder = name.replace("\x00", "_")
        data = make_zip([("ok/A.sol", SOURCE), (placeholder, "x")]).replace(placeholder.encode(), name.encode())
    else:
        data = make_zip([("ok/A.sol", SOURCE), (name, "contract Evil {}")])
    expect(code, data, box)
    expect(code, json.dumps({"files": {"ok/A.sol": SOURCE, name: "contract Evil {}"}}).encode(), box)
    assert not list(box.iterdir())  # names are all checked before anything is written
    assert not (box.parent / "evil.sol").exists() and not Path("/tmp/evil.sol").exists()


def test_safe_relpath_normalises():
    assert safe_relpath("./a//b/./C.sol").as_posix() == "a/b/C.sol"
    assert safe_relpath("dir/").as_posix() == "dir"


def test_symlink_entry_is_refused(box):
    data = make_zip([("A.sol", SOURCE), (info("link.sol", stat.S_IFLNK | 0o777), "/etc/passwd")])
    expect("symlink", data, box)
    data = make_zip([(info("lib", stat.S_IFLNK | 0o777), "/etc"), ("lib/passwd", "x")])
    expect("symlink", data, box)
    assert not list(box.iterdir())


def test_special_files_are_refused(box):
    expect("special", make_zip([(info("fifo", stat.S_IFIFO | 0o644), "")]), box)
    expect("special", make_zip([(info("dev", stat.S_IFCHR | 0o644), "")]), box)


def test_a_symlink_already_in_dest_is_not_followed(box, tmp_path):
    outside = tmp_path / "sandbox" / "outside"
    outside.mkdir()
    (box / "lib").symlink_to(outside, target_is_directory=True)
    expect("traversal", make_zip([("lib/evil.sol", "x")]), box)
    expect("traversal", json.dumps({"files": {"lib/deeper/evil.sol": "x"}}).encode(), box)
    assert not list(outside.iterdir())
    (box / "lib").unlink()
    (box / "f.sol").symlink_to(outside / "target.sol")
    expect("duplicate", make_zip([("f.sol", "x")]), box)  # O_EXCL | O_NOFOLLOW: not written through
    assert not (outside / "target.sol").exists()
    outside.rmdir()


# ---- duplicates --------------------------------------------------------------------------------
@pytest.mark.parametrize("names", [
    ("A.sol", "A.sol"),
    ("A.sol", "./A.sol"),
    ("a/A.sol", "a//A.sol"),
    ("a", "a/A.sol"),
    ("a/A.sol", "a"),
    ("a/", "a"),
])
def test_duplicate_and_clashing_names(box, names):
    expect("duplicate", make_zip([(n, "contract A {}") for n in names]), box)
    assert not list(box.iterdir())


def test_duplicate_json_keys(box):
    raw = b'{"files": {"A.sol": "contract A {}", "A.sol": "contract Evil {}"}}'
    expect("duplicate", raw, box)
    expect("duplicate", b'{"files": {"A.sol": "x", "./A.sol": "y"}}', box)


# ---- sizes -------------------------------------------------------------------------------------
def test_too_many_files(box):
    limits = ArchiveLimits(max_files=3)
    entries = [(f"F{i}.sol", "contract F {}") for i in range(4)]
    expect("too_many_files", make_zip(entries), box, limits)
    expect("too_many_files", json.dumps({"files": dict(entries)}).encode(), box, limits)
    unpack(make_zip(entries[:3]), box, limits)


def test_file_too_large(box):
    limits = ArchiveLimits(max_file_bytes=2000)
    big = "// " + "x" * 3000
    expect("too_large", make_zip([("A.sol", SOURCE), ("Big.sol", big)]), box, limits)
    expect("too_large", json.dumps({"files": {"A.sol": SOURCE, "Big.sol": big}}).encode(), box, limits)
    assert not list(box.rglob("*.sol"))  # what was written before the error is removed


def test_total_size_cap(box):
    limits = ArchiveLimits(max_total_bytes=100_000, max_ratio=10_000)
    entries = [(f"F{i}.sol", "\n" * 40_000) for i in range(3)]
    expect("bomb", make_zip(entries), box, limits)
    expect("bomb", json.dumps({"files": dict(entries)}).encode(), box, limits)
    assert not list(box.rglob("*.sol"))


def test_compression_ratio_bomb_is_stopped_while_streaming(box):
    limits = ArchiveLimits(max_ratio=50, ratio_grace_bytes=64 * 1024, max_file_bytes=10_000_000)
    data = make_zip([("A.sol", SOURCE), ("bomb.sol", b"\0" * 5_000_000)])
    assert len(data) < 20_000
    err = expect("bomb", data, box, limits)
    assert "bomb.sol" in str(err)
    assert not list(box.rglob("*.sol"))


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make the local and the central headers of `name` declare `size` uncompressed bytes."""
    out = bytearray(data)
    local = out.find(b"PK\x03\x04")
    while local != -1:
        n = struct.unpack_from("<H", out, local + 26)[0]
        if bytes(out[local + 30:local + 30 + n]) == name:
            struct.pack_into("<I", out, local + 22, size)
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46:central + 46 + n]) == name:
            struct.pack_into("<I", out, central + 24, size)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def test_headers_that_understate_the_size_are_not_trusted(box):
    limits = ArchiveLimits(max_file_bytes=1_000_000)
    data = _patch_sizes(make_zip([("big.sol", b"\n" * 3_000_000)]), b"big.sol", 1000)
    with zipfile.ZipFile(BytesIO(data)) as zf:
        assert zf.getinfo("big.sol").file_size == 1000
    err = expect("bad_format", data, box, limits)  # the data does not match its header (CRC)
    assert "big.sol" in str(err)
    assert not list(box.rglob("*.sol"))


def test_headers_that_overstate_the_size_reject_early(box):
    limits = ArchiveLimits(max_file_bytes=1000)
    data = _patch_sizes(make_zip([("A.sol", SOURCE)]), b"A.sol", 10**9)
    expect("too_large", data, box, limits)


# ---- formats -----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    b"",
    b"not json",
    b"[]",
    b'"files"',
    b"{}",
    b'{"files": []}',
    b'{"files": {"A.sol": 1}}',
    b'{"files": {"A.sol": null}}',
    b'{"files": {"A.sol": "\\ud800"}}',
    b'{"files": {"A.sol": "contract A {}"}',
    b"\xef\xbb\xbf" + b'{"files": {}}',
    b'{"files": {"A.sol": "caf\xe9"}}',
    b"\xff\xfe{\x00}\x00",
    b"[" * 100_000,
    b"\x1f\x8b\x08\x00" + b"\0" * 20,  # gzip
])
def test_malformed_inputs(box, raw):
    expect("bad_format", raw, box)


def test_corrupt_zip_entries(box):
    good = make_zip([("A.sol", SOURCE * 20)])
    expect("bad_format", good[:40], box)  # truncated
    expect("bad_format", b"PK\x03\x04" + b"\0" * 100, box)
    corrupt = bytearray(good)
    corrupt[60] ^= 0xFF  # inside the compressed data
    expect("bad_format", bytes(corrupt), box)
    assert not list(box.rglob("*.sol"))


def test_encrypted_entry_is_refused(box):
    data = bytearray(make_zip([("A.sol", SOURCE)]))
    for magic, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(magic)
        struct.pack_into("<H", data, at + offset, struct.unpack_from("<H", data, at + offset)[0] | 0x1)
    expect("bad_format", bytes(data), box)


def test_unsupported_compression_method(box):
    data = bytearray(make_zip([("A.sol", SOURCE)]))
    for magic, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        struct.pack_into("<H", data, data.find(magic) + offset, 99)  # AES, unknown to zipfile
    expect("bad_format", bytes(data), box)


def test_dest_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        unpack(b'{"files": {}}', tmp_path / "missing")
    assert os.listdir(tmp_path) == []


def test_deep_json_nesting_cannot_crash_a_process_with_a_raised_recursion_limit(box):
    """py_ecc (imported by the node's signer) raises the limit to 100,000; the C JSON decoder would then
    overflow the C stack on deep nesting and kill the process instead of raising."""
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100_000))
    try:
        expect("bad_format", b'{"files": ' + b"[" * 500_000, box)
        expect("bad_format", b'{"files": {"a": ' * 100_000, box)
    finally:
        sys.setrecursionlimit(old)
    unpack(b'{"files": {"A.sol": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}}', box)
