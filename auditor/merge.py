"""From tools' raw findings to normalized, merged `Finding`s."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from auditor.findings import Category, Finding, Location, Reporter, finding_id, fingerprint, sort_key
from auditor.swc import mythril_class, slither_class
from auditor.tools.base import RawFinding

_CONF_RANK = {"low": 0, "medium": 1, "high": 2}


def classify(raw: RawFinding) -> tuple[str | None, Category]:
    if raw.tool == "mythril":
        return mythril_class(raw.detector)
    return slither_class(raw.detector)


def _overlap(a: Location, b: Location) -> bool:
    if a.pc is not None or b.pc is not None:       # bytecode: the same place is the same program counter
        return a.file == b.file and a.pc == b.pc
    return a.file == b.file and a.start_line <= b.end_line and b.start_line <= a.end_line


def _span(loc: Location) -> int:
    return loc.end_line - loc.start_line


def _order(loc: Location) -> tuple:
    """A total order of places (ties of span broken the same way whatever order tools reported in)."""
    return loc.file, loc.start_line, loc.end_line, loc.contract or "", loc.function or "", loc.pc or 0


class _Group:
    def __init__(self, raw: RawFinding, swc: str | None, category: Category, locs: list[Location]) -> None:
        self.items = [(raw, swc)]
        self.fine = [category]           # each raw finding's own (possibly modern) class
        self.category = category.dasp    # grouped, identified and keyed by DASP class
        self.locations = locs
        self.firsts = [locs[0]]          # each raw finding's first (principal) location

    def accepts(self, swc: str | None, category: Category, locs: list[Location]) -> bool:
        # Same weakness at the same place: same category, no conflicting SWC ids (tx.origin and
        # an arbitrary send are both access control, but two weaknesses), and overlapping primary
        # places (a function-wide finding and a finding on a line inside that function overlap).
        swcs = {s for _, s in self.items if s}
        return (category.dasp == self.category and (swc is None or not swcs or swc in swcs)
                and _overlap(self.locations[0], locs[0]))

    def add(self, raw: RawFinding, swc: str | None, category: Category, locs: list[Location]) -> None:
        self.items.append((raw, swc))
        self.fine.append(category)
        for loc in locs:
            if loc not in self.locations:
                self.locations.append(loc)
        self.firsts.append(locs[0])

    def place(self) -> tuple[list[Location], Location]:
        """(locations, primary first; anchor). The most specific place first: that is where a reader
        (and SARIF) should look. The anchor is the widest place a tool named first (the function or
        contract the weakness is in): two findings may share their most specific place (a call
        several functions make, an interface function several contracts inherit) but not both."""
        locations = sorted(self.locations, key=lambda loc: (_span(loc), *_order(loc)))
        primary = locations[0]
        # A line-level location (e.g. Mythril's) lacks the function Slither knows: borrow it.
        if primary.function is None or primary.contract is None:
            for loc in locations[1:]:
                if loc.file == primary.file and loc.start_line <= primary.start_line <= loc.end_line:
                    locations[0] = primary.model_copy(update={"contract": primary.contract or loc.contract,
                                                              "function": primary.function or loc.function})
                    break
        anchor = min(self.firsts, key=lambda loc: (-_span(loc), *_order(loc)))
        return locations, anchor


def merge(raws: Iterable[RawFinding], read_lines: Callable[[str], list[str]]) -> list[Finding]:
    """Normalize raw findings and merge those of the same weakness at the same place.

    `read_lines(file)` returns the lines of a target file (for the fingerprint).
    """
    groups: list[_Group] = []
    # A group accepts only findings of its category whose first place is in its first place's file:
    # looking there alone keeps a project's merge linear (the result is the same).
    by_place: dict[tuple[Category, str], list[_Group]] = {}
    seen: set[tuple] = set()
    for raw in raws:
        swc, category = classify(raw)
        locs = [Location(file=loc.file, start_line=max(1, loc.start_line), end_line=max(loc.start_line, loc.end_line),
                         contract=loc.contract, function=loc.function, pc=loc.pc) for loc in raw.locations]
        # The same file analyzed through two compilation units reports the same thing twice.
        key = (raw.tool, raw.detector, tuple(locs))
        if key in seen:
            continue
        seen.add(key)
        bucket = by_place.setdefault((category.dasp, locs[0].file), [])
        for g in bucket:
            if g.accepts(swc, category, locs):
                g.add(raw, swc, category, locs)
                break
        else:
            groups.append(_Group(raw, swc, category, list(locs)))
            bucket.append(groups[-1])
    # Ids are unique: no two groups share category, SWC id and anchor. A group holds at most one SWC
    # id, and a raw finding whose first place is a group's anchor overlaps that group's first place:
    # only a conflicting SWC id (so a different one) keeps it out of the earliest such group.
    return sorted((_finding(g, read_lines) for g in groups), key=sort_key)


def _finding(g: _Group, read_lines: Callable[[str], list[str]]) -> Finding:
    raws = [r for r, _ in g.items]
    top_at = max(range(len(raws)), key=lambda i: (raws[i].severity.rank, _CONF_RANK[raws[i].confidence.value],
                                                   raws[i].tool == "slither"))
    top = raws[top_at]
    # The finest class any reporter gives (a modern class over the DASP class it refines), the
    # most severe reporter's first: the id stays keyed by the DASP class (`g.category`).
    fine = next((c for c in [g.fine[top_at], *g.fine] if c is not g.category), g.category)
    swcs = sorted({s for _, s in g.items if s})
    swc = swcs[0] if swcs else None
    locations, anchor = g.place()
    primary = locations[0]
    reporters = sorted({Reporter(tool=r.tool, detector=r.detector, severity=r.severity, confidence=r.confidence)
                        for r in raws}, key=lambda r: (r.tool, r.detector))
    descriptions = []
    for r in sorted(raws, key=lambda r: (r.tool, r.detector)):
        text = f"[{r.tool}:{r.detector}] {r.description}"
        if text not in descriptions:
            descriptions.append(text)
    return Finding(
        id=finding_id(g.category, swc, primary, anchor),
        fingerprint=fingerprint(g.category, swc, primary, read_lines(primary.file), anchor),
        title=top.title, swc=swc, category=fine, severity=top.severity,
        confidence=max((r.confidence for r in raws), key=lambda c: _CONF_RANK[c.value]),
        locations=locations, description="\n".join(descriptions),
        tools=sorted({r.tool for r in raws}), reporters=reporters,
    )
