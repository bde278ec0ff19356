"""SSRF: the oracle node fetches input URIs from public addresses only (oracle/safe_fetch.py).

Real HTTP servers started here on 127.0.0.1 (and ::1 where it can be bound) stand for the node's
own network. Every refused target answers INPUT_UNAVAILABLE, and the servers' request logs plus a
recorder on `oracle.safe_fetch.open_socket` show that refused targets were never contacted.
Names other than `localhost` go through a stubbed resolver (`oracle.safe_fetch.resolve`)."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_utils import keccak
from pydantic import ValidationError

from oracle import safe_fetch
from oracle.address_policy import FetchPolicy, refusal
from oracle.config import OracleSettings
from oracle.inputs import InputError, ResultStatus, fetch
from oracle.processor import error_document, process
from oracle.safe_fetch import FetchFailed, FetchRefused, fetch_url
from oracle.store import Job, JobState

BODY = b'{"files": {"A.sol": "// SPDX-License-Identifier: MIT\\npragma solidity 0.8.30;\\ncontract A {}\\n"}}'


def job(uri: str, data: bytes = BODY) -> Job:
    return Job(request_id="0x" + keccak(text=uri).hex(), kind="source", state=JobState.RUNNING,
               requester="0x" + "11" * 20, input_hash="0x" + keccak(data).hex(), input_uri=uri,
               inline_input=None, target=None, deadline=2**40, block_number=1, tx_hash="0x" + "22" * 32, log_index=0)


def node_settings(tmp_path, **kw) -> OracleSettings:
    base = dict(auditor="stub", work_dir=tmp_path / "work", max_input_bytes=100_000, fetch_timeout_s=10)
    return OracleSettings(**{**base, **kw})


# ---- servers the test controls -------------------------------------------------------------------
class Server:
    """A threaded HTTP server: routes path -> bytes, ("redirect", location) or a callable(handler)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[str, str]] = []   # (path, Host header) of every request received
        self.routes: dict[str, bytes | tuple[str, str] | Callable] = {"/input.json": BODY}
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                server.requests.append((path, self.headers.get("Host", "")))
                route = server.routes.get(path)
                if route is None:
                    self.send_error(404)
                elif callable(route):
                    route(self)
                elif isinstance(route, tuple):
                    self.send_response(302)
                    self.send_header("Location", route[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        cls = type("Srv", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = cls((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def other() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def server6() -> Iterator[Server]:
    try:
        s = Server("::1")
    except OSError as exc:
        pytest.skip(f"cannot bind an IPv6 loopback server on ::1: {exc}")
    yield s
    s.stop()


@pytest.fixture
def names(monkeypatch) -> dict[str, list[str]]:
    """The stub resolver: test names -> addresses. `localhost` and numeric forms use the real
    resolver (/etc/hosts or inet_aton, no DNS traffic); any other name fails like NXDOMAIN."""
    table: dict[str, list[str]] = {}
    real = safe_fetch.resolve
    calls: list[str] = []

    def stub(host: str, port: int) -> list[str]:
        calls.append(host)
        if host in table:
            return list(table[host])
        if host == "localhost" or host.isdigit():
            return real(host, port)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(safe_fetch, "resolve", stub)
    table["__calls__"] = calls  # type: ignore[assignment]
    return table


@pytest.fixture
def connects(monkeypatch) -> list[tuple[str, int]]:
    """Every TCP connection the fetcher opens (address, port)."""
    seen: list[tuple[str, int]] = []
    real = safe_fetch.open_socket

    def recording(ip: str, port: int, timeout: float) -> socket.socket:
        seen.append((ip, port))
        return real(ip, port, timeout)

    monkeypatch.setattr(safe_fetch, "open_socket", recording)
    return seen


def unavailable(uri: str, settings: OracleSettings) -> InputError:
    with pytest.raises(InputError) as err:
        fetch(job(uri), None, settings)
    assert err.value.status == ResultStatus.INPUT_UNAVAILABLE, str(err.value)
    return err.value


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- refused targets are never contacted -------------------------------------------------------
@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}/input.json",
    "http://localhost:{port}/input.json",
    "http://[::ffff:127.0.0.1]:{port}/input.json",     # IPv4-mapped IPv6
    "http://evil.test:{port}/input.json",             # a DNS name resolving to 127.0.0.1
    "http://mixed.test:{port}/input.json",            # a public and a loopback address: refused as a whole
    "http://2130706433:{port}/input.json",            # 127.0.0.1 as one number
    "http://0.0.0.0:{port}/input.json",               # unspecified (reaches this machine on Linux)
    "http://127.0.0.1.:{port}/input.json",
])
def test_loopback_is_refused(server, names, connects, tmp_path, template):
    names["evil.test"] = ["127.0.0.1"]
    names["mixed.test"] = ["93.184.215.14", "127.0.0.1"]
    names["127.0.0.1."] = ["127.0.0.1"]
    uri = template.format(port=server.port)
    err = unavailable(uri, node_settings(tmp_path))
    assert "allowlist" in str(err)
    assert server.requests == [] and connects == []


def test_ipv6_loopback_is_refused(server6, connects, tmp_path):
    unavailable(f"http://[::1]:{server6.port}/input.json", node_settings(tmp_path))
    assert server6.requests == [] and connects == []
    # the same server is reachable once allowlisted, so the refusal was the policy's
    ok = node_settings(tmp_path, fetch_allow=["::1"])
    assert fetch(job(f"http://[::1]:{server6.port}/input.json"), None, ok) == BODY


@pytest.mark.parametrize("host", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255",
    "[fe80::1]", "[fc00::1]", "[fec0::1]", "[ff02::1]", "[::]", "[::ffff:10.0.0.1]", "[2002:a00:1::1]",
    "[64:ff9b::a00:1]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "[2001:db8::1]", "private.test",
])
def test_private_addresses_are_refused_before_connecting(names, connects, tmp_path, host):
    names["private.test"] = ["10.1.2.3"]
    with pytest.raises(FetchRefused):
        fetch_url(f"http://{host}/latest/meta-data/", FetchPolicy(), max_bytes=1000, timeout_s=5)
    unavailable(f"http://{host}/latest/meta-data/", node_settings(tmp_path))
    assert connects == []


def test_redirect_from_an_allowed_host_to_loopback_is_refused(server, other, names, connects, tmp_path):
    names["gateway.test"] = ["127.0.0.1"]
    names["evil.test"] = ["127.0.0.1"]
    settings = node_settings(tmp_path, fetch_allow=["gateway.test"])
    targets = {"/to-ip": f"http://127.0.0.1:{other.port}/input.json",
               "/to-localhost": f"http://localhost:{other.port}/input.json",
               "/to-name": f"http://evil.test:{other.port}/input.json",
               "/to-mapped": f"http://[::ffff:127.0.0.1]:{other.port}/input.json",
               "/to-private": "http://10.0.0.1/input.json"}
    for path, location in targets.items():
        server.routes[path] = ("redirect", location)
        err = unavailable(f"http://gateway.test:{server.port}{path}", settings)
        assert "allowlist" in str(err)
    assert [p for p, _ in server.requests] == list(targets)       # the allowed hop was fetched ...
    assert other.requests == []                                  # ... the refused one never
    assert set(connects) == {("127.0.0.1", server.port)}
    # a redirect that stays on the allowed host is followed
    server.routes["/hop"] = ("redirect", "/input.json")
    assert fetch(job(f"http://gateway.test:{server.port}/hop"), None, settings) == BODY


def test_allowlist_lets_a_configured_host_through(server, names, connects, tmp_path):
    names["gateway.test"] = ["127.0.0.1"]
    calls = names["__calls__"]
    by_name = node_settings(tmp_path, fetch_allow=["Gateway.Test."])
    assert by_name.fetch_allow == ["gateway.test"]
    assert fetch(job(f"http://gateway.test:{server.port}/input.json"), None, by_name) == BODY
    # one lookup; the connection went to the checked address; Host names the host, not the address
    assert calls.count("gateway.test") == 1
    assert connects == [("127.0.0.1", server.port)]
    assert server.requests[-1] == ("/input.json", f"gateway.test:{server.port}")
    for allow in (["127.0.0.0/8"], ["127.0.0.1"]):
        settings = node_settings(tmp_path, fetch_allow=allow)
        assert fetch(job(f"http://127.0.0.1:{server.port}/input.json"), None, settings) == BODY
    # the name alone does not allow its address under another name
    unavailable(f"http://127.0.0.1:{server.port}/input.json", by_name)
    # IPFS through the configured gateway, which obeys the same rules
    gw = f"http://gateway.test:{server.port}"
    server.routes["/ipfs/bafyexample/input.json"] = BODY
    ipfs = job("ipfs://bafyexample/input.json")
    assert fetch(ipfs, None, by_name.model_copy(update={"ipfs_gateway": gw})) == BODY
    with pytest.raises(InputError) as err:
        fetch(ipfs, None, node_settings(tmp_path, ipfs_gateway=gw))
    assert err.value.status == ResultStatus.INPUT_UNAVAILABLE
    with pytest.raises(InputError):
        fetch(job("ipfs://bafyexample/../../api/v0/id"), None, by_name.model_copy(update={"ipfs_gateway": gw}))


def test_environment_proxies_are_not_used(server, monkeypatch, tmp_path):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{closed_port()}")
    settings = node_settings(tmp_path, fetch_allow=["127.0.0.1"])
    assert fetch(job(f"http://127.0.0.1:{server.port}/input.json"), None, settings) == BODY
    assert server.requests == [("/input.json", f"127.0.0.1:{server.port}")]


def test_redirects_are_bounded(server, tmp_path):
    server.routes["/loop"] = ("redirect", "/loop")
    settings = node_settings(tmp_path, fetch_allow=["127.0.0.1"], fetch_max_redirects=3)
    assert "redirects" in str(unavailable(f"http://127.0.0.1:{server.port}/loop", settings))
    assert len(server.requests) == 4


# ---- the signed answer reveals nothing ---------------------------------------------------------
def test_every_failure_has_the_same_public_answer(server, names, tmp_path):
    names["gateway.test"] = ["127.0.0.1"]
    names["evil.test"] = ["127.0.0.1"]

    def stall(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait(30)

    def reset(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    server.routes.update({"/stall": stall, "/reset": reset, "/loop": ("redirect", "/loop"),
                          "/to-loopback": ("redirect", f"http://127.0.0.1:{server.port}/input.json"),
                          "/to-file": ("redirect", "file:///etc/passwd")})
    allowed = node_settings(tmp_path, fetch_allow=["127.0.0.1"], fetch_timeout_s=1)
    by_name = node_settings(tmp_path, fetch_allow=["gateway.test"])
    plain = node_settings(tmp_path)
    cases = {
        "refused loopback": (f"http://127.0.0.1:{server.port}/input.json", plain),
        "refused name": (f"http://evil.test:{server.port}/input.json", plain),
        "refused private": ("http://10.0.0.1/input.json", plain),
        "connection refused": (f"http://127.0.0.1:{closed_port()}/input.json", allowed),
        "DNS failure": ("http://nowhere.test/input.json", plain),
        "HTTP 404": (f"http://127.0.0.1:{server.port}/missing", allowed),
        "timeout": (f"http://127.0.0.1:{server.port}/stall", allowed),
        "reset": (f"http://127.0.0.1:{server.port}/reset", allowed),
        "too many redirects": (f"http://127.0.0.1:{server.port}/loop", allowed),
        "redirect to loopback": (f"http://gateway.test:{server.port}/to-loopback", by_name),
        "redirect to file://": (f"http://127.0.0.1:{server.port}/to-file", allowed),
    }
    answers = {name: process(job(uri), None, settings) for name, (uri, settings) in cases.items()}
    expected = error_document(ResultStatus.INPUT_UNAVAILABLE)
    for name, answer in answers.items():
        assert answer.status == ResultStatus.INPUT_UNAVAILABLE, (name, answer.reason)
        assert answer.output == expected, name
    assert len({(a.output, a.output_hash, a.model_hash, a.high, a.medium) for a in answers.values()}) == 1
    # the node-local reasons keep the detail for the operator's logs
    assert len({a.reason for a in answers.values()}) == len(answers)
    assert "allowlist" in answers["refused loopback"].reason
    assert "resolve" in answers["DNS failure"].reason


def test_a_too_large_answer_from_an_allowed_host_is_too_large(server, tmp_path):
    server.routes["/big"] = b" " * 200_000
    settings = node_settings(tmp_path, fetch_allow=["127.0.0.1"])
    assert process(job(f"http://127.0.0.1:{server.port}/big"), None, settings).status == ResultStatus.INPUT_TOO_LARGE


# ---- the rules and the setting -----------------------------------------------------------------
@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "2a00:1450:4001::200e",
                                     "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.31.255.255",
                                     "192.168.0.1", "169.254.169.254", "100.64.0.1", "192.0.0.8", "198.18.0.1",
                                     "240.0.0.1", "224.0.0.1", "239.255.255.250", "::1", "::", "fe80::1",
                                     "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "::ffff:127.0.0.1",
                                     "::ffff:192.168.0.1", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
                                     "64:ff9b::7f00:1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1",
                                     "::7f00:1"])
def test_non_public_addresses_are_refused(address):
    assert refusal(ipaddress.ip_address(address))


def test_the_allowlist_setting(monkeypatch, tmp_path):
    assert OracleSettings().fetch_allow == [] and OracleSettings().fetch_max_redirects == 5
    monkeypatch.setenv("SOLSENTRY_FETCH_ALLOW", '["127.0.0.1", "10.1.0.0/16", "[::1]", "Gateway.Internal"]')
    assert OracleSettings().fetch_allow == ["127.0.0.1/32", "10.1.0.0/16", "::1/128", "gateway.internal"]
    for bad in ("http://gateway", "bad host", "a..b", "10.0.0.0/33"):
        with pytest.raises(ValidationError):
            OracleSettings(fetch_allow=[bad])
    policy = FetchPolicy.from_entries(["10.1.0.0/16", "gateway.internal"])
    assert policy.allows_address(ipaddress.ip_address("10.1.2.3"))
    assert policy.allows_address(ipaddress.ip_address("::ffff:10.1.2.3"))
    assert not policy.allows_address(ipaddress.ip_address("10.2.0.1"))
    assert policy.allows_host("GATEWAY.internal.") and not policy.allows_host("x.gateway.internal")
    with pytest.raises(FetchFailed):
        fetch_url("ftp://example.org/", policy, max_bytes=10, timeout_s=1)


# ---- TLS: connected to the checked address, certificate checked against the host name ----------
def test_https_keeps_the_host_name_for_sni_and_the_certificate(server, names, monkeypatch, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=gateway.test", "-addext", "subjectAltName=DNS:gateway.test",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {made.stderr[-300:]}")
    sni: list[str | None] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, _ctx: sni.append(name)
    server.httpd.socket = ctx.wrap_socket(server.httpd.socket, server_side=True)

    def trusting() -> ssl.SSLContext:
        client = ssl.create_default_context()
        client.load_verify_locations(cert)
        return client

    monkeypatch.setattr(safe_fetch, "tls_context", trusting)
    names["gateway.test"] = ["127.0.0.1"]
    names["other.test"] = ["127.0.0.1"]
    settings = node_settings(tmp_path, fetch_allow=["gateway.test", "other.test"])
    assert fetch(job(f"https://gateway.test:{server.port}/input.json"), None, settings) == BODY
    assert sni == ["gateway.test"]
    assert server.requests == [("/input.json", f"gateway.test:{server.port}")]
    # same address, another name: the certificate does not match it
    assert "certificate" in str(unavailable(f"https://other.test:{server.port}/input.json", settings)).lower()
    assert len(server.requests) == 1
