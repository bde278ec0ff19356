"""Code facts the review rests on: weaknesses (an external call before a state write, a low-level
call whose result is dropped, ...) here, and guards (`guards.py`), each with its line.

Facts are read from the comment-free source by `statements.split`, so they need no compiler and
no names: a weakness is what the statements do, whatever the identifiers are called. The triage
reads the facts as text; its verdicts and the model's own findings cite them as evidence
(`auditor.findings.Evidence`).
"""

from __future__ import annotations

import re

from auditor.review import patterns as P
from auditor.review.guards import guard_facts, modifier_kinds
from auditor.review.patterns import Fact, fact, mentions, short, written
from auditor.review.statements import Body, Statement

__all__ = [
    "GUARD_DETECTORS",
    "GUARD_FACTS",
    "LINE_GUARDS",
    "WEAKNESS_FACTS",
    "Fact",
    "facts",
    "modifier_kinds",
    "state_writes",
]


def state_writes(body: Body) -> set[str]:
    """The state a function writes directly (locals and parameters are not state)."""
    return {w for st in body.statements if (w := written(st)) and w not in body.locals and w not in body.params}


def _unchecked_call(sts: tuple[Statement, ...], i: int) -> bool:
    """A low-level call or send whose success flag is dropped, or stored and not tested (by a
    condition) before it is stored again."""
    t = sts[i].text
    if not (P.LOW_LEVEL.search(t) or re.search(r"\.send\s*\(", t)):
        return False
    if re.match(r"^(require|assert|return|while)\b", t):
        return False
    if re.match(r"^if\b", t):
        return i + 1 < len(sts) and sts[i + 1].text == "" and sts[i + 1].opens is None
    stored = re.match(r"^\(?\s*(?:bool\s+)?([\w$]+)\s*(?:,[^)=]*)?\)?\s*=(?!=)", t)
    if not stored:
        return True
    flag = stored.group(1)
    for later in sts[i + 1:i + 60]:
        if P.CONDITION.match(later.text) and mentions(flag, later.text):
            return False
        if written(later) == flag:
            return True
    return True


def facts(body: Body, modifiers: dict[str, set[str]], legacy: bool) -> list[Fact]:
    """Every fact of one function, guards first. `legacy`: the file's pragma admits compilers before
    0.8 (arithmetic wraps silently)."""
    sts = body.statements
    writes = state_writes(body)
    out = guard_facts(body, modifiers, writes, legacy)

    def state(st: Statement) -> bool:
        w = written(st)
        return w is not None and w in writes

    pays = any(P.SEND.search(s.text) or P.LOW_LEVEL.search(s.text) for s in sts)
    for i, st in enumerate(sts):
        t = st.text
        if _unchecked_call(sts, i):
            out.append(fact("unchecked-call", f"the result of `{short(t)}` is not checked", st, False, P.UC, P.DOS))
        elif P.LOW_LEVEL.search(t) or re.search(r"\.send\s*\(", t):
            out.append(fact("checked-call", f"the result of `{short(t)}` is checked", st, True, P.UC))
        if re.search(r"\b(selfdestruct|suicide)\s*\(", t):
            out.append(fact("selfdestruct", f"`{short(t)}` destroys the contract", st, False, P.AC))
        if re.search(r"\.(delegatecall|callcode)\s*[({]", t):
            out.append(fact("delegatecall", f"`{short(t)}` runs other code on this contract's storage", st, False,
                            P.AC))
        if re.search(r"\btx\s*\.\s*origin\b", t) and re.search(r"(==|!=)", t):
            out.append(fact("tx-origin-auth", f"`{short(t)}` authorizes by tx.origin", st, False, P.AC))
        if state(st) and re.search(r"=\s*msg\s*\.\s*sender\s*$", t):
            out.append(fact("caller-takes-role", f"`{short(t)}` stores the caller in state", st, False, P.AC))
        if (legacy or st.in_unchecked) and state(st) and P.ARITH.search(t) and not P.SAFE_MATH.search(t):
            why = "in an unchecked block" if st.in_unchecked else "compiled without overflow checks"
            out.append(fact("unchecked-arithmetic", f"`{short(t)}` on state, {why}", st, False, P.AR))
        pow2 = P.POW2.search(t)
        if P.BLOCK_VALUE.search(t) and (P.HASH.search(t) or ("%" in t and not (pow2 and int(pow2.group(1)) >= 32))):
            out.append(fact("block-randomness", f"`{short(t)}` derives a value from block data", st, False, P.BR))
        if P.TIME.search(t) and re.search(r"^(require|assert|if|while)\b|[<>]=?|==", t) and not pow2:
            out.append(fact("timestamp-condition", f"`{short(t)}` branches on the block time", st, False, P.TM))
        if st.in_loop and (P.external(st) or P.SEND.search(t)):
            out.append(fact("call-in-loop", f"`{short(t)}` calls out once per iteration", st, False, P.DOS))
        if re.match(r"^(require|assert)\s*\(", t) and (P.SEND.search(t) or P.LOW_LEVEL.search(t)):
            out.append(fact("require-call", f"`{short(t)}` reverts everything when one call fails", st, False, P.DOS))
        if pays and P.HASH.search(t) and re.match(r"^(require|if)\b", t) and "==" in t:
            out.append(fact("public-answer", f"`{short(t)}` pays for a value anyone can read from the mempool",
                            st, False, P.FR))
    out += _writes_after_calls(sts, state)
    return out


