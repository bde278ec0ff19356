"""The statement-level patterns code facts are made of (`facts.py`, `guards.py`): regular
expressions over one comment-free statement (at most `statements.MAX_STATEMENT` characters, so
none of them ever runs over a hostile megabyte) and small predicates built from them."""

from __future__ import annotations

import re

from auditor.review.statements import Statement

RE = "reentrancy"
AC = "access_control"
AR = "arithmetic"
UC = "unchecked_low_level_calls"
DOS = "denial_of_service"
BR = "bad_randomness"
TM = "time_manipulation"
FR = "front_running"
OT = "other"

LOW_LEVEL = re.compile(r"\.(call|delegatecall|callcode)\s*(?:\.value\s*\(|\.gas\s*\(|\{|\()")
SEND = re.compile(r"\.(send|transfer)\s*\(")
# transfer/send of ether take one argument; `token.transfer(to, amount)` is an ERC-20 call
ETH_SEND = re.compile(r"\.(send|transfer)\s*\((?:[^(),]|\([^()]*\))*\)")
TYPED_CALL = re.compile(r"\b[A-Z][\w$]*\s*\([^()]*\)\s*\.\s*[a-z_$][\w$]*\s*[({]")
MEMBER_CALL = re.compile(r"\b([A-Za-z_$][\w$]*)\s*\.\s*([A-Za-z_$][\w$]*)\s*[({]")
BUILTIN_OBJECTS = frozenset({"abi", "msg", "block", "tx", "super", "string", "bytes", "type", "this"})
BLOCK_VALUE = re.compile(r"\b(block\s*\.\s*(timestamp|number|difficulty|prevrandao|coinbase|gaslimit)|blockhash"
                         r"|block\s*\.\s*blockhash|now)\b")
TIME = re.compile(r"\b(block\s*\.\s*timestamp|now)\b")
POW2 = re.compile(r"%\s*\(?\s*2\s*\*\*\s*(\d+)")
HASH = re.compile(r"\b(keccak256|sha3|sha256)\s*\(")
SENDER = r"(?:msg\s*\.\s*sender|_?msgSender\s*\(\s*\))"      # OpenZeppelin's Context: _msgSender()
# A comparison with the caller, a caller-keyed boolean (an allow-list), or a role/owner check helper:
# `require(balances[msg.sender] >= x)` is not one.
SENDER_CHECK = re.compile(rf"{SENDER}\s*(==|!=)|(==|!=)\s*{SENDER}"
                          rf"|^(require|if)\s*\(\s*!?\s*[\w$]+\s*\[\s*{SENDER}\s*\]\s*\)"
                          r"|_check(Owner|Role|Auth)\w*\s*\(|\bhasRole\s*\(|\bisAuthorized\s*\(")
TRIVIAL_SENDER = re.compile(rf"{SENDER}\s*(==|!=)\s*({SENDER}|address\s*\(\s*0\s*\)|tx\s*\.\s*origin|0x0*\b|0\b)"
                            rf"|(address\s*\(\s*0\s*\)|tx\s*\.\s*origin)\s*(==|!=)\s*{SENDER}")
ACCESS_NAME = re.compile(r"^(only(?!\w*(Block|Time|After|Before|Once|Valid|Active|Open|Close|Paus|Initiali|State|Phase"
                         r"|Stage|Not|When|During|If))\w*|requiresAuth|auth|restricted|isAuthorized)$")
MUTEX_NAME = re.compile(r"reentr|mutex|^lock(ed)?$|^nonReentrant", re.IGNORECASE)
SAFE_MATH = re.compile(r"\.\s*(add|sub|mul|div|tryAdd|trySub|tryMul)\s*\(")
ARITH = re.compile(r"(\+=|-=|\*=|(?<![=!<>+\-*/%&|^])=[^=].*[\w\])]\s*[-+*]\s*[\w(])")
DECLARATION = re.compile(r"^(?:u?int\d*|address|bool|bytes\d*|string|[A-Z][\w$]*(?:\.[A-Z][\w$]*)?)(?:\s*\[[^\]]*\])*"
                         r"(?:\s+(?:memory|calldata|payable))*\s+[A-Za-z_$][\w$]*$")
CREATED = re.compile(r"^(?:[\w$]+\s+)?([\w$]+)\s*:?=.*\b(create2?\s*\(|new\s+[A-Z])")
STATE_WRITE = re.compile(r"^(?:delete\s+)?([A-Za-z_$][\w$]*)\s*(?:\[[^\]]*\]|\.[\w$]+)*\s*(?:[-+*/%|&^]|<<|>>)?="
                         r"(?!=)|^([A-Za-z_$][\w$]*)\s*(?:\+\+|--)|^(?:\+\+|--)\s*([A-Za-z_$][\w$]*)")
CONDITION = re.compile(r"^(require|assert|if|while)\b")


def written(st: Statement) -> str | None:
    """The root name a statement assigns to (`a` for `a[i].b = x`), or None."""
    m = STATE_WRITE.match(st.text)
    return next((g for g in m.groups() if g), None) if m else None


def external(st: Statement) -> bool:
    """A call that hands control to other code with gas to re-enter (not transfer/send's 2,300)."""
    return bool(LOW_LEVEL.search(st.text) or TYPED_CALL.search(st.text))


def member_calls(st: Statement) -> bool:
    """A call on another object than the language's own (`abi.encode`, `msg.sender`, ...)."""
    return any(m.group(1) not in BUILTIN_OBJECTS for m in MEMBER_CALL.finditer(ETH_SEND.sub("", st.text)))


def mentions(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text) is not None


def short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Fact:
    """One code fact: its kind, words for a reader, its lines, whether it protects (a guard), the
    (DASP) classes it bears on, and for a write the state it writes (`subject`)."""

    __slots__ = ("categories", "detail", "end_line", "fact", "guard", "line", "subject")

    def __init__(self, fact: str, detail: str, line: int, end_line: int, guard: bool, categories: frozenset[str],
                 subject: str | None = None) -> None:
        self.fact, self.detail, self.line, self.end_line = fact, detail, line, end_line
        self.guard, self.categories, self.subject = guard, categories, subject

    def __repr__(self) -> str:
        return f"Fact({self.fact!r}, line {self.line}-{self.end_line})"


def fact(kind: str, detail: str, st: Statement, guard: bool, *cats: str, subject: str | None = None) -> Fact:
    return Fact(kind, detail, st.start_line, st.end_line, guard, frozenset(cats), subject)
