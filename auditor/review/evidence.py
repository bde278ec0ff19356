"""The code facts of audited sources, looked up by place and class, for triage text and verdicts.

`Facts.of(path)` parses a file once. `for_finding` gives the facts of the function a finding sits in
that bear on its class: the guards that speak against it and the weaknesses that speak for it.
Because a guard can make a finding `likely_false`, the lookups take every reason not to count one:
a statement-level guard must cover every place the finding names in its function and share no
statement with a weakness of the class; a lock or caller restriction answers a reentrancy only if
no unguarded function of the contract writes the state the call is followed by (cross-function
reentrancy); a caller check counts only before the flagged statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor.findings import Evidence, Finding
from auditor.review.facts import (
    GUARD_DETECTORS,
    GUARD_FACTS,
    LINE_GUARDS,
    WEAKNESS_FACTS,
    Fact,
    facts,
    modifier_kinds,
    state_writes,
)
from auditor.review.patterns import written as _written_root
from auditor.review.source import Function, function_at, functions, strip_comments
from auditor.review.statements import Body, split

_PRAGMA = re.compile(r"pragma\s+solidity\s+([^;]+);")
_RE_LOCKS = frozenset({"reentrancy-guard", "access-guard"})


def legacy_pragma(source: str) -> bool:
    """Whether the file's pragma admits a compiler before 0.8 (no pragma: assume it does)."""
    m = _PRAGMA.search(strip_comments(source))
    if not m:
        return True
    spec = m.group(1)
    versions = [tuple(int(x) for x in v.split(".")[:2]) for v in re.findall(r"\d+\.\d+(?:\.\d+)?", spec)]
    # ">=0.7.0 <0.9.0" and "<0.9.0" admit 0.7; "^0.8.0" and ">=0.8.4" do not.
    return not versions or min(versions) < (0, 8) or spec.lstrip().startswith("<")


def _lines(source: str) -> str:
    # Slither (crytic-compile) counts a lone CR as a line break; so must the facts' lines.
    return source.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class FileFacts:
    functions: list[Function]
    bodies: dict[Function, Body]
    facts: dict[Function, list[Fact]]
    legacy: bool
    _writes: dict[Function, set[str]] = field(default_factory=dict)

    def writes(self, func: Function) -> set[str]:
        if func not in self._writes:
            self._writes[func] = state_writes(self.bodies[func])
        return self._writes[func]


