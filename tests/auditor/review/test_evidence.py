"""Code facts and the verdicts and model findings that rest on them: guards make `likely_false`
with a reason, model findings point at statements, and a fixed twin is not flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.findings import Category
from auditor.pipeline import AuditOptions, audit
from auditor.report.registry import get_format
from auditor.review.encoder import EncoderReviewer, Scores, decide
from auditor.review.evidence import Facts, legacy_pragma
from auditor.review.facts import facts, modifier_kinds
from auditor.review.source import function_at, functions
from auditor.review.statements import split
from auditor.review.texts import CATEGORIES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "review"
PAIR = (FIXTURES / "vault_pair.sol").read_text()
GUARDED = FIXTURES / "guarded_vault.sol"


def _kinds(source: str, name: str, contract: str | None = None) -> set[str]:
    funcs = functions(source)
    func = next(f for f in funcs if f.name == name and (contract is None or f.contract == contract))
    return {x.fact for x in facts(split(func), modifier_kinds(funcs), legacy_pragma(source))}


def test_a_call_with_value_options_stays_one_statement():
    func = next(f for f in functions(PAIR) if f.name == "withdraw")
    texts = [s.text for s in split(func).statements]
    assert '(bool ok, ) = msg.sender.call{value: amount}("")' in texts


def test_modifiers_are_known_by_what_they_do_not_by_name():
    renamed = """pragma solidity ^0.8.0;
    contract C1 { uint v1; address v2;
      modifier m1() { require(v1 == 0); v1 = 1; _; v1 = 0; }
      modifier m2() { require(msg.sender == v2, "no"); _; }
      function f1() external m1 m2 { (bool v3, ) = v2.call(""); require(v3); v1 = 5; } }"""
    assert modifier_kinds(functions(renamed)) == {"m1": {"mutex"}, "m2": {"access"}}
    assert {"reentrancy-guard", "access-guard", "checked-call"} <= _kinds(renamed, "f1")


def test_a_stored_but_untested_call_result_is_unchecked():
    src = """pragma solidity 0.4.24;
    contract C { function f(address a) public { bool ok = a.send(1); a.call.value(2)(); } }"""
    funcs = functions(src)
    found = facts(split(funcs[0]), {}, legacy_pragma(src))
    assert [x.fact for x in found if x.fact == "unchecked-call"] == ["unchecked-call", "unchecked-call"]
    assert legacy_pragma(src) and not legacy_pragma("pragma solidity ^0.8.4;")
    assert legacy_pragma("pragma solidity >=0.7.0 <0.9.0;")


def test_the_vulnerable_twin_has_the_weakness_and_the_fixed_twin_a_guard():
    assert "state-write-after-call" in _kinds(PAIR, "withdraw", "LeakyVault")
    fixed = _kinds(PAIR, "withdraw", "SturdyVault")
    assert "state-write-after-call" not in fixed and "reentrancy-guard" in fixed


def _scores_for(source: str, path: str, value: float) -> Scores:
    # Scores set by hand: the decision rules are under test here, not the model (next test).
    funcs = [f for f in functions(source) if not f.code.lstrip().startswith("modifier")]
    return Scores(functions={path: [(f, [value] * len(CATEGORIES)) for f in funcs]})


def test_model_findings_point_at_statements_one_per_function():
    path = "vault_pair.sol"
    review = decide([], {path: PAIR}, _scores_for(PAIR, path, 0.99), list(CATEGORIES),
                    {"triage": 0.5, "detect": 0.5}, "m@test")
    funcs = functions(PAIR)
    per_function: dict[tuple, list] = {}
    for f in review.findings:
        func = function_at(funcs, f.primary.start_line)
        per_function.setdefault((func.contract, func.name), []).append(f)
        assert func.start_line < f.primary.start_line <= f.primary.end_line < func.end_line
        assert f.review.evidence and f.review.knowledge
    assert all(len(v) == 1 for v in per_function.values())
    leaky = per_function[("LeakyVault", "withdraw")][0]
    assert leaky.category is Category.REENTRANCY and (leaky.primary.start_line, leaky.primary.end_line) == (14, 16)
    assert ("SturdyVault", "withdraw") not in per_function


def test_the_shipped_model_leaves_the_fixed_twin_alone():
    review = EncoderReviewer().review([], {"vault_pair.sol": PAIR})
    funcs = functions(PAIR)
    seen = set()
    for f in review.findings:
        func = function_at(funcs, f.primary.start_line)
        assert func.contract != "SturdyVault"
        assert (func.end_line - func.start_line) > (f.primary.end_line - f.primary.start_line)
        assert (func.name, func.contract, f.category) not in seen
        seen.add((func.name, func.contract, f.category))


@pytest.fixture(scope="module")
def guarded_report():
    return audit(GUARDED, AuditOptions(tools=("slither",)))


def test_a_guarded_finding_is_judged_likely_false_with_its_guard(guarded_report):
    reentrancy = [f for f in guarded_report.findings
                  if f.origin == "tool" and f.category.dasp is Category.REENTRANCY and f.primary.function == "withdraw"]
    assert reentrancy, [f.title for f in guarded_report.findings]
    for f in reentrancy:
        assert f.review.label == "likely_false"
        assert "modifier once" in f.review.reason and f.review.knowledge == "SWC-107"
        guard = next(e for e in f.review.evidence if e.guard)
        assert guard.fact == "reentrancy-guard" and guard.line == 21
    assert guarded_report.review.likely_false >= len(reentrancy)


def test_the_guard_shows_in_every_format(guarded_report):
    detail = "modifier once on withdraw holds a lock while it runs"
    doc = json.loads(get_format("json").render(guarded_report))
    assert any(e["detail"] == detail for f in doc["findings"] if f["review"] for e in f["review"]["evidence"])
    sarif = json.loads(get_format("sarif").render(guarded_report))
    props = [r["properties"].get("review") or {} for r in sarif["runs"][0]["results"]]
    assert any(detail in json.dumps(p) for p in props)
    for name in ("md", "html"):
        assert detail in get_format(name).render(guarded_report)


def test_facts_follow_the_report_path():
    facts_ = Facts({"a/b.sol": PAIR})
    assert facts_.of("a/b.sol").legacy is False


def test_hostile_source_is_read_in_bounded_time():
    # Long ambiguous statements and deep braces: each pattern sees at most MAX_STATEMENT characters.
    # The bound is generous (a hang, not a speed target, is what this guards against).
    import time

    evil = ("pragma solidity ^0.4.0; contract C { function f() public { (" + "a b " * 20000 + "; x = "
            + "a = " * 20000 + "; " + "{" * 5000 + "}" * 5000 + " } }")
    started = time.monotonic()
    Facts({"e.sol": evil}).of("e.sol")
    assert time.monotonic() - started < 30


def test_a_do_nothing_modifier_named_like_a_guard_guards_nothing():
    src = """pragma solidity ^0.8.0;
    contract C { mapping(address => uint) b;
      modifier nonReentrant() { _; }
      modifier onlyOwner() { _; }
      function w() external nonReentrant onlyOwner { (bool ok, ) = msg.sender.call{value: b[msg.sender]}("");
        require(ok); b[msg.sender] = 0; } }"""
    kinds = _kinds(src, "w")
    assert "state-write-after-call" in kinds and not kinds & {"reentrancy-guard", "access-guard"}
    # ... while a library's modifier, whose body is not audited, is known by its name
    lib = """pragma solidity ^0.8.0;
    contract D { function w() external nonReentrant { } }"""
    assert "reentrancy-guard" in _kinds(lib, "w")


def test_training_text_carries_the_facts():
    from auditor.review.texts import finding_meta
    from finetune.data import finding_examples  # noqa: F401  (the builder imports the same words)

    f = _one_finding()
    guards, weak = Facts({"a.sol": PAIR}).for_finding(f, "reentrancy")
    from auditor.review.evidence import words

    meta = finding_meta(f, words(guards, weak))
    assert "| fact state write after call" in meta
    assert finding_meta(f) == meta.split(" | ")[0]          # what a model trained without facts reads


def _one_finding():
    from auditor.findings import Confidence, Finding, Location, Reporter, Severity

    loc = Location(file="a.sol", start_line=14, end_line=14, contract="LeakyVault", function="withdraw")
    rep = Reporter(tool="slither", detector="reentrancy-eth", severity=Severity.HIGH, confidence=Confidence.MEDIUM)
    return Finding(id="x", fingerprint="y", title="t", category=Category.REENTRANCY, severity=Severity.HIGH,
                   confidence=Confidence.MEDIUM, locations=[loc], description="", tools=["slither"], reporters=[rep])
