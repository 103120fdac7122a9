"""Emitted C held to the kernel's 100 columns (Documentation/process/coding-style.rst; what
`checkpatch.pl --strict` checks), whatever the length of the board's name that prefixes every
identifier.

A line over the limit is broken where a person would break it:
- a comment line (` * text`, `/* text */`, `// text`) at a word, the rest under the same prefix;
- code at the last `, ` outside string literals that fits, the rest aligned one column after
  the innermost bracket still open there (checkpatch's "Alignment should match open
  parenthesis"), or one tab deeper when nothing is open.
A line that cannot be broken (one token longer than the limit) stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LIMIT = 100
TAB = 8


def width(line: str) -> int:
    """Display columns, tabs to the next multiple of 8 (as checkpatch counts)."""
    col = 0
    for ch in line:
        col = (col // TAB + 1) * TAB if ch == "\t" else col + 1
    return col


def fit(text: str, split_strings: bool = True) -> str:
    """`split_strings`: C joins adjacent string literals, dtc does not (device-tree source
    passes False)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fitted = _fit_line(lines[i], split_strings)
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        # A comment paragraph reflows: what a broken line carries over joins the next line of
        # the same paragraph, which is then fitted in turn.
        if len(fitted) > 1 and nxt is not None and _same_paragraph(lines[i], nxt):
            prefix = _comment_prefix(nxt)
            carried = fitted[-1][len(prefix):]
            out.extend(fitted[:-1])
            lines[i + 1] = prefix + carried + " " + nxt[len(prefix):]
        else:
            out.extend(fitted)
        i += 1
    return "\n".join(out)


_PROSE = re.compile(r"^(\s*\* )(?=[^\s@*-])")


def _comment_prefix(line: str) -> str:
    m = _PROSE.match(line)
    return m.group(1) if m else ""


def _same_paragraph(line: str, nxt: str) -> bool:
    """Two lines of one block-comment paragraph: the same ` * ` prefix and prose on both (not a
    blank comment line, a kernel-doc `@param:`, a list item or an indented example)."""
    return bool(_comment_prefix(line)) and _comment_prefix(line) == _comment_prefix(nxt) and "*/" not in nxt


def _fit_line(line: str, split: bool) -> list[str]:
    if width(line) <= LIMIT:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    body = line.lstrip()
    if body.startswith("/*") and body.endswith("*/") and "*/" not in body[2:-2]:
        # A one-line comment becomes a block: `/*`, ` * ` lines, ` */` (checkpatch's
        # BLOCK_COMMENT_STYLE wants the closing `*/` on a line of its own).
        text = body[2:-2].strip()
        return [indent + "/*", *_wrap(indent + " * ", text), indent + " */"]
    if body.startswith(("* ", "// ")):
        lead = indent + body[: body.index(" ") + 1]
        return _wrap(lead, body[len(lead) - len(indent):])
    return _fit_code(line, split)


def _wrap(lead: str, text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and width(lead + candidate) > LIMIT:
            lines.append(lead + current)
            current = word
        else:
            current = candidate
    lines.append(lead + current)
    return lines


def _fit_code(line: str, split: bool, outer: tuple[int, ...] | None = None) -> list[str]:
    """`outer`: for the rest of a broken line, the columns of the brackets still open from the
    lines above it (where its own pieces align)."""
    # The outermost place that fits, the last of those: between a call's own arguments rather
    # than inside an argument's parentheses.
    fitting = [p for p in _break_points(line, outer) if width(line[: p[0] + 1]) <= LIMIT]
    if not fitting:
        return _split_string(line) if split else [line]
    at, col, stack = min(fitting, key=lambda p: (len(p[2]), -p[0]))
    head = line[: at + 1].rstrip()
    rest = _indent_to(col) + line[at + 1 :].lstrip(" ")
    return [head, *(_fit_code(rest, split, stack) if width(rest) > LIMIT else [rest])]


def _split_string(line: str) -> list[str]:
    """A long string literal split after a `;` inside it into adjacent literals, which C joins
    (checkpatch's SPLIT_STRING allows a literal that ends in `;`): the `cma=` and map strings of
    the 2010 API."""
    best = None
    for i, ch, quote in _scan(line):
        if quote == '"' and ch == ";" and line[i + 1 : i + 2] != '"' and width(line[: i + 1]) + 1 <= LIMIT:
            best = i
    if best is None:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    # The pieces after the first line share one indent, a tab deeper than the statement.
    follow = indent if line.lstrip().startswith('"') else indent + "\t"
    return [line[: best + 1] + '"', *_fit_line(follow + '"' + line[best + 1 :], True)]


def _break_points(line: str, outer: tuple[int, ...] | None = None) -> list[tuple[int, int, tuple[int, ...]]]:
    """Each `, ` outside string literals: (its index, the display column the next piece aligns
    to, the columns of the brackets open there)."""
    points: list[tuple[int, int, tuple[int, ...]]] = []
    stack: list[int] = list(outer or ())  # display columns just after each open bracket
    base = width(line[: len(line) - len(line.lstrip())])
    for i, ch, quote in _scan(line):
        if quote:
            continue
        if ch in "({[":
            stack.append(width(line[: i + 1]) + (1 if ch == "{" else 0))
        elif ch in ")}]":
            if stack:
                stack.pop()
        elif ch == "," and line[i + 1 : i + 2] == " ":
            # Nothing open: the next piece goes a tab deeper than the statement (or, for the
            # rest of a broken line, stays where that line is).
            col = stack[-1] if stack else base + (0 if outer is not None else TAB)
            points.append((i, col, tuple(stack)))
    return points


def _scan(line: str) -> Iterator[tuple[int, str, str | None]]:
    """Each character with the quote of the C literal it is inside (None outside; the quotes
    themselves count as outside)."""
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(line):
        if quote is None:
            if ch in "\"'":
                quote = ch
                yield i, ch, None
                continue
        elif escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == quote:
            quote = None
            yield i, ch, None
            continue
        yield i, ch, quote


def _indent_to(col: int) -> str:
    return "\t" * (col // TAB) + " " * (col % TAB)
