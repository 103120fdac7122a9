"""Validate stage: the semantic rules over a loaded board, with the user's rule settings."""

from __future__ import annotations

from dataclasses import dataclass

from dtgen.diagnostics import Diagnostic, Severity
from dtgen.model import Board
from dtgen.validate.registry import RuleInfo, all_rules


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


    def with_board(self, board_checks: tuple[tuple[str, str], ...]) -> Settings:
        """The board file's `checks` under these (the command line's) settings: a rule the
        command line names keeps what the command line says."""
        named = self.disabled | {name for name, _ in self.severity}
        disabled = set(self.disabled)
        severity = list(self.severity)
        for name, choice in board_checks:
            if name in named:
                continue
            if choice == "ignore":
                disabled.add(name)
            else:
                severity.append((name, Severity.ERROR if choice == "error" else Severity.WARNING))
        return Settings(frozenset(disabled), tuple(severity), self.werror)


def stamp(info: RuleInfo, d: Diagnostic) -> Diagnostic:
    if d.rule == info.id and d.severity is info.severity:
        return d
    from dataclasses import replace

    return replace(d, rule=info.id, severity=info.severity)


def semantic_rules() -> list[RuleInfo]:
    return [info for info in all_rules().values() if info.stage == "semantic"]


# Rules that look names up: a name that is not an identifier (name-identifier, a schema finding)
# is usually a renamed item whose references still use the old name, so these wait for it;
# every other rule runs.
BY_NAME = frozenset({"private-unknown-device", "map-unknown-region", "map-unmatched-kind", "map-shadowed",
                     "map-duplicate-region", "private-region-shared", "region-unused", "scenario-unknown-device",
                     "scenario-unknown-kind", "scenario-pin", "scenario-free-unknown", "fallback-undeliverable",
                     "dma-reach"})


def validate(board: Board, settings: Settings = Settings(), prior: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """Run every enabled semantic rule; a rule whose prerequisites reported anything is skipped
    (dtc's prerequisite checks), so one mistake gives one message. `prior` are the rules that
    already reported (the load stage's): a bad name holds back the rules that look names up."""
    failed: set[str] = set(prior)
    if "name-identifier" in prior:
        failed |= BY_NAME
    found: list[Diagnostic] = []
    for info in semantic_rules():
        if info.id in settings.disabled or info.check is None:
            continue
        if info.id in failed or any(need in failed for need in info.needs):
            continue
        # The row owns the id and the severity (dtc's FAIL(c, ...) reports under the check's
        # own name): a rule cannot report under another's id or at another severity.
        produced = [stamp(info, d) for d in info.check(board)]
        if produced:
            failed.add(info.id)
        found.extend(produced)
    return settings.apply(found)
