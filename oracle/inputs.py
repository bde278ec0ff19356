"""Fetching what a request commits to, and checking it against the commitment.

`fetch(job, w3, settings) -> bytes`:

* source requests (`kind == "source"`): the inline input when the event carried one, else the
  input URI: ``https://`` / ``http://`` through `oracle.safe_fetch` (public addresses only,
  unless the host or address is in `fetch_allow`; the checked address is the one connected to;
  at most `fetch_max_redirects` redirects, each checked alike; a socket timeout, a limit on the
  whole download and a size cap enforced while reading), ``data:`` URIs, ``ipfs://`` through
  the gateway setting when one is configured (the gateway's host obeys the same rules), and
  ``file://`` only when `allow_file_uris` is on (off by default). Then keccak256 of the bytes
  must equal the request's `inputHash`.
* code requests (`kind == "code"`): ``eth_getCode(target)`` at the request's block; its
  keccak256 must equal `inputHash` (the codehash the contract committed to).

Every failure is an `InputError` whose `status` is the ResultStatus code to answer with.
"""

from __future__ import annotations

import base64
import binascii
import logging
import urllib.parse
import urllib.request
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_utils import keccak

from oracle.address_policy import FetchPolicy
from oracle.config import OracleSettings
from oracle.errors import OracleError
from oracle.safe_fetch import FetchError, FetchTooLarge, fetch_url
from oracle.store import Job

log = logging.getLogger(__name__)


class ResultStatus(IntEnum):
    """The `status` of a signed result (docs/oracle-protocol.md, "Results")."""

    OK = 0
    INPUT_UNAVAILABLE = 1
    INPUT_HASH_MISMATCH = 2
    INPUT_TOO_LARGE = 3
    NOT_SOLIDITY = 4
    COMPILE_ERROR = 5
    TIMEOUT = 6
    INTERNAL_ERROR = 7
    NO_CODE = 8


class InputError(OracleError):
    """The input could not be obtained or does not match its commitment; `status` says how to answer."""

    def __init__(self, status: ResultStatus, message: str) -> None:
        super().__init__(message)
        self.status = ResultStatus(status)


def fetch(job: Job, w3: Any, settings: OracleSettings) -> bytes:
    """The input bytes of `job`, checked against `job.input_hash`; raises InputError."""
    if job.kind == "code":
        data = _code(job, w3)
    elif job.kind == "source":
        data = _source(job, settings)
    else:
        raise InputError(ResultStatus.INTERNAL_ERROR, f"unknown request kind {job.kind!r}")
    expected = _hash_bytes(job.input_hash)
    actual = keccak(data)
    if actual != expected:
        what = "code" if job.kind == "code" else "input"
        raise InputError(ResultStatus.INPUT_HASH_MISMATCH,
                         f"the {what} hashes to 0x{actual.hex()}, the request committed to 0x{expected.hex()}")
    return data


def _hash_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        try:
            raw = bytes.fromhex(str(value).removeprefix("0x").removeprefix("0X"))
        except ValueError:
            raise InputError(ResultStatus.INTERNAL_ERROR, f"malformed input hash {value!r}") from None
    if len(raw) != 32:
        raise InputError(ResultStatus.INTERNAL_ERROR, f"input hash is {len(raw)} bytes, not 32")
    return raw


# ---- code requests -----------------------------------------------------------------------------
def _code(job: Job, w3: Any) -> bytes:
    if not job.target:
        raise InputError(ResultStatus.NO_CODE, "code request without a target address")
    from web3 import Web3

    try:
        address = Web3.to_checksum_address(job.target)
    except (ValueError, TypeError):
        raise InputError(ResultStatus.NO_CODE, f"malformed target address {job.target!r}") from None
    try:
        code = bytes(w3.eth.get_code(address, block_identifier=job.block_number))
    except Exception as first:
        # A node that is not an archive node may have pruned the request's block: the latest code is
        # as good, since its hash is checked against the commitment anyway.
        log.debug("eth_getCode at block %s failed (%s); trying latest", job.block_number, first)
        try:
            code = bytes(w3.eth.get_code(address, block_identifier="latest"))
        except Exception as exc:
            raise InputError(ResultStatus.INTERNAL_ERROR, f"eth_getCode({address}) failed: {exc}") from None
    if not code:
        raise InputError(ResultStatus.NO_CODE, f"no code at {address} (block {job.block_number})")
    return code