def _writes_after_calls(sts: tuple[Statement, ...], state) -> list[Fact]:
    """The first state write after the first external call, by statement order (the same line may
    hold both); its subject is the state written."""
    first = next((i for i, st in enumerate(sts) if P.external(st)), None)
    if first is None:
        return []
    call = sts[first]
    for st in sts[first + 1:]:
        if state(st) and not P.external(st):
            return [Fact("state-write-after-call", f"`{short(st.text)}` (line {st.start_line}) writes state after "
                         f"the external call `{short(call.text)}`", call.start_line, st.end_line, False,
                         frozenset({P.RE}), written(st))]
    return []


# What speaks for and against each (DASP) class.
WEAKNESS_FACTS: dict[str, frozenset[str]] = {
    P.RE: frozenset({"state-write-after-call"}),
    P.AC: frozenset({"selfdestruct", "delegatecall", "tx-origin-auth", "caller-takes-role"}),
    P.AR: frozenset({"unchecked-arithmetic"}),
    P.UC: frozenset({"unchecked-call"}),
    P.DOS: frozenset({"call-in-loop", "require-call"}),
    P.BR: frozenset({"block-randomness"}),
    P.TM: frozenset({"timestamp-condition"}),
    P.FR: frozenset({"public-answer"}),
}
GUARD_FACTS: dict[str, frozenset[str]] = {
    # Re-entering needs an untrusted callee reached by an untrusted caller: a lock, no state to
    # corrupt, 2,300 gas, a callee just created, or a restricted caller each rule it out (for the
    # state no unguarded function also writes: `evidence.py` checks that).
    P.RE: frozenset({"reentrancy-guard", "view-function", "transfer-stipend", "fresh-callee", "access-guard"}),
    P.AC: frozenset({"access-guard", "sender-check", "constructor"}),
    P.UC: frozenset({"checked-call", "destructured-return"}),
    P.BR: frozenset({"timestamp-truncation"}),
    P.DOS: frozenset({"no-balance-equality"}),
    P.OT: frozenset({"zero-default-local", "proxy-return"}),
    P.AR: frozenset({"no-caret"}),
}
# Guards that protect one statement, not the whole function: they count only when they cover every
# place the finding names in that function, and never where a weakness of the class sits too.
LINE_GUARDS = frozenset({"checked-call", "destructured-return", "timestamp-truncation", "no-balance-equality",
                         "zero-default-local", "no-caret"})
# Guards that answer one detector's claim only (an equality with no balance in it answers "strict
# equality on a balance", not a loop of calls).
GUARD_DETECTORS: dict[str, frozenset[str]] = {
    "no-balance-equality": frozenset({"incorrect-equality", "SWC-132"}),
    "destructured-return": frozenset({"unused-return"}),
    "zero-default-local": frozenset({"uninitialized-local"}),
    "proxy-return": frozenset({"incorrect-return", "incorrect-modifier"}),
    "no-caret": frozenset({"incorrect-exp"}),
}
