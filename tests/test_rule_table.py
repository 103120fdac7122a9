"""The rule table: every `needs` names a registered rule that runs no later, and each semantic
rule reports only under its own id and severity (the table stamps them; a rule whose own text
said otherwise would be a second rule hiding in the first, as `cma-min-alignment` once hid the
rounding warning)."""

from __future__ import annotations

from pathlib import Path

from dtgen.load import load
from dtgen.validate import semantic_rules
from dtgen.validate.registry import TABLE

ROOT = Path(__file__).resolve().parent.parent


def test_needs_name_registered_rules_that_run_first() -> None:
    order = [info.id for info in semantic_rules()]
    for info in TABLE.values():
        for need in info.needs:
            assert need in TABLE, f"{info.id} needs {need}, which is not a rule"
            if info.stage == "semantic":
                assert order.index(need) < order.index(info.id), f"{info.id} runs before {need}, which it needs"


def test_every_semantic_rule_reports_under_its_own_id_and_severity() -> None:
    boards = sorted(p for p in [*ROOT.glob("boards/*.yaml"), *ROOT.glob("tests/corpus/*/*.yaml")] if p.is_file())
    seen: set[str] = set()
    for path in boards:
        loaded = load(str(path), lambda p: Path(p).read_bytes(), str(path.parent), {})
        if loaded.board is None or any(d.severity.value == "error" for d in loaded.diagnostics):
            continue  # validate runs no rule on a board that did not load
        failed: set[str] = set()
        for info in semantic_rules():  # as validate() runs them: a rule waits for what it needs
            assert info.check is not None
            if any(need in failed for need in info.needs):
                continue
            produced = list(info.check(loaded.board))
            for d in produced:
                assert (d.rule, d.severity) == (info.id, info.severity), f"{path}: {info.id} said {d.rule} ({d.severity.value})"
                seen.add(info.id)
            if produced:
                failed.add(info.id)
    assert len(seen) > 30  # most rules spoke on some board: the check is not vacuous
