"""A function body as statements with their lines: what the review's code facts are read from.

No compiler: the text is comment-free (`source.strip_comments`) and split at `;`, `{` and `}` outside
strings and parentheses, which holds for every Solidity version. Each statement knows the blocks it
sits in (a loop, an `unchecked` block), so a fact can say "inside a loop" without a parse tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.review.source import Function

_LOOP = re.compile(r"^(for|while|do)\b")
_KEYWORDS = frozenset({"public", "external", "internal", "private", "view", "pure", "constant", "payable",
                       "virtual", "override", "returns", "nonpayable"})
_TYPE_START = re.compile(r"^(?:mapping\s*\(|(?:u?int\d*|address|bool|bytes\d*|string|byte|var|[A-Z][\w$]*)\b"
                         r"(?:\s*\[[^\]]*\])*(?:\s+(?:memory|storage|calldata|payable))*\s+([A-Za-z_$][\w$]*)\s*(?:=|$))")
# Hostile sources: a statement is read up to this many characters (real ones are far shorter), so
# that no pattern below ever runs over megabytes of one expression.
MAX_STATEMENT = 2000


@dataclass(frozen=True)
class Statement:
    text: str               # whitespace collapsed, strings blanked
    start_line: int         # absolute lines in the file
    end_line: int
    in_loop: bool
    in_unchecked: bool
    opens: str | None = None    # "loop" / "unchecked" / "if" / "block" when the statement opens a block


@dataclass(frozen=True)
class Body:
    """A function split for fact finding: its header (signature with modifiers) and statements."""

    function: Function
    header: str
    modifiers: tuple[str, ...]      # names of the modifiers applied in the header
    params: frozenset[str]
    locals: frozenset[str]
    statements: tuple[Statement, ...]

    @property
    def visibility(self) -> str:
        for word in ("external", "public", "internal", "private"):
            if re.search(rf"\b{word}\b", self.header):
                return word
        return "default"

    @property
    def is_view(self) -> bool:
        return bool(re.search(r"\b(view|pure|constant)\b", self.header))

    @property
    def callable(self) -> bool:
        """Reachable by any account: public, external, or (before 0.5) no visibility at all."""
        kind = self.function.name
        return self.visibility in ("external", "public", "default") and kind not in ("constructor", "modifier")


def _mask(code: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', lambda m: '"' + "_" * (len(m.group(0)) - 2) + '"',
                  code)


def split(func: Function) -> Body:
    code = _mask(func.code)
    # The body opens at the first `{` outside parentheses.
    depth, body_at = 0, len(code)
    for i, ch in enumerate(code):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "{" and depth <= 0:
            body_at = i
            break
    header = re.sub(r"\s+", " ", code[:body_at]).strip()
    statements = _statements(code, body_at, func.start_line)
    params = _params(header)
    locals_ = set()
    for st in statements:
        m = _TYPE_START.match(st.text)
        if m and m.group(1) and not st.text.startswith(("return", "emit", "delete")):
            locals_.add(m.group(1))
        if st.text.startswith("(") and ")" in st.text:
            inner, _, rest = st.text[1:].partition(")")
            if rest.lstrip().startswith("=") and not rest.lstrip().startswith("=="):
                locals_.update(part.split()[-1] for part in inner.split(",") if len(part.split()) >= 2)
        loop = re.match(r"^for\s*\(\s*(?:u?int\d*|var)\s+([\w$]+)", st.text)
        if loop:
            locals_.add(loop.group(1))
    return Body(func, header, _modifiers(header), frozenset(params), frozenset(locals_), tuple(statements))


def _statements(code: str, body_at: int, first_line: int) -> list[Statement]:
    out: list[Statement] = []
    stack: list[str] = []
    open_kinds = {"loop": 0, "unchecked": 0}     # counts, so that depth costs nothing per statement
    line = first_line + code[:body_at + 1].count("\n")
    buf: list[str] = []
    start: int | None = None
    paren = 0
    inline = 0          # braces inside an expression: `.call{value: v}(...)`, `new C{salt: s}()`
    for ch in code[body_at + 1:]:
        if ch == "\n":
            line += 1
        if ch == "(":
            paren += 1
        elif ch == ")":
            paren -= 1
        elif ch == "{" and paren <= 0 and (inline or _expression_brace("".join(buf[-200:]))):
            inline += 1
        elif ch == "}" and inline:
            inline -= 1
            buf.append(ch)
            continue
        if inline:
            buf.append(ch)
            continue
        if paren <= 0 and ch in ";{}":
            text = re.sub(r"\s+", " ", "".join(buf[:MAX_STATEMENT])).strip()
            kind = None
            if ch == "{":
                kind = ("loop" if _LOOP.match(text) else "unchecked" if text == "unchecked"
                        else "if" if text.startswith(("if", "else")) else "block")
            if text or kind:
                out.append(Statement(text, start or line, line, open_kinds["loop"] > 0 or kind == "loop",
                                     open_kinds["unchecked"] > 0, kind))
            if ch == "{":
                stack.append(kind or "block")
                if stack[-1] in open_kinds:
                    open_kinds[stack[-1]] += 1
            elif ch == "}":
                if not stack:
                    break            # the function's own closing brace
                closed = stack.pop()
                if closed in open_kinds:
                    open_kinds[closed] -= 1
            buf, start = [], None
            continue
        if start is None and not ch.isspace():
            start = line
        buf.append(ch)
    return out


_BLOCK_WORDS = re.compile(r"(^|\b)(else|do|unchecked|assembly|try|catch)\s*$")


def _expression_brace(before: str) -> bool:
    """A `{` right after a name (`.call{`, `new C{`) belongs to the expression, not a new block."""
    text = before.rstrip()
    return bool(text) and not text.endswith(")") and not _BLOCK_WORDS.search(text) and bool(re.search(r"[\w$]$", text))


def _params(header: str) -> set[str]:
    m = re.search(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)", header)
    names = set()
    if m:
        for part in m.group(1).split(","):
            words = part.split()
            if len(words) >= 2:
                names.add(words[-1])
    return names


def _modifiers(header: str) -> tuple[str, ...]:
    """The names applied after the parameter list (visibility and mutability words excluded)."""
    m = re.search(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)", header)
    if not m:
        return ()
    tail = header[m.end():]
    tail = re.sub(r"\breturns\s*\(.*", "", tail)
    tail = re.sub(r"\([^()]*\)", "", tail)
    return tuple(w for w in re.findall(r"[A-Za-z_$][\w$]*", tail) if w not in _KEYWORDS)
