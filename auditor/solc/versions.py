"""Solidity version constraints as `pragma solidity` writes them (npm-style semver ranges).

Supports exact versions, partial versions (`0.4` = `0.4.x`), wildcards, `^`, `~`,
`>=`, `>`, `<=`, `<`, `=`, hyphen ranges (`0.4.22 - 0.6.0`), intersections
(space-separated) and alternatives (`||`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, total_ordering

from auditor.errors import PragmaError

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_PARTIAL_RE = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$")
_COMPARATOR_RE = re.compile(r"(\^|~>?|>=|<=|>|<|=)?\s*(v?[0-9xX*][0-9xX*.]*)")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION_RE.match(text.strip().lstrip("v").split("+")[0].split("-")[0])
        if not m:
            raise PragmaError(f"not a solc version: {text!r} (expected MAJOR.MINOR.PATCH)")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


# A comparator is (operator, version); operators are >=, >, <=, <, ==.
Comparator = tuple[str, Version]


def _partial(text: str) -> tuple[int | None, int | None, int | None]:
    m = _PARTIAL_RE.match(text)
    if not m:
        raise PragmaError(f"malformed version {text!r}")
    parts = [None if p is None or p in "xX*" else int(p) for p in m.groups()]
    # Once a part is a wildcard, everything after it is too (1.x.3 means 1.x).
    for i, p in enumerate(parts):
        if p is None:
            parts[i + 1 :] = [None] * (2 - i)
            break
    return parts[0], parts[1], parts[2]


def _expand(op: str, text: str) -> list[Comparator]:
    major, minor, patch = _partial(text)
    if major is None:
        return [] if op in ("", "=", ">=", "<=", "^", "~", "~>") else [("<", Version(0, 0, 0))]
    lo = Version(major, minor or 0, patch or 0)
    if op in ("", "="):
        if minor is None:
            return [(">=", lo), ("<", Version(major + 1, 0, 0))]
        if patch is None:
            return [(">=", lo), ("<", Version(major, minor + 1, 0))]
        return [("==", lo)]
    if op == "^":
        if major > 0 or minor is None:
            return [(">=", lo), ("<", Version(major + 1, 0, 0))]
        if minor > 0 or patch is None:
            return [(">=", lo), ("<", Version(0, minor + 1, 0))]
        return [(">=", lo), ("<", Version(0, 0, patch + 1))]
    if op in ("~", "~>"):
        if minor is None:
            return [(">=", lo), ("<", Version(major + 1, 0, 0))]
        return [(">=", lo), ("<", Version(major, minor + 1, 0))]
    if op == ">":
        if minor is None:
            return [(">=", Version(major + 1, 0, 0))]
        if patch is None:
            return [(">=", Version(major, minor + 1, 0))]
        return [(">", lo)]
    if op == "<=":
        if minor is None:
            return [("<", Version(major + 1, 0, 0))]
        if patch is None:
            return [("<", Version(major, minor + 1, 0))]
        return [("<=", lo)]
    return [(op, lo)]  # >= and <


@dataclass(frozen=True)
class Constraint:
    """A parsed range: satisfied when every comparator of any one alternative holds."""

    text: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Constraint:
        text = " ".join(text.split())
        if not text:
            raise PragmaError("empty version constraint")
        alternatives = []
        for alt in text.split("||"):
            alt = alt.strip()
            hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)
            if hyphen:
                comps = _expand(">=", hyphen[1]) + _expand("<=", hyphen[2])
            else:
                comps = []
                # `>= 0.4.22` and `>=0.4.22` are the same comparator.
                alt_compact = re.sub(r"(\^|~>?|>=|<=|>|<|=)\s+", r"\1", alt)
                for token in alt_compact.split():
                    m = _COMPARATOR_RE.fullmatch(token)
                    if not m:
                        raise PragmaError(f"malformed version constraint {text!r} near {token!r}")
                    comps += _expand(m[1] or "", m[2].lstrip("v"))
            alternatives.append(tuple(comps))
        return cls(text, tuple(alternatives))

    def allows(self, v: Version) -> bool:
        return _allows(self.text, v.major, v.minor, v.patch)


@cache
def _allows(text: str, major: int, minor: int, patch: int) -> bool:
    """Memoized by the range's text: planning a project asks the same few ranges about the same
    releases thousands of times (a str caches its hash; the dataclasses would hash every field)."""
    v = Version(major, minor, patch)
    return any(all(_holds(v, op, bound) for op, bound in alt) for alt in Constraint.parse(text).alternatives)


def _holds(v: Version, op: str, bound: Version) -> bool:
    return {
        ">=": v >= bound,
        ">": v > bound,
        "<=": v <= bound,
        "<": v < bound,
        "==": v == bound,
    }[op]


def allowed_by_all(constraints: list[Constraint], v: Version) -> bool:
    return all(c.allows(v) for c in constraints)
