"""Free text from a board file or a tree, made safe to put on one line of a generated file."""

from __future__ import annotations


def one_line(text: object) -> str:
    """One line of printable ASCII: whitespace runs become one space, anything else unprintable
    a space (a comment in YAML, C or device-tree source cannot hold it)."""
    return "".join(ch if " " <= ch <= "~" else " " for ch in " ".join(str(text).split()))
