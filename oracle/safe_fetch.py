"""Fetching http(s) URLs that a stranger chose, without server-side request forgery (SSRF).

`fetch_url(url, policy, max_bytes=..., timeout_s=...) -> bytes` for every hop (the URL and each
redirect):

1. resolves the host once (`resolve`, a module-level function that tests replace);
2. refuses it unless every address it resolved to is publicly routable (`refusal`, in
   oracle/address_policy.py): loopback,
   private, link-local, multicast, unspecified, reserved, site-local, shared (100.64/10) and
   the like are refused, for IPv4 and IPv6, including IPv4 addresses inside IPv6 ones
   (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``); Teredo is
   refused outright. A host named in the allowlist, or an address inside an allowed CIDR,
   passes (`FetchPolicy`, oracle/address_policy.py);
3. connects to exactly the addresses it checked (no second lookup), while the Host header, TLS
   SNI and the certificate check use the host name;
4. follows redirects itself: at most `max_redirects`, http(s) only, each hop checked the same way.

No proxy from the environment is used (it would bypass the checks). The size cap is enforced
while reading (Content-Length is only trusted to refuse early), the socket timeout never
exceeds what is left of the whole download's deadline.

Errors: `FetchRefused` (the policy refused a target: nothing was sent to it), `FetchFailed`
(DNS, connect, timeout, reset, HTTP status, bad redirect), both `FetchError`s; `FetchTooLarge`
(an allowed host sent more than `max_bytes`). Callers that answer strangers must not reveal
which of the first two happened.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse

from oracle.address_policy import FetchPolicy, refusal
from oracle.errors import OracleError

_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_EXCEPTIONS = FetchPolicy()   # public addresses only


class FetchError(OracleError):
    """The URL could not be fetched (refused by the policy, or a network/HTTP failure)."""


class FetchRefused(FetchError):
    """The policy refused a target before anything was sent to it."""


class FetchFailed(FetchError):
    """DNS, connection, timeout, reset, HTTP error status, bad or too many redirects."""


class FetchTooLarge(Exception):
    """An allowed host answered with more than the size limit."""


# ---- resolving and connecting ------------------------------------------------------------------
def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` (one getaddrinfo call), in the resolver's order. Tests replace this."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def open_socket(ip: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to the numeric address `ip` (no name lookup)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((ip, port))
    except BaseException:
        sock.close()
        raise
    return sock


def tls_context() -> ssl.SSLContext:
    """Certificates checked against the system's CAs and the URL's host name (tests replace this)."""
    return ssl.create_default_context()


def checked_addresses(host: str, port: int, policy: FetchPolicy) -> list[str]:
    """The addresses to connect to for `host`: all of them passed the policy; else FetchRefused
    (or FetchFailed when the name does not resolve)."""
    try:
        ipaddress.ip_address(host)
        names = [host]  # a literal address: nothing to look up
    except ValueError:
        try:
            names = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"cannot resolve {host!r}: {exc}") from None
    if not names:
        raise FetchFailed(f"{host!r} resolves to no address")
    by_name = policy.allows_host(host)
    out = []
    for name in names:
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            raise FetchFailed(f"{host!r} resolved to a malformed address {name!r}") from None
        if not by_name and not policy.allows_address(ip):
            why = refusal(ip)
            if why:
                raise FetchRefused(f"{host!r} resolves to {name}, {why}; not in the fetch allowlist")
        out.append(name)
    return out


def _connector(addresses: list[str], deadline: float):
    """Replaces HTTPConnection's socket.create_connection: the checked addresses, in order."""
    def connect(address, timeout=None, source_address=None):
        _, port = address
        last: OSError | None = None
        for ip in addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("download deadline reached while connecting")
            try:
                return open_socket(ip, port, min(timeout or left, left))
            except OSError as exc:
                last = exc
        raise last or OSError("no address to connect to")
    return connect


# ---- fetching ----------------------------------------------------------------------------------
def fetch_url(url: str, policy: FetchPolicy = _NO_EXCEPTIONS, *, max_bytes: int, timeout_s: float,
              max_redirects: int = 5, user_agent: str = "solsentry-oracle") -> bytes:
    """The body of `url` (2xx), following at most `max_redirects` checked http(s) redirects."""
    deadline = time.monotonic() + timeout_s
    first = url
    for hop in range(max_redirects + 1):
        try:
            status, location, body = _one(url, policy, max_bytes, timeout_s, deadline, user_agent)
        except (FetchError, FetchTooLarge) as exc:
            if hop:
                raise type(exc)(f"{exc} (after {hop} redirect(s) from {first})") from None
            raise
        if location is None:
            return body
        target = urllib.parse.urljoin(url, location.strip())
        if urllib.parse.urlsplit(target).scheme.lower() not in ("http", "https"):
            raise FetchFailed(f"{url}: HTTP {status} redirect to a non-HTTP URL refused")
        url = target
    raise FetchFailed(f"more than {max_redirects} redirects from {first} (last: {url})")


def _one(url: str, policy: FetchPolicy, max_bytes: int, timeout_s: float, deadline: float,
         user_agent: str) -> tuple[int, str | None, bytes]:
    """One request: (status, redirect location or None, body)."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise FetchFailed(f"malformed URL {url!r}: {exc}") from None
    if scheme not in ("http", "https") or not host:
        raise FetchFailed(f"not an http(s) URL with a host: {url!r}")
    try:
        addresses = checked_addresses(host, port, policy)   # FetchRefused before any connection
    except FetchError as exc:
        raise type(exc)(f"{url}: {exc}") from None
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed(f"{url}: download took longer than {timeout_s:g} s")
    timeout = min(timeout_s, left)
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=tls_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn._create_connection = _connector(addresses, deadline)  # type: ignore[attr-defined]  # pinned
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("GET", path, headers={"User-Agent": user_agent, "Accept-Encoding": "identity",
                                           "Connection": "close"})
        resp = conn.getresponse()
        if resp.status in _REDIRECTS:
            location = resp.getheader("Location")
            if not location:
                raise FetchFailed(f"{url}: HTTP {resp.status} without a Location")
            return resp.status, location, b""
        if not 200 <= resp.status < 300:
            raise FetchFailed(f"{url}: HTTP {resp.status} {resp.reason}")
        length = (resp.getheader("Content-Length") or "").strip()
        if length.isdigit() and int(length) > max_bytes:
            raise FetchTooLarge(f"{url}: {int(length)} bytes, over {max_bytes}")
        chunks, size = [], 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FetchFailed(f"{url}: download took longer than {timeout_s:g} s")
            if conn.sock is not None:
                conn.sock.settimeout(min(timeout_s, left))
            chunk = resp.read1(_CHUNK)   # what has arrived: a slow drip cannot stall a read
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchTooLarge(f"{url}: more than {max_bytes} bytes")
            chunks.append(chunk)
        return resp.status, None, b"".join(chunks)
    except (FetchError, FetchTooLarge):
        raise
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS, ...
        raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
