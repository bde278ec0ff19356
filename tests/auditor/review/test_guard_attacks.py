"""Guards that do not protect must not make a real bug `likely_false` (found by attacking the
rules as a stranger would). Findings are built by hand here: the rules are under test, not a tool."""

from __future__ import annotations

from auditor.findings import Category, Confidence, Finding, Location, Reporter, Severity
from auditor.review.encoder import Scores, decide
from auditor.review.evidence import Facts
from auditor.review.facts import modifier_kinds
from auditor.review.source import functions


def _finding(category: Category, detector: str, *places: tuple[int, int, str]) -> Finding:
    locs = [Location(file="a.sol", start_line=s, end_line=e, function=fn) for s, e, fn in places]
    rep = Reporter(tool="slither", detector=detector, severity=Severity.HIGH, confidence=Confidence.MEDIUM)
    return Finding(id=f"{detector}-{places[0][0]}", fingerprint="x", title=detector, category=category,
                   severity=Severity.HIGH, confidence=Confidence.MEDIUM, locations=locs, description="",
                   tools=["slither"], reporters=[rep])


def _label(src: str, finding: Finding, score: float = 0.5) -> str:
    review = decide([finding], {"a.sol": src}, Scores(triage={finding.id: score}), [], {"triage": 0.4, "detect": 1.0},
                    "m@test")
    return review.verdicts[finding.id].label


CROSS = """pragma solidity ^0.8.0;
contract C {
    mapping(address => uint) b; uint s = 1;
    modifier nr() { require(s == 1); s = 2; _; s = 1; }
    function withdraw() external nr {
        (bool ok, ) = msg.sender.call{value: b[msg.sender]}("");
        require(ok);
        b[msg.sender] = 0;
    }
    function move(address to, uint v) external { b[msg.sender] -= v; b[to] += v; }
}
"""


def test_a_lock_on_one_function_does_not_answer_cross_function_reentrancy():
    f = _finding(Category.REENTRANCY, "reentrancy-eth", (6, 6, "withdraw"), (5, 9, "withdraw"))
    assert _label(CROSS, f) != "likely_false"
    # without the unguarded `move`, the lock answers it
    locked = CROSS.replace("    function move(address to, uint v) external { b[msg.sender] -= v; b[to] += v; }\n", "")
    assert _label(locked, f) == "likely_false"


def test_a_flag_that_is_never_checked_or_never_reset_is_no_lock():
    for body in ("c += 1; _; c += 1;", "locked = true; _; locked = false;", "require(!locked); locked = true; _;"):
        src = f"contract C {{ uint c; bool locked; modifier m() {{ {body} }} }}"
        assert "mutex" not in modifier_kinds(functions(src))["m"], body


def test_comparisons_that_stop_nobody_are_no_caller_check():
    for check in ("require(msg.sender != address(0));", "require(msg.sender == msg.sender);",
                  "require(!banned[msg.sender]);", "if (msg.sender != owner) { emit E(); }"):
        src = f"""pragma solidity ^0.8.0;
        contract C {{ address owner; mapping(address => bool) banned; event E();
          function kill() external {{ {check} selfdestruct(payable(msg.sender)); }} }}"""
        f = _finding(Category.UNPROTECTED_SELFDESTRUCT, "suicidal", (3, 3, "kill"))
        assert _label(src, f) != "likely_false", check
    real = """pragma solidity ^0.8.0;
    contract C { address owner;
      function kill() external { require(msg.sender == owner); selfdestruct(payable(msg.sender)); } }"""
    assert _label(real, _finding(Category.UNPROTECTED_SELFDESTRUCT, "suicidal", (3, 3, "kill"))) == "likely_false"


def test_an_erc20_transfer_is_no_gas_stipend():
    src = """pragma solidity ^0.8.0;
    contract C { mapping(address => uint) b; IERC20 token;
      function w() external { token.transfer(msg.sender, b[msg.sender]); b[msg.sender] = 0; } }"""
    kinds = {x.fact for fs in Facts({"a.sol": src}).of("a.sol").facts.values() for x in fs}
    assert "transfer-stipend" not in kinds


def test_a_statement_guard_must_cover_every_place_and_no_weakness():
    src = """pragma solidity ^0.8.0;
contract C {
    function f() external view returns (uint32, uint) {
        uint32 t = uint32(block.timestamp % 2**32);
        uint r = block.timestamp % 7;
        return (t, r);
    }
}
"""
    f = _finding(Category.BAD_RANDOMNESS, "weak-prng", (4, 4, "f"), (5, 5, "f"))
    assert _label(src, f) != "likely_false"
    only = _finding(Category.BAD_RANDOMNESS, "weak-prng", (4, 4, "f"))
    assert _label(src, only) == "likely_false"
    same_line = """pragma solidity 0.4.24;
contract C { function f(address a, address b) public { a.call(""); bool ok = b.call(""); require(ok); } }
"""
    g = _finding(Category.UNCHECKED_LOW_LEVEL_CALLS, "unchecked-lowlevel", (2, 2, "f"))
    assert _label(same_line, g) != "likely_false"


def test_a_flag_emitted_but_never_tested_is_unchecked():
    src = """pragma solidity 0.4.24;
contract C { event S(bool v);
  function f(address a) public { bool ok = a.send(1); emit S(ok); } }
"""
    kinds = {x.fact for fs in Facts({"a.sol": src}).of("a.sol").facts.values() for x in fs}
    assert "unchecked-call" in kinds and "checked-call" not in kinds


def test_a_modifier_that_runs_the_body_only_for_the_admin_restricts_the_caller():
    src = """pragma solidity ^0.8.0;
    contract P { address admin;
      modifier ifAdmin() { if (msg.sender == admin) { _; } else { revert(); } }
      modifier ifAnyone() { if (msg.sender != admin) { _; } } }"""
    kinds = modifier_kinds(functions(src))
    assert kinds["ifAdmin"] == {"access"} and "access" not in kinds["ifAnyone"]
