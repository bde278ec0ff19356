"""A resident compiler serves many audits (warm workers, auditor/runtime/warm.py): one input that
breaks soljson must not break the compiles after it. Against the real solc-js compile server: an
expression deep enough to overflow the JavaScript stack used to leave the module answering
"Uncaught exception" internal errors on every later, valid, input."""

from __future__ import annotations

import pytest

from auditor.errors import SolcError
from auditor.solc.server import CompileServer, broken

HOSTILE = ("pragma solidity ^0.8.0;\ncontract Evil { function f(uint a) public pure returns (uint) { return "
           + "+".join(["a"] * 20000) + "; } }\n")
VALID = "pragma solidity ^0.8.0;\ncontract Fine { uint256 n; function inc() external { n += 1; } }\n"


def _request(source: str) -> dict:
    return {"language": "Solidity", "sources": {"X.sol": {"content": source}},
            "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}


def test_a_stack_overflow_fails_that_input_only_and_the_next_compile_is_healthy(provider, tmp_path):
    server = CompileServer(provider.for_pragma("^0.8.0"))
    try:
        assert "Fine" in server.compile(_request(VALID), tmp_path)["contracts"]["X.sol"]
        with pytest.raises(SolcError, match=r"failed internally on this input: .*Maximum call stack size exceeded"):
            server.compile(_request(HOSTILE), tmp_path)
        for _ in range(3):            # every later compile: a healthy compiler, no internal error
            answer = server.compile(_request(VALID), tmp_path)
            assert broken(answer) is None and "Fine" in answer["contracts"]["X.sol"], answer.get("errors")
    finally:
        server.close()


def test_only_the_compilers_own_failures_count_as_broken():
    assert broken({"errors": [{"type": "SolSentryWrapperError", "message": "RangeError: x"}]}) == "RangeError: x"
    assert broken({"errors": [{"type": "InternalCompilerError", "message": "Uncaught exception:\n at ..."}]}) \
        == "Uncaught exception:"
    # A verdict on the code is not a broken compiler.
    assert broken({"errors": [{"type": "TypeError", "message": "Undeclared identifier."}]}) is None
    assert broken({}) is None and broken({"errors": ["not a dict"]}) is None
