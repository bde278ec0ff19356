"""Guards: the code facts that speak against a finding (a lock, a caller check, a tested call
result, ...). Each is recognised by what the code does, never by a name, except for a modifier
whose body is not in the audited sources (a library's `nonReentrant`): a do-nothing modifier
named like a guard in the audited code protects nothing.

Every rule here can turn a tool finding into `likely_false`, so each errs towards seeing no guard:
a lock must check its flag and reset it, a caller check must revert and compare the caller with
a stored value, a truncation must not feed a hash or a branch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from auditor.review import patterns as P
from auditor.review.patterns import Fact, fact, mentions, short, written
from auditor.review.source import Function
from auditor.review.statements import Body, Statement, split


def modifier_kinds(funcs: Iterable[Function]) -> dict[str, set[str]]:
    """Modifier name -> {"mutex", "access"}: what each modifier in the sources does, by its body.
    A name defined twice (two contracts) has only the kinds all its bodies agree on."""
    out: dict[str, set[str]] = {}
    for f in funcs:
        if not f.code.lstrip().startswith("modifier"):
            continue
        sts = split(f).statements
        texts = [s.text for s in sts]
        kinds: set[str] = set()
        if "_" in texts:
            at = texts.index("_")
            # A lock: a flag checked before `_`, set before it, and set to something else after it.
            last_set = {written(s): s.text.split("=", 1)[-1] for s in sts[:at] if written(s)}
            reset = {written(s): s.text.split("=", 1)[-1] for s in sts[at + 1:] if written(s)}
            checked = [t for t in texts[:at] if re.match(r"^(require|assert|if)\b", t)]
            if any(v in reset and reset[v] != last_set[v] and any(mentions(v, t) for t in checked) for v in last_set):
                kinds.add("mutex")
            calls_around = any(t.endswith(")") for t in texts[:at]) and any(t.endswith(")") for t in texts[at + 1:])
            if calls_around and P.MUTEX_NAME.search(f.name):        # OpenZeppelin 5: _nonReentrantBefore()
                kinds.add("mutex")
            if any(sender_check(sts, i) for i in range(at)):
                kinds.add("access")
        out[f.name] = kinds if f.name not in out else out[f.name] & kinds
    return out


def sender_check(sts: tuple[Statement, ...], i: int) -> bool:
    """Statement `i` stops every caller but a stored one: a reverting comparison of the caller with
    a variable (not itself, zero or tx.origin), an allow-list lookup, or a role/owner helper."""
    t = sts[i].text
    if not P.SENDER_CHECK.search(t) or P.TRIVIAL_SENDER.search(t) or re.search(r"!\s*[\w$]+\s*\[\s*" + P.SENDER, t):
        return False
    if re.match(r"^(require|assert)\s*\(", t) or re.match(r"^_check\w*\s*\(", t):
        return True
    if re.match(r"^if\b", t):
        follow = sts[i + 1].text if i + 1 < len(sts) else ""
        # ... or, in a modifier, runs the body only for that caller: `if (msg.sender == admin) { _; } else ...`
        return bool(re.search(r"\b(revert|throw)\b", t) or re.match(r"^(revert|throw|return)\b", follow)
                    or (follow == "_" and "==" in t))
    return False


def guard_facts(body: Body, modifiers: dict[str, set[str]], writes: set[str], legacy: bool) -> list[Fact]:
    """The guards of one function. `writes`: the state it writes (a view function must write none)."""
    out: list[Fact] = []
    func, sts = body.function, body.statements
    head = Statement(body.header, func.start_line, func.start_line, False, False)
    for name in body.modifiers:
        kinds = modifiers.get(name)
        if kinds is None:
            kinds = {k for k, rx in (("mutex", P.MUTEX_NAME), ("access", P.ACCESS_NAME)) if rx.search(name)}
        if "mutex" in kinds:
            out.append(fact("reentrancy-guard", f"modifier {name} on {func.name} holds a lock while it runs", head,
                            True, P.RE))
        if "access" in kinds:
            out.append(fact("access-guard", f"modifier {name} on {func.name} restricts who may call it", head, True,
                            P.AC, P.RE))
    if body.is_view and not writes:
        out.append(fact("view-function", f"{func.name} is view/pure and writes no state", head, True, P.RE))
    if func.code.lstrip().startswith("constructor") or (func.contract and func.name == func.contract and legacy
                                                         and not func.code.lstrip().startswith("function constructor")):
        out.append(fact("constructor", f"{func.name} runs once, at deployment", head, True, P.AC))
    calls = [st for st in sts if P.external(st)]
    sends = [st for st in sts if P.ETH_SEND.search(st.text)]
    if sends and not calls and not any(P.member_calls(st) for st in sts):
        out.append(fact("transfer-stipend", "the only calls are ether transfer/send, which forward 2,300 gas",
                        sends[0], True, P.RE))
    created = {m.group(1) for m in (P.CREATED.match(st.text) for st in sts) if m}
    if calls and created:
        names = "|".join(map(re.escape, sorted(created)))
        receiver = re.compile(rf"(?<![\w$])({names})\s*\)?\s*\.\s*[\w$]+\s*[({{]")
        if all(receiver.search(c.text) for c in calls):
            out.append(fact("fresh-callee", f"the external calls go to a contract {func.name} has just created",
                            calls[0], True, P.RE))
    joined = " ".join(st.text for st in sts)
    if re.search(r"\bdelegatecall\s*\(", joined) and re.search(r"\breturn\s*\(\s*0\s*,", joined):
        out.append(fact("proxy-return", f"{func.name} is a proxy's delegate: its assembly return(...) hands back "
                        "the implementation's result on purpose", head, True, P.OT))
    moved = re.compile(r"balance|timestamp|\bblock\s*\.|\bnow\b")
    tainted = {written(st) for st in sts if written(st) and moved.search(st.text)}
    for i, st in enumerate(sts):
        t = st.text
        if sender_check(sts, i):
            out.append(fact("sender-check", f"`{short(t)}` stops any other caller", st, True, P.AC))
        n = P.POW2.search(t)
        if (n and P.BLOCK_VALUE.search(t) and int(n.group(1)) >= 32 and not P.HASH.search(t)
                and not P.CONDITION.match(t)):
            out.append(fact("timestamp-truncation", f"`{short(t)}` keeps the low bits of a block value: a "
                            "truncation, not a draw", st, True, P.BR))
        if ("==" in t and not re.search(r"balance|\bblock\s*\.|\bnow\b|timestamp", t, re.IGNORECASE)
                and not any(mentions(v, t) for v in tainted)):
            out.append(fact("no-balance-equality", f"`{short(t)}` compares no balance or block value that "
                            "another account could move", st, True, P.DOS))
        tuple_ = re.match(r"^\(((?:[^()]*,)+[^()]*)\)\s*=[^=].*[\w$]\s*\(", t)
        if tuple_:
            names = [part.split()[-1] for part in tuple_.group(1).split(",") if part.split()]
            # read later, or named returns (the function hands them back)
            later = " ".join(s.text for s in sts[i + 1:i + 40]) + " " + body.header.partition("returns")[2]
            if names and all(mentions(n, later) for n in names):
                out.append(fact("destructured-return", f"`{short(t)}` takes the values it needs from the result",
                                st, True, P.UC))
        if re.search(r"\bxor\s*\(", t) and "^" not in t:
            out.append(fact("no-caret", f"`{short(t)}` calls xor(...) by name: no `^` to mistake for a power", st,
                            True, P.AR))
        if P.DECLARATION.match(t) and "=" not in t and "storage" not in t:
            out.append(fact("zero-default-local", f"`{short(t)}` starts at its zero value, as Solidity defines",
                            st, True, P.OT))
    return out
