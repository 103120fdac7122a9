"""Validate stage: the semantic rules over a loaded board, with the user's rule settings."""

from __future__ import annotations

from dataclasses import dataclass

from dtgen.diagnostics import Diagnostic, Severity
from dtgen.model import Board
from dtgen.validate import rules as _rules  # noqa: F401  (registers the semantic rules)
from dtgen.validate.registry import TABLE, RuleInfo


@dataclass(frozen=True)
class Settings:
    """Per-rule choices from the command line: `disabled`, and severities forced by -W / -E."""

    disabled: frozenset[str] = frozenset()
    severity: tuple[tuple[str, Severity], ...] = ()
    werror: bool = False

    def apply(self, found: list[Diagnostic]) -> list[Diagnostic]:
        forced = dict(self.severity)
        out = []
        for d in found:
            if d.rule in self.disabled and not d.unreadable:
                continue
            if d.rule in forced:
                d = d.with_severity(forced[d.rule])
            if self.werror and d.severity is Severity.WARNING:
                d = d.with_severity(Severity.ERROR)
            out.append(d)
        return out


def semantic_rules() -> list[RuleInfo]:
    return [info for info in TABLE.values() if info.stage == "semantic"]


def validate(board: Board, settings: Settings = Settings()) -> list[Diagnostic]:
    """Run every enabled semantic rule; a rule whose prerequisites reported anything is skipped
    (dtc's prerequisite checks), so one mistake gives one message."""
    failed: set[str] = set()
    found: list[Diagnostic] = []
    for info in semantic_rules():
        if info.id in settings.disabled or info.check is None:
            continue
        if any(need in failed for need in info.needs):
            continue
        produced = list(info.check(board))
        if produced:
            failed.add(info.id)
        found.extend(produced)
    return settings.apply(found)
