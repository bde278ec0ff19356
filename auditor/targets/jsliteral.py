"""Reading literal values out of a JavaScript / TypeScript config without running it.

`find_property(text, "solidity")` returns the value of the first `solidity: ...` property as
Python data when it is written as a literal: strings, numbers, booleans, null, objects and
arrays, nested; an identifier naming a top-level `const`/`let`/`var` of the same file is read
from its initializer. Anything computed (a call, `process.env...`, a condition, a template with
`${}`, a spread) becomes `COMPUTED` in place, so the literal parts around it are still usable and
the caller decides what an unknown value means. Never raises on odd input: a config this cannot
follow gives `COMPUTED` (or None when the property is not there at all).
"""

from __future__ import annotations

import re
from typing import Any


class _Computed:
    def __repr__(self) -> str:
        return "COMPUTED"


COMPUTED: Any = _Computed()
_MAX_DEPTH = 32
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)")
_WORDS = {"true": True, "false": False, "null": None, "undefined": None}
_CLOSE = {"(": ")", "[": "]", "{": "}"}
# Comments and strings, leftmost first, so that `//` inside a string (a URL) is not a comment.
_TOKENS = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`", re.S)


def strip_comments(text: str) -> str:
    """Blank out JavaScript comments, keeping strings and template literals as written."""
    def blank(m: re.Match[str]) -> str:
        t = m.group(0)
        return re.sub(r"[^\n]", " ", t) if t.startswith(("//", "/*")) else t

    return _TOKENS.sub(blank, text)


def find_property(text: str, key: str) -> Any:
    """The value of the first `key: value` property in `text` (None when there is none)."""
    code = strip_comments(text)
    m = re.search(rf"(?<![\w$.])[\"']?{re.escape(key)}[\"']?\s*:(?!:)", code)
    if m is None:
        return None
    return _Parser(code).value_at(m.end())


class _Parser:
    def __init__(self, code: str) -> None:
        self.code = code
        self.pos = 0
        self.depth = 0

    def value_at(self, pos: int) -> Any:
        self.pos = pos
        try:
            return self.value()
        except (IndexError, ValueError, RecursionError):
            return COMPUTED

    # ---- values ---------------------------------------------------------------------------------
    def value(self) -> Any:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise ValueError("nested too deep")
            value = self._primary()
            self._ws()
            if self._peek_word("as") or self._peek_word("satisfies"):   # a TypeScript type: the value stands
                self._skip_expression()
            elif not self._at_end_of_value():
                self._skip_expression()      # `a || b`, `x ? 1 : 2`, a call on the value...
                return COMPUTED
            return value
        finally:
            self.depth -= 1

    def _primary(self) -> Any:
        self._ws()
        c = self.code[self.pos]
        if c == "{":
            return self._object()
        if c == "[":
            return self._array()
        if c in "\"'":
            return self._string(c)
        if c == "`":
            end = self.code.index("`", self.pos + 1)
            body = self.code[self.pos + 1:end]
            self.pos = end + 1
            return COMPUTED if "${" in body else body
        m = _NUMBER.match(self.code, self.pos)
        if m and m.group(0) not in ("-", ""):
            self.pos = m.end()
            return _number(m.group(0))
        m = _IDENT.match(self.code, self.pos)
        if m is None:
            self._skip_expression()
            return COMPUTED
        self.pos = m.end()
        word = m.group(0)
        if word in _WORDS:
            return _WORDS[word]
        self._ws()
        if not self._at_end_of_value() and not self._peek_word("as"):
            return COMPUTED     # a member access or a call: the caller skips the rest
        return self._constant(word)

    def _object(self) -> Any:
        self.pos += 1
        out: dict = {}
        while True:
            self._ws()
            c = self.code[self.pos]
            if c == "}":
                self.pos += 1
                return out
            if c == ",":
                self.pos += 1
                continue
            key = self._key()
            self._ws()
            if key is not None and self.code[self.pos] == ":":
                self.pos += 1
                out[key] = self.value()
            else:             # a spread, a shorthand `{ version }`, a method, a computed key
                self._skip_expression()
                if key is not None:
                    out[key] = COMPUTED

    def _key(self) -> str | None:
        c = self.code[self.pos]
        if c in "\"'":
            return self._string(c)
        m = _IDENT.match(self.code, self.pos) or _NUMBER.match(self.code, self.pos)
        if m is None or not m.group(0):
            return None
        self.pos = m.end()
        return m.group(0)

    def _array(self) -> list:
        self.pos += 1
        out = []
        while True:
            self._ws()
            c = self.code[self.pos]
            if c == "]":
                self.pos += 1
                return out
            if c == ",":
                self.pos += 1
                continue
            if self.code.startswith("...", self.pos):
                self._skip_expression()
                out.append(COMPUTED)
                continue
            out.append(self.value())

    def _string(self, quote: str) -> str:
        i = self.pos + 1
        chars = []
        while self.code[i] != quote:
            if self.code[i] == "\\":
                i += 1
            elif self.code[i] == "\n":
                raise ValueError("unterminated string")
            chars.append(self.code[i])
            i += 1
        self.pos = i + 1
        return "".join(chars)

    def _constant(self, name: str) -> Any:
        """The initializer of a `const NAME = ...` (or let/var) at the start of a line, read the same way."""
        m = re.search(rf"(?m)^[ \t]*(?:export\s+)?(?:const|let|var)\s+{re.escape(name)}\s*(?::[^=\n]+)?=(?!=)",
                      self.code)
        if m is None:
            return COMPUTED
        saved = self.pos
        self.pos = m.end()
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise ValueError("constants refer to each other too deep")
            value = self._primary()
            # The statement ends at `;`, or at the end of its line (no semicolons), or goes on with a type.
            rest = re.match(r"[ \t]*(;|\n|$|as\b|satisfies\b)", self.code[self.pos:])
            return value if rest else COMPUTED
        finally:
            self.depth -= 1
            self.pos = saved

    # ---- skipping -------------------------------------------------------------------------------
    def _skip_expression(self) -> None:
        """Move to the `,` or closing bracket that ends the current value, across nested brackets and strings."""
        stack: list[str] = []
        while self.pos < len(self.code):
            c = self.code[self.pos]
            if c in "\"'`":
                end = self.code.find(c, self.pos + 1)
                while end > 0 and self.code[end - 1] == "\\":
                    end = self.code.find(c, end + 1)
                self.pos = len(self.code) if end < 0 else end + 1
                continue
            if c in _CLOSE:
                stack.append(_CLOSE[c])
            elif c in ")]}":
                if not stack:
                    return
                stack.pop()
            elif c in ",;" and not stack:
                return
            self.pos += 1

    def _ws(self) -> None:
        while self.pos < len(self.code) and self.code[self.pos].isspace():
            self.pos += 1

    def _at_end_of_value(self) -> bool:
        return self.pos >= len(self.code) or self.code[self.pos] in ",}]);"

    def _peek_word(self, word: str) -> bool:
        return re.match(rf"{word}\b", self.code[self.pos:self.pos + len(word) + 1]) is not None


def _number(text: str) -> int | float:
    text = text.replace("_", "")
    if text.lower().startswith(("0x", "-0x")):
        return int(text, 16)
    try:
        return int(text)
    except ValueError:
        return float(text)
