"""Solidity source as the review model sees it: comments gone, functions found, names neutral.

Shared by training (`finetune/`) and inference (`auditor/review/`), so both see the same text.

* Comments are blanked, not removed, so line numbers stay valid: labelled datasets write their
  labels into comments (`// <yes> <report> REENTRANCY`), and a model that reads them learns the
  dataset, not the bug. A contract's comments are also never instructions to the model.
* Functions (with constructors, fallback/receive and modifiers) are found by brace matching on
  the blanked text; that works across every Solidity version without a compiler.
* User-chosen identifiers become neutral placeholders (`v1`, `f2`, `C1`) in order of first use:
  a contract named `Lottery` or a variable named `random` says nothing about the code, and
  detection must survive renaming. Keywords, types, built-ins and members stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def strip_comments(source: str) -> str:
    """Blank every comment (newlines kept, so line numbers do not move); strings are left alone."""

    def blank(m: re.Match) -> str:
        text = m.group(0)
        if text.startswith(("//", "/*")):
            return re.sub(r"[^\n]", " ", text)
        return text

    return _TOKEN.sub(blank, source)


def _mask_strings(code: str) -> str:
    """Same length, string contents replaced, so braces in strings do not count."""
    return re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', lambda m: '"' + "_" * (len(m.group(0)) - 2) + '"',
                  code)


@dataclass(frozen=True)
class Function:
    """A function-like body in a file: lines are 1-based and inclusive."""

    name: str
    contract: str | None
    start_line: int
    end_line: int
    code: str             # the comment-free text of the whole definition

    def covers(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line


_CONTRACT = re.compile(r"\b(contract|library|interface)\s+([A-Za-z_$][\w$]*)")
_FUNCTION = re.compile(r"\b(function\s*([A-Za-z_$][\w$]*)?|constructor|fallback|receive|modifier\s+([A-Za-z_$][\w$]*))"
                       r"\s*\(")


def functions(source: str) -> list[Function]:
    """Every function-like definition with a body, in source order."""
    code = strip_comments(source)
    masked = _mask_strings(code)
    line_starts = [0] + [i + 1 for i, ch in enumerate(masked) if ch == "\n"]

    def line_of(offset: int) -> int:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    contracts = [(m.start(), m.group(2)) for m in _CONTRACT.finditer(masked)]
    found: list[Function] = []
    pos = 0
    while True:
        m = _FUNCTION.search(masked, pos)
        if m is None:
            break
        body_start = _body_start(masked, m.end())
        if body_start == -1:            # unterminated to the end of the file: no later match has a body either
            break
        if body_start is None:          # a declaration without a body (interface, abstract)
            pos = m.end()
            continue
        end = _matching_brace(masked, body_start)
        if end is None:
            break
        head = m.group(1)
        name = (m.group(2) or m.group(3) or ("fallback" if head.startswith("function") else head.split()[0]))
        owner = None
        for start, cname in contracts:
            if start < m.start():
                owner = cname
        found.append(Function(name, owner, line_of(m.start()), line_of(end), code[m.start():end + 1]))
        pos = end + 1
    return found


def _body_start(masked: str, pos: int) -> int | None:
    """Offset of the `{` opening the body after a signature, None when a `;` ends it first, -1 when
    the file ends first."""
    depth = 0
    for i in range(pos, len(masked)):
        ch = masked[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth <= 0 and ch == "{":
            return i
        elif depth <= 0 and ch == ";":
            return None
    return -1


def _matching_brace(masked: str, open_at: int) -> int | None:
    depth = 0
    for i in range(open_at, len(masked)):
        if masked[i] == "{":
            depth += 1
        elif masked[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def function_at(funcs: list[Function], line: int) -> Function | None:
    """The innermost function covering `line`."""
    best = None
    for f in funcs:
        if f.covers(line) and (best is None or f.end_line - f.start_line < best.end_line - best.start_line):
            best = f
    return best


# ---- identifier normalization ----------------------------------------------------------------
# Words the language owns: keywords, types, globals and the members that carry meaning for bugs.
_WORDS = """
abstract address anonymous as assembly assert bool break byte bytes calldata catch constant constructor
continue contract days delete do else emit enum ether event external fallback false finney for function gwei
hours if immutable import indexed interface internal is library mapping memory minutes modifier new override
payable pragma private public pure receive require return returns revert seconds storage string struct szabo
this throw true try type unchecked using var view virtual weeks wei while years solidity __flag__ msg sender
value data sig gas gasprice origin tx block timestamp number difficulty prevrandao coinbase gaslimit basefee
chainid blockhash now keccak256 sha3 sha256 ripemd160 ecrecover addmod mulmod selfdestruct suicide abi encode
encodePacked encodeWithSelector encodeWithSignature encodeCall decode call delegatecall staticcall callcode
send transfer balance code codehash length push pop super this
"""
_KEEP = set(_WORDS.split())
_KEEP |= {f"uint{n}" for n in range(8, 257, 8)} | {f"int{n}" for n in range(8, 257, 8)}
_KEEP |= {f"bytes{n}" for n in range(1, 33)} | {"uint", "int", "fixed", "ufixed"}
_IDENT = re.compile(r"(?<![\w$])[A-Za-z_$][\w$]*")


def normalize(code: str) -> str:
    """Comment-free code with whitespace collapsed and user identifiers renamed by first use.

    Contract-like names (capitalised) become `C1..`, calls `f1..`, everything else `v1..`; the
    same name gets the same placeholder within one text. String literals keep only their quotes."""
    code = re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', '""', strip_comments(code))
    names: dict[str, str] = {}
    counters = {"C": 0, "f": 0, "v": 0}

    def rename(m: re.Match) -> str:
        word = m.group(0)
        if word in _KEEP:
            return word
        if word not in names:
            tail = code[m.end():m.end() + 2].lstrip()
            kind = "C" if word[0].isupper() and not word.isupper() else ("f" if tail.startswith("(") else "v")
            counters[kind] += 1
            names[word] = f"{kind}{counters[kind]}"
        return names[word]

    code = _IDENT.sub(rename, code)
    return re.sub(r"\s+", " ", code).strip()
