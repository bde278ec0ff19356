"""Fetching what a request commits to, and checking it against the commitment.

`fetch(job, w3, settings) -> bytes`:

* source requests (`kind == "source"`): the inline input when the event carried one, else the
  input URI: ``https://`` / ``http://`` (urllib, with a socket timeout, a limit on the whole
  download and a size cap enforced while reading, not trusted from Content-Length), ``data:``
  URIs, ``ipfs://`` through the gateway setting when one is configured, and ``file://`` only
  when `allow_file_uris` is on (off by default). Redirects are followed between http(s) URLs
  only. Then keccak256 of the bytes must equal the request's `inputHash`.
* code requests (`kind == "code"`): ``eth_getCode(target)`` at the request's block; its
  keccak256 must equal `inputHash` (the codehash the contract committed to).

Every failure is an `InputError` whose `status` is the ResultStatus code to answer with.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_utils import keccak

from oracle.config import OracleSettings
from oracle.errors import OracleError
from oracle.store import Job

log = logging.getLogger(__name__)
_CHUNK = 64 * 1024


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
        rest = uri.split("://", 1)[1] if "://" in uri else uri[len("ipfs:"):]
        return _http(f"{settings.ipfs_gateway.rstrip('/')}/ipfs/{rest.lstrip('/')}", settings)
    if scheme == "file":
        if not settings.allow_file_uris:
            raise InputError(ResultStatus.INPUT_UNAVAILABLE, "file:// input URIs are not allowed on this node")
        return _file_uri(uri, limit)
    raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"unsupported URI scheme {scheme or '(none)'!r}")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP URL refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    """http(s) only: no file://, ftp:// or data: handlers behind a redirect."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), _HttpOnlyRedirects(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _http(url: str, settings: OracleSettings) -> bytes:
    limit = settings.max_input_bytes
    deadline = time.monotonic() + settings.fetch_timeout_s
    request = urllib.request.Request(url, headers={"User-Agent": "solsentry-oracle", "Accept-Encoding": "identity"})
    try:
        with _opener().open(request, timeout=settings.fetch_timeout_s) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.strip().isdigit() and int(length) > limit:
                raise InputError(ResultStatus.INPUT_TOO_LARGE, f"{url}: {int(length)} bytes, over {limit}")
            chunks, size = [], 0
            while chunk := resp.read1(_CHUNK):  # what has arrived: a slow drip cannot stall a read
                size += len(chunk)
                if size > limit:
                    raise InputError(ResultStatus.INPUT_TOO_LARGE, f"{url}: more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise InputError(ResultStatus.INPUT_UNAVAILABLE,
                                     f"{url}: download took longer than {settings.fetch_timeout_s:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except InputError:
        raise
    except urllib.error.HTTPError as exc:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"{url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs and responses
        raise InputError(ResultStatus.INPUT_UNAVAILABLE, f"{url}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # http.client.HTTPException and the like
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
