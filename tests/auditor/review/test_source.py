"""What the review model reads: comment-free code, functions with their lines, neutral names."""

from __future__ import annotations

from auditor.review.source import function_at, functions, normalize, strip_comments

SOURCE = '''pragma solidity ^0.4.24;
/* a block comment
   over three lines { */
contract Bank {
    mapping(address => uint) balances;   // trailing comment
    string note = "// not a comment { ";
    modifier onlyOwner() { require(msg.sender == owner); _; }
    constructor() public { owner = msg.sender; }
    function () public payable {}
    function withdraw(uint amount) public {
        // <yes> <report> REENTRANCY
        if (msg.sender.call.value(amount)()) { balances[msg.sender] -= amount; }
    }
}
interface IToken { function transfer(address to, uint v) external returns (bool); }
'''


def test_comments_blanked_lines_kept_strings_untouched():
    out = strip_comments(SOURCE)
    assert out.count("\n") == SOURCE.count("\n")
    assert "REENTRANCY" not in out and "block comment" not in out and "trailing" not in out
    assert '"// not a comment { "' in out
    assert out.splitlines()[11] == SOURCE.splitlines()[11]


def test_functions_found_with_lines_and_owner():
    found = {f.name: f for f in functions(SOURCE)}
    assert set(found) == {"onlyOwner", "constructor", "fallback", "withdraw"}   # no body-less interface member
    w = found["withdraw"]
    assert (w.contract, w.start_line, w.end_line) == ("Bank", 10, 13)
    assert "REENTRANCY" not in w.code
    assert function_at(list(found.values()), 12) is w
    assert function_at(list(found.values()), 5) is None


def test_normalize_is_rename_invariant_and_keeps_the_language():
    a = "function withdraw(uint amount) { if (msg.sender.call.value(amount)()) { balances[msg.sender] -= amount; } }"
    b = "function takeOut(uint qty) { if (msg.sender.call.value(qty)()) { ledger[msg.sender] -= qty; } }"
    assert normalize(a) == normalize(b)
    assert "msg.sender.call.value" in normalize(a)
    assert "amount" not in normalize(a)
    # hex literals are numbers, not identifiers; Contract-like names get their own placeholder kind
    assert normalize("Token t = Token(0xabc); t.mint(1);") == "C1 v1 = C1(0xabc); v1.f1(1);"
