"""The address policy for fetching URLs a stranger chose: which IP addresses are publicly routable
(`refusal`), and the operator's exceptions to that rule (`FetchPolicy`, from the fetch allowlist).
Used by oracle/safe_fetch.py for every address a host resolves to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Never public, whatever this Python's `ipaddress` tables say (they changed between versions):
# IANA special-purpose ranges that are not globally reachable, plus shared (CGNAT) and documentation.
_SPECIAL = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "100::/64", "2001::/23", "2001:db8::/32", "64:ff9b:1::/48", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8"))


@dataclass(frozen=True)
class FetchPolicy:
    """Exceptions to the public-addresses-only rule: host names (exact, case-insensitive) and
    networks (CIDRs; a bare address is a /32 or /128)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> FetchPolicy:
        hosts, networks = set(), []
        for entry in parse_allow(entries):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _norm_host(host) in self.hosts

    def allows_address(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == net.version and c in net for c in candidates for net in self.networks)


def parse_allow(entries: Iterable[str]) -> list[str]:
    """Normalized allowlist entries (host names lower-cased, brackets and trailing dots gone);
    ValueError for an entry that is neither a CIDR/address nor a host name."""
    out = []
    for raw in entries:
        entry = _norm_host(str(raw))
        try:
            out.append(str(ipaddress.ip_network(entry, strict=False)))
            continue
        except ValueError:
            pass
        labels = entry.split(".")
        if not entry or len(entry) > 253 or not all(
                label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
                and label.isascii() for label in labels):
            raise ValueError(f"fetch allowlist entry {raw!r} is neither a host name nor an address/CIDR")
        out.append(entry)
    return out


def _norm_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".") if host not in (".", "") else host


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` must not be contacted, or None when it is publicly routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            inner = refusal(ip.ipv4_mapped)
            return inner and f"IPv4-mapped {inner}"
        if ip.teredo is not None:
            return "a Teredo address"
        embedded = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            inner = refusal(embedded)
            return inner and f"{'6to4' if ip.sixtofour else 'NAT64'} {inner}"
        if ip.is_site_local:
            return "a site-local address"
    for what in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{what}"):
            return f"a {what.replace('_', '-')} address"
    for net in _SPECIAL:
        if ip.version == net.version and ip in net:
            return f"a special-purpose address ({net})"
    if not ip.is_global:
        return "not a globally routable address"
    return None