# ---- source requests ---------------------------------------------------------------------------
def _source(job: Job, settings: OracleSettings) -> bytes:
    limit = settings.max_input_bytes
    if job.inline_input:
        data = bytes(job.inline_input)
        if len(data) > limit:
            raise InputError(ResultStatus.INPUT_TOO_LARGE, f"inline input of {len(data)} bytes, over {limit}")
        return data
    uri = (job.input_uri or "").strip()
    if not uri:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, "the request has neither an inline input nor a URI")
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme in ("http", "https"):
        return _http(uri, settings)
    if scheme == "data":
        return _data_uri(uri, limit)
    if scheme == "ipfs" and settings.ipfs_gateway:
        return _http(_ipfs_url(uri, settings.ipfs_gateway), settings)
    if scheme == "file":
        if not settings.allow_file_uris:
            raise InputError(ResultStatus.INPUT_UNAVAILABLE, "file:// input URIs are not allowed on this node")
        return _file_uri(uri, limit)
    raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"unsupported URI scheme {scheme or '(none)'!r}")


def _ipfs_url(uri: str, gateway: str) -> str:
    """ipfs://CID/path -> <gateway>/ipfs/CID/path; dot segments could leave /ipfs/ on the gateway."""
    rest = (uri.split("://", 1)[1] if "://" in uri else uri[len("ipfs:"):]).lstrip("/")
    path = urllib.parse.urlsplit("x:/" + rest).path
    if not rest or any(seg in (".", "..") for seg in urllib.parse.unquote(path).split("/")) or "\\" in rest:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"malformed ipfs:// URI {uri!r}")
    return f"{gateway.rstrip('/')}/ipfs/{rest}"


def _http(url: str, settings: OracleSettings) -> bytes:
    """Through oracle.safe_fetch: public addresses only unless allowlisted (`fetch_allow`). Every
    refusal and network failure is INPUT_UNAVAILABLE with the same public error document; the
    detail stays in the exception message (the node-local reason)."""
    policy = FetchPolicy.from_entries(settings.fetch_allow)
    try:
        return fetch_url(url, policy, max_bytes=settings.max_input_bytes, timeout_s=settings.fetch_timeout_s,
                         max_redirects=settings.fetch_max_redirects)
    except FetchTooLarge as exc:
        raise InputError(ResultStatus.INPUT_TOO_LARGE, str(exc)) from None
    except FetchError as exc:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, str(exc)) from None
    except Exception as exc:  # anything unforeseen from a hostile server is still "unavailable"
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"{url}: {type(exc).__name__}: {exc}") from None


def _data_uri(uri: str, limit: int) -> bytes:
    """RFC 2397: data:[<mediatype>][;base64],<data>."""
    header, sep, payload = uri[len("data:"):].partition(",")
    if not sep:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, "malformed data: URI (no comma)")
    # The encoded form bounds the decoded size (base64: 3/4 of it; percent-encoding: at most all of it).
    if len(payload) * (3 / 4 if header.lower().endswith(";base64") else 1) > limit + 3:
        raise InputError(ResultStatus.INPUT_TOO_LARGE, f"data: URI over {limit} bytes")
    try:
        if header.lower().endswith(";base64"):
            data = base64.b64decode(urllib.parse.unquote(payload), validate=True)
        else:
            data = urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"malformed data: URI: {exc}") from None
    if len(data) > limit:
        raise InputError(ResultStatus.INPUT_TOO_LARGE, f"data: URI of {len(data)} bytes, over {limit}")
    return data


def _file_uri(uri: str, limit: int) -> bytes:
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"file:// URI on another host: {parts.netloc!r}")
    path = Path(urllib.request.url2pathname(parts.path))
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"{uri}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(ResultStatus.INPUT_TOO_LARGE, f"{uri}: more than {limit} bytes")
    return data
