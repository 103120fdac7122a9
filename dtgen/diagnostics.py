"""The one error type: a finding about the user's input, with the place it points at."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A position in a source file; line and column count from 1, like compilers print them."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    rule: str
    message: str
    span: Span
    pointer: str = ""
    hint: str = ""
    # Findings that stop the file from being read at all (I/O, YAML syntax, encoding) make the
    # exit code 2 rather than 1: the user has to fix the input before any rule can speak.
    unreadable: bool = False

    def render(self) -> str:
        text = f"{self.span}: {self.severity.value}: {one_line(self.message)} [{self.rule}]"
        if self.hint:
            text += f"\n  hint: {one_line(self.hint)}"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "col": self.span.col,
            "severity": self.severity.value,
            "rule": self.rule,
            "message": self.message,
            "pointer": self.pointer,
            "hint": self.hint,
        }

    def with_severity(self, severity: Severity) -> Diagnostic:
        return replace(self, severity=severity)


def one_line(text: str) -> str:
    """User text inside a message may hold newlines or control characters; a diagnostic is one
    line, so they are shown escaped (`a\\nb`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.span.file, d.span.line, d.span.col, d.rule, d.message)


def error(rule: str, message: str, span: Span, pointer: str = "", hint: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, rule, message, span, pointer, hint)


def warning(rule: str, message: str, span: Span, pointer: str = "", hint: str = "") -> Diagnostic:
    return Diagnostic(Severity.WARNING, rule, message, span, pointer, hint)
