"""Control characters made visible, for the human-readable outputs (terminal, Markdown, HTML).

Text echoed from sources and compilers (compile errors, finding titles and descriptions, file
paths, tool messages) may carry bytes that act instead of print: ESC starts terminal sequences
(`\\x1b[2J` clears the screen), a carriage return overwrites a line, bidirectional overrides reorder
what a reader sees (Trojan Source). `visible` writes each as an escape such as `\\x1b` or `\\u202e`;
newlines and tabs stay. JSON and SARIF need none of this: JSON escapes control characters itself.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls; the bidi embeddings, overrides and isolates
# (U+202A-202E, U+2066-2069) and the implicit marks (U+200E, U+200F, U+061C).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` with every control character above written as a visible escape."""
    return _CONTROLS.sub(_escape, str(text))
