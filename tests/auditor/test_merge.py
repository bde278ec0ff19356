"""Normalizing and merging raw tool findings (real merge code, hand-made tool output)."""

from auditor.findings import Category, Confidence, Severity
from auditor.merge import merge
from auditor.tools.base import RawFinding, RawLocation

LINES = {"Bank.sol": [f"line {i}" for i in range(1, 40)]}


def read(file: str) -> list[str]:
    return LINES.get(file, [])


def slither(check: str, start: int, end: int, function: str | None = "withdraw", sev=Severity.HIGH) -> RawFinding:
    return RawFinding("slither", check, check, f"{check} found", sev, Confidence.MEDIUM,
                      [RawLocation("Bank.sol", start, end, "Bank", function)])


def mythril(swc: str, line: int, sev=Severity.HIGH) -> RawFinding:
    return RawFinding("mythril", swc, swc, f"{swc} found", sev, Confidence.HIGH,
                      [RawLocation("Bank.sol", line, line, "Bank", None)])


def test_two_tools_same_weakness_same_place_merge():
    (f,) = merge([slither("reentrancy-eth", 10, 18), mythril("SWC-107", 14, Severity.MEDIUM)], read)
    assert f.tools == ["mythril", "slither"]
    assert {(r.tool, r.detector) for r in f.reporters} == {("slither", "reentrancy-eth"), ("mythril", "SWC-107")}
    assert f.category == Category.REENTRANCY and f.swc == "SWC-107"
    assert f.severity == Severity.HIGH and f.confidence == Confidence.HIGH
    # The most specific place first, with the function borrowed from Slither.
    assert (f.primary.start_line, f.primary.end_line, f.primary.function) == (14, 14, "withdraw")
    assert {(loc.start_line, loc.end_line) for loc in f.locations} == {(14, 14), (10, 18)}


def test_different_weakness_or_place_stays_apart():
    found = merge([slither("reentrancy-eth", 10, 18), mythril("SWC-101", 14), mythril("SWC-107", 30)], read)
    assert len(found) == 3
    assert {f.category for f in found} == {Category.REENTRANCY, Category.ARITHMETIC}


def test_ids_are_stable_and_distinct():
    a = merge([slither("reentrancy-eth", 10, 18), mythril("SWC-101", 14)], read)
    b = merge([mythril("SWC-101", 14), slither("reentrancy-eth", 10, 18)], read)
    assert [f.id for f in a] == [f.id for f in b]
    assert len({f.id for f in a}) == 2


def test_duplicate_from_two_units_is_reported_once():
    assert len(merge([slither("tx-origin", 5, 5), slither("tx-origin", 5, 5)], read)) == 1


def test_fingerprint_survives_line_shift_but_not_code_change():
    original = ["contract Bank {", "  function withdraw() public {", "    require(tx.origin == owner);", "  }", "}"]
    shifted = ["// a new licence header", "", *original]
    edited = [*shifted[:4], "    require(msg.sender == owner);", *shifted[5:]]

    def one(lines: list[str], line: int):
        raw = RawFinding("slither", "tx-origin", "t", "", Severity.MEDIUM, Confidence.MEDIUM,
                         [RawLocation("Bank.sol", line, line, "Bank", "withdraw")])
        return merge([raw], lambda _f: lines)[0]

    a, b, c = one(original, 3), one(shifted, 5), one(edited, 5)
    assert a.id != b.id                    # the id names the exact place
    assert a.fingerprint == b.fingerprint  # the baseline match survives the shift
    assert c.fingerprint != b.fingerprint  # but not a change of the flagged code


def _reentrancy(function: str, start: int, end: int) -> RawFinding:
    """Slither's shape: the function the reentrancy is in first, then the external call it makes."""
    return RawFinding("slither", "reentrancy-benign", "Reentrancy", f"in {function}", Severity.LOW, Confidence.MEDIUM,
                      [RawLocation("Bank.sol", start, end, "Bank", function),
                       RawLocation("Bank.sol", 5, 5, "Bank", "_safeTransfer")])


def test_findings_sharing_their_most_specific_place_keep_distinct_ids():
    # Two functions reach the same external call: both findings lead with that call (the most specific
    # place), and their anchors (the functions) tell them apart, in the id and the fingerprint.
    swap, burn = merge([_reentrancy("swap", 20, 30), _reentrancy("burn", 32, 38)], read)
    assert swap.primary == burn.primary and swap.primary.start_line == 5
    assert swap.id != burn.id and swap.fingerprint != burn.fingerprint
    # the same raw findings in another order give the same ids
    assert {f.id for f in merge([_reentrancy("burn", 32, 38), _reentrancy("swap", 20, 30)], read)} == {
        swap.id, burn.id}


def test_a_one_place_finding_keeps_the_id_of_its_place():
    from auditor.findings import Location, finding_id

    (f,) = merge([slither("tx-origin", 5, 5)], read)
    assert f.id == finding_id(f.category, f.swc, Location(file="Bank.sol", start_line=5, end_line=5,
                                                          contract="Bank", function="withdraw"))
