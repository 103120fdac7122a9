"""The pipeline every command runs: every check before any output, as dtc's process_checks()
runs every check before it writes, and each stage only on what the one before found sound.

    load -> base tree (read, checked, and completing the board) -> schema and semantic rules -> resolve (placement, zones, DMA reach)
         -> emit readiness (what an emitter would refuse: cells, node names, consumers, helper
            devices, what the 2010 API cannot express) -> scenarios (all but churns)

`dtgen validate` and `dtgen emit` run all of it, so a board that validates is a board that
emits; `resolve`, `map`, `verify` and `boot` stop once it is placed; `check` then runs every
scenario and combination itself, churns included (long churns are its job, not a hook's).
Pure, like the stages: files come in through `read`, nothing is printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from dtgen.diagnostics import Diagnostic, Severity
from dtgen.load import NAME_ONLY
from dtgen.model import Board, ConfigValue, Layout, Verdict
from dtgen.validate import Settings

if TYPE_CHECKING:
    from dtgen.trees.base import BaseTree

PLACED, EMITTABLE, SCENARIOS = "placed", "emittable", "scenarios"
DEPTHS = ("validated", PLACED, EMITTABLE, SCENARIOS)


@dataclass(frozen=True)
class Outcome:
    board: Board | None  # None when the file could not be read as a board
    layout: Layout | None  # None unless it was placed without error
    diagnostics: tuple[Diagnostic, ...]
    verdicts: tuple[Verdict, ...] = ()  # the scenarios run (not churns)

    @property
    def failed(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def _errors(found: list[Diagnostic], allowed: frozenset[str] = frozenset()) -> bool:
    return any(d.severity is Severity.ERROR and d.rule not in allowed for d in found)


BaseReader = Callable[[Board], "tuple[BaseTree | None, list[Diagnostic]]"]


def run(path: str, read: Callable[[str], bytes], include_root: str, kconfig: Mapping[str, ConfigValue],
        settings: Settings, *, until: str = SCENARIOS, extra: tuple[Diagnostic, ...] = (),
        predictions: frozenset[str] = frozenset(), base: BaseReader | None = None) -> Outcome:
    """Run the stages up to `until` (one of DEPTHS). `extra` are findings made before (the
    --kconfig file's); `predictions` are rules whose errors still let placement go on (a zone
    straddle the kernel will report itself: verify and boot compare with it). `base` reads the
    board's `devicetree.base` (the CLI's cpp + dtc, cached); without it the base is not read."""
    from dtgen.load import load
    from dtgen.validate import validate

    loaded = load(path, read, include_root, kconfig)
    found = settings.apply([*extra, *loaded.diagnostics])
    board = loaded.board
    if board is None or _errors(found, NAME_ONLY):
        return Outcome(board, None, tuple(found))
    if board.checks:
        found += _unknown_checks(board)
        settings = settings.with_board(board.checks)
        found = settings.apply(found)
    if base is not None and board.devicetree is not None and board.devicetree.base:
        from dtgen.trees import base as base_tree

        tree, problems = base(board)
        found += settings.apply(problems)
        if tree is not None:
            board = base_tree.complete(board, tree)
            found += settings.apply(base_tree.check(board, tree))
    # Every independent mistake in one run: a bad name does not keep the rules from the board.
    found += validate(board, settings, frozenset(d.rule for d in found))
    if until == "validated" or _errors(found):
        return Outcome(board, None, tuple(found))
    return place(board, settings, found, until=until, origin=path, predictions=predictions)


def _unknown_checks(board: Board) -> list[Diagnostic]:
    from dtgen.diagnostics import error
    from dtgen.validate.registry import all_rules

    return [error("schema", f"checks: there is no rule `{name}`; `dtgen rules` lists them",
                  board.source.key(f"/checks/{name}"), f"/checks/{name}",
                  hint=_close_rule(name)) for name, _ in board.checks if name not in all_rules()]


def _close_rule(name: str) -> str:
    import difflib

    from dtgen.validate.registry import all_rules

    close = difflib.get_close_matches(name, list(all_rules()), n=1)
    return f"did you mean `{close[0]}`?" if close else ""


def place(board: Board, settings: Settings, found: list[Diagnostic] | None = None, *, until: str = SCENARIOS,
          origin: str = "", predictions: frozenset[str] = frozenset()) -> Outcome:
    """The stages after validation, on a board that passed it (also for a board changed in
    between: `boot` puts it on QEMU's machine, `emit --pin` fixes its regions)."""
    from dtgen.resolve import resolve

    found = list(found or [])
    settings = settings.with_board(board.checks)
    layout, more = resolve(board)
    found += settings.apply(more)
    if _errors(found, predictions):
        return Outcome(board, None, tuple(found))
    if until == PLACED:
        return Outcome(board, layout, tuple(found))
    from dtgen.emit import readiness

    found += settings.apply(readiness(board, layout, origin or board.source.value("").file))
    if until == EMITTABLE or _errors(found):
        return Outcome(board, layout, tuple(found))
    verdicts = short_scenarios(board, layout)
    found += settings.apply(scenario_findings(board, verdicts))
    return Outcome(board, layout, tuple(found), verdicts)


def short_scenarios(board: Board, layout: Layout) -> tuple[Verdict, ...]:
    """Every scenario but the churns, and their combinations: what a hook can afford."""
    names = [s.name for s in board.scenarios if not s.churn]
    if not names:
        return ()
    from dtgen.simulate.engine import simulate

    return simulate(board, layout, only=names)


def scenario_findings(board: Board, verdicts: tuple[Verdict, ...]) -> list[Diagnostic]:
    """One `scenario-fails` per verdict that misses its expectation, at the first scenario's name."""
    from dtgen.diagnostics import error

    out = []
    for v in verdicts:
        if v.met:
            continue
        scenario = next(s for s in board.scenarios if s.name == v.scenarios[0])
        what = "does not fit" if v.expect == "fits" else "fits, but its `expect: fails` says it should not"
        out.append(error("scenario-fails", f"scenario {' + '.join(v.scenarios)} {what}; `dtgen check` tells why",
                         board.source.value(scenario.pointer + "/name"), scenario.pointer + "/name"))
    return out