@dataclass
class Facts:
    sources: Mapping[str, str]
    _files: dict[str, FileFacts] = field(default_factory=dict)
    _modifiers: dict[str, set[str]] | None = None

    def modifiers(self) -> dict[str, set[str]]:
        """What every modifier of every source does (a modifier is often declared in another file)."""
        if self._modifiers is None:
            self._modifiers = {}
            for path in sorted(self.sources):
                for name, kinds in modifier_kinds(functions(_lines(self.sources[path]))).items():
                    self._modifiers[name] = kinds if name not in self._modifiers else self._modifiers[name] & kinds
        return self._modifiers

    def of(self, path: str) -> FileFacts:
        if path not in self._files:
            source = _lines(self.sources[path])
            funcs = functions(source)
            legacy = legacy_pragma(source)
            bodies = {f: split(f) for f in funcs}
            mods = {name: set(kinds) for name, kinds in self.modifiers().items()}
            for name, kinds in modifier_kinds(funcs).items():      # the file's own, even when not indexed
                mods[name] = kinds if name not in mods else mods[name] & kinds
            self._files[path] = FileFacts(funcs, bodies, {f: facts(bodies[f], mods, legacy) for f in funcs}, legacy)
        return self._files[path]

    def for_finding(self, finding: Finding, category: str) -> tuple[list[Fact], list[Fact]]:
        """(guards, weaknesses) of class `category`: weaknesses of the function holding the primary
        line; guards of it and of every function the finding names (a call in an internal helper is
        guarded by the lock on the entry point that reaches it), for the finding's detectors only."""
        loc = finding.primary
        if loc.file not in self.sources or loc.pc is not None:
            return [], []
        ff = self.of(loc.file)
        func = function_at(ff.functions, loc.start_line)
        if func is None:
            return [], []
        spans = [(x.start_line, x.end_line) for x in finding.locations
                 if x.file == loc.file and x.pc is None and func.start_line <= x.start_line <= func.end_line]
        guards, weak = self.for_function(ff, func, category, spans)
        outer_funcs = [(func, ff)]
        for other in finding.locations[1:]:
            if other.file not in self.sources or other.pc is not None:
                continue
            off = self.of(other.file)
            outer = function_at(off.functions, other.start_line)
            if outer is not None and outer != func:
                outer_funcs.append((outer, off))
                guards += [g for g in self.for_function(off, outer, category)[0]
                           if g.fact not in LINE_GUARDS and g.fact != "view-function"]
        detectors = {r.detector for r in finding.reporters}
        guards = [g for g in guards if g.fact not in GUARD_DETECTORS or GUARD_DETECTORS[g.fact] & detectors]
        if category == "reentrancy" and any(g.fact in _RE_LOCKS for g in guards):
            written = {w.subject for f, fx in outer_funcs for w in fx.facts[f]
                       if w.fact == "state-write-after-call" and w.subject}
            if self._unguarded_writer(ff, func, written):
                guards = [g for g in guards if g.fact not in _RE_LOCKS]
        return guards, weak

    def _unguarded_writer(self, ff: FileFacts, func: Function, subjects: set[str]) -> bool:
        """A function of the same contract anyone can call, without a lock, that writes `subjects`."""
        for other in ff.functions:
            if other == func or other.contract != func.contract or not subjects:
                continue
            body = ff.bodies[other]
            if not body.callable or any(g.fact == "reentrancy-guard" for g in ff.facts[other]):
                continue
            # Adding to the state (`balances[msg.sender] += msg.value`) cannot take value out twice;
            # lowering, overwriting or deleting it can.
            for st in body.statements:
                if st.text and re.match(r"^[^=]*?\+=", st.text) is None and _written_root(st) in subjects \
                        and _written_root(st) in ff.writes(other):
                    return True
        return False

    def for_function(self, ff: FileFacts, func: Function, category: str,
                     spans: list[tuple[int, int]] | None = None) -> tuple[list[Fact], list[Fact]]:
        """Guards and weaknesses of one function. `spans`: the places a finding names in it (None:
        the function as a whole, for the model's own findings; statement guards then do not count)."""
        body = ff.bodies[func]
        guards, weak = [], []
        for fact in ff.facts[func]:
            if category not in fact.categories:
                continue
            if fact.guard and fact.fact in GUARD_FACTS.get(category, ()):
                guards.append(fact)
            elif not fact.guard and fact.fact in WEAKNESS_FACTS.get(category, ()):
                # Access control is about who may call: a weakness only in a function anyone can call.
                if category == "access_control" and not body.callable:
                    continue
                weak.append(fact)
        first = min([s for s, _ in spans] if spans else [w.line for w in weak] or [func.end_line])
        guards = [g for g in guards if g.fact != "sender-check" or g.line <= first]
        if spans is None:
            return [g for g in guards if g.fact not in LINE_GUARDS], weak

        def covers(f: Fact, span: tuple[int, int]) -> bool:
            return f.line <= span[1] and span[0] <= f.end_line

        hit_weak = [w for w in weak if any(covers(w, s) for s in spans)]
        def stands(g: Fact) -> bool:
            # a function guard always; a statement guard on the primary place, its kind covering
            # every place, and no weakness there
            return g.fact not in LINE_GUARDS or (not hit_weak and covers(g, spans[0]) and all(
                any(covers(x, s) for x in guards if x.fact == g.fact) for s in spans))

        kept = [g for g in guards if stands(g)]
        return kept, weak


def words(guards: list[Fact], weak: list[Fact]) -> str:
    """The facts as the triage model reads them (kinds only: names and lines mean nothing to it)."""
    parts = [f"guard {g.fact}" for g in guards] + [f"fact {w.fact}" for w in weak]
    return (" ; ".join(sorted(set(parts))) or "no facts").replace("-", " ")


def as_evidence(items: list[Fact]) -> list[Evidence]:
    seen, out = set(), []
    for f in items:
        if (f.fact, f.line) not in seen:
            seen.add((f.fact, f.line))
            out.append(Evidence(fact=f.fact, detail=f.detail, line=f.line, guard=f.guard))
    return out
