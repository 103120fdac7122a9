#!/usr/bin/env python3
"""The round trip on the kernel's own board trees: every arm and arm64 `.dts` of Linux 6.12
(Debian's linux-source-6.12, unpacked by tests/support/realtools.py) whose tree has /reserved-memory
children goes through

    dtgen import BOARD.dts -o board.yaml            (no --bank: a guessed /memory is part of the test)
    dtgen emit board.yaml --only dtsi --kernel-tree KERNEL
    cpp + dtc of BOARD.dts with the fragment included after it

and the result's /reserved-memory subtree and every memory-region(-names), decoded, are compared
with the board's own (and the dynamic nodes' order, which decides their placement). Each board
lands in one class:

    equivalent        the fragment gives back the kernel's tree
    nothing-to-emit   every node stays in the base tree (the board file has no region to write)
    refused           import stops with a finding that names the construct and its line, or
                      imports the board and reports (at its line) what the kernel would refuse,
                      and emit then refuses the same
    different         the trees differ (a bug)
    failed            a crash, a traceback, a finding with no line, or a refusal by a rule not
                      listed in NAMED_REFUSALS (a bug)

It prints the classes with counts and examples, the rules refusals came from, and the median
and maximum `dtgen import` time (in-process: cpp, dtc, import, render, validation and write;
no interpreter start-up). Exit 0 when no board is `different` or `failed`, 1 otherwise, 2 when
the kernel tarball or a tool is missing.

    python3 bench/bench_sweep.py                   # all 2,739 trees, about 10 min on 2 cores
    python3 bench/bench_sweep.py --sample 120      # every n-th tree, as CI runs it
    python3 bench/bench_sweep.py --board qcom-apq8064-asus-nexus7-flo -v
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOOD = ("equivalent", "nothing-to-emit", "refused")
CLASSES = (*GOOD, "different", "failed")
# Refusals that are the tree's own construct, named with its line: a board that stops on one of
# these is accounted for. Any other rule refusing a board is a failure of the sweep.
NAMED_REFUSALS = frozenset({
    "dts-syntax",  # dtc rejects the source (`&{label/path}` before dtc 1.7): dtc's message and line
})


@dataclass
class Result:
    board: str  # path from the kernel tree's top
    klass: str = "failed"
    stage: str = ""
    rules: list[str] = field(default_factory=list)
    message: str = ""
    import_s: float | None = None
    warnings: list[str] = field(default_factory=list)


def _kernel() -> Path:
    from tests.support import realtools as rt

    return rt.kernel_tree()


def boards(kernel: Path) -> list[str]:
    out = []
    for arch in ("arm", "arm64"):
        top = kernel / "arch" / arch / "boot" / "dts"
        for folder, _dirs, files in os.walk(top):
            out += [os.path.relpath(os.path.join(folder, f), kernel) for f in files if f.endswith(".dts")]
    return sorted(out)


def _rules(text: str) -> list[str]:
    return sorted(set(re.findall(r"\[([a-z0-9-]+)\]\s*$", text, re.M)))


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if ": error: " in line]


def _cli(args: list[str]) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from dtgen.cli import main

    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError("".join(traceback.format_exception(result.exception)))
    return result.exit_code, result.stdout, result.stderr


def _has_reserved_children(dts: Path, kernel: Path) -> bool | str:
    from dtgen.trees import source as sources

    tools = sources.find_tools()
    include = str(kernel / "scripts" / "dtc" / "include-prefixes")
    tree, found, _ = sources.compile_source(str(dts), (include,), tools, annotate=False)
    if tree is None:
        return "; ".join(d.message for d in found)[:300] or "dtc failed"
    return any(n.parent == "/reserved-memory" and n.path != "/reserved-memory" for n in tree.nodes)


def sweep_one(rel: str) -> Result | None:
    """One board, in a scratch folder of its own; None when its tree has no /reserved-memory children."""
    from tests.support import realtools as rt

    kernel = _kernel()
    dts = kernel / rel
    res = Result(rel)
    scratch = Path(tempfile.mkdtemp(prefix="sweep-", dir=rt.scratch_dir()))
    here = os.getcwd()
    try:
        has = _has_reserved_children(dts, kernel)
        if has is False:
            return None
        if isinstance(has, str):
            # Not in the population by what dtgen can read; said so, and a refusal if it names a line.
            res.stage, res.message = "base", has
        os.chdir(scratch)
        start = time.perf_counter()
        code, out, err = _cli(["import", str(dts), "-o", "board.yaml"])
        res.import_s = time.perf_counter() - start
        res.warnings = sorted(set(re.findall(r": warning: .*\[([a-z0-9-]+)\]$", err, re.M)))
        if code == 2 or not (scratch / "board.yaml").exists():
            return _refused(res, "import", err)
        at_import = set(_rules("\n".join(_errors(err))))
        import yaml

        board = yaml.safe_load((scratch / "board.yaml").read_text())
        code, out, err = _cli(["emit", "board.yaml", "--include-root", ".", "-o", "out", "--only", "dtsi",
                               "--kernel-tree", str(kernel)])
        if not board.get("regions"):
            res.klass, res.stage = "nothing-to-emit", "emit"
            # emit --only dtsi has nothing to write and says so (emit-not-applicable); any other
            # finding on a board with nothing to emit is a failure.
            if code != 0 and _rules("\n".join(_errors(err + out))) != ["emit-not-applicable"]:
                res.klass, res.rules, res.message = "failed", _rules(err + out), (_errors(err + out) or [err])[0][:300]
            return res
        if code != 0:
            return _refused(res, "emit", err + out, at_import)
        (fragment,) = (scratch / "out").glob("*.dtsi")
        base, _ = rt.compile_dts(dts, out_dir=scratch / "base")
        merged, _ = rt.compile_dts(dts, fragments=[fragment], out_dir=scratch / "merged")
        before, after = rt.decode(base), rt.decode(merged)
        want, got = rt.reserved_memory_view(before), rt.reserved_memory_view(after)
        res.stage = "compare"
        if want != got:
            res.klass, res.message = "different", _first_difference(want, got)
        elif _dynamic_order(after) != _dynamic_order(before):
            res.klass, res.message = "different", f"dynamic order {_dynamic_order(after)} != {_dynamic_order(before)}"
        else:
            res.klass = "equivalent"
        return res
    except Exception:
        res.klass, res.message = "failed", traceback.format_exc()[-1500:]
        return res
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)


def _refused(res: Result, stage: str, text: str, at_import: set[str] = frozenset()) -> Result:  # type: ignore[assignment]
    res.stage, res.rules = stage, _rules("\n".join(_errors(text)))
    errors = _errors(text)
    res.message = (errors[0] if errors else text.strip().splitlines()[-1] if text.strip() else "no message")[:300]
    # A refusal counts as named when every error is at a file:line and comes from a rule that
    # reports the tree's own construct, or one that import already reported for the written board.
    positioned = all(re.match(r"^[^:]+:\d+:\d+: error: ", e) for e in errors)
    # dtc's bare "syntax error" names no construct.
    positioned = positioned and not any(re.search(r": error: syntax error \[", e) for e in errors)
    res.klass = "refused" if errors and positioned and set(res.rules) <= NAMED_REFUSALS | at_import else "failed"
    return res


def _dynamic_order(tree: dict[str, dict[str, bytes]]) -> list[str]:
    return [p for p, props in tree.items() if p.startswith("/reserved-memory/") and "size" in props and "reg" not in props]


def _first_difference(want: dict[str, dict[str, object]], got: dict[str, dict[str, object]]) -> str:
    for path in sorted(set(want) | set(got)):
        a, b = want.get(path), got.get(path)
        if a is None:
            return f"{path}: new node"
        if b is None:
            return f"{path}: missing after the round trip"
        for prop in sorted(set(a) | set(b)):
            if a.get(prop) != b.get(prop):
                return f"{path} {prop}: {a.get(prop)!r} -> {b.get(prop)!r}"
    return "?"


def _pick(all_boards: list[str], sample: int | None, names: list[str]) -> list[str]:
    if names:
        wanted = [n if n.endswith(".dts") else n + ".dts" for n in names]
        return [b for b in all_boards if any(b.endswith("/" + w) or b == w for w in wanted)]
    if sample and sample < len(all_boards):
        step = len(all_boards) / sample
        return [all_boards[int(i * step)] for i in range(sample)]
    return all_boards


def run(picked: list[str], jobs: int) -> list[Result]:
    if jobs <= 1:
        found = [sweep_one(b) for b in picked]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            found = pool.map(sweep_one, picked, chunksize=4)
    return [r for r in found if r is not None]


def report(results: list[Result], trees: int, wall: float, verbose: bool) -> int:
    total = len(results)
    print(f"{trees} .dts trees read, {total} with /reserved-memory children ({wall:.0f} s wall)")
    print()
    print(f"{'class':<16}{'boards':>7}{'share':>8}")
    for klass in CLASSES:
        n = sum(r.klass == klass for r in results)
        print(f"{klass:<16}{n:>7}{(100 * n / total if total else 0):>7.1f}%")
    good = sum(r.klass in GOOD for r in results)
    print(f"{'accounted for':<16}{good:>7}{(100 * good / total if total else 0):>7.1f}%")
    refusals: dict[str, int] = {}
    for r in results:
        if r.klass in ("refused", "failed"):
            for rule in r.rules or ["(no rule)"]:
                refusals[f"{r.stage}: {rule}"] = refusals.get(f"{r.stage}: {rule}", 0) + 1
    if refusals:
        print("\nrefusals and failures by stage and rule")
        for key, n in sorted(refusals.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>5}  {key}")
    warned: dict[str, int] = {}
    for r in results:
        for rule in r.warnings:
            warned[rule] = warned.get(rule, 0) + 1
    if warned:
        print("\nboards with import warnings, by rule")
        for rule, n in sorted(warned.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>5}  {rule}")
    for klass in ("refused", "different", "failed"):
        shown = [r for r in results if r.klass == klass]
        if shown:
            print(f"\n{klass}:")
            for r in shown if verbose or klass != "refused" else shown[:5]:
                print(f"  {r.board}: {r.message.strip().splitlines()[-1] if r.message.strip() else ''}")
                if verbose and klass == "failed":
                    print("    " + r.message.strip().replace("\n", "\n    "))
    times = [r.import_s for r in results if r.import_s is not None]
    if times:
        print(f"\ndtgen import, in-process (cpp and dtc included): median {statistics.median(times):.3f} s, "
              f"max {max(times):.3f} s over {len(times)} boards (target: median <= 0.2 s)")
    return 0 if good == total else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, help="every n-th of the sorted .dts files, this many in all")
    parser.add_argument("--board", action="append", default=[], help="a board's .dts name (repeatable)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write every board's result here")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    from tests.support import realtools as rt

    try:
        kernel = _kernel()
        rt.kernel_dtc()
    except Exception as e:  # the harness says what is missing
        print(f"cannot sweep: {e}", file=sys.stderr)
        return 2
    if shutil.which("dtc") is None:
        print("cannot sweep: dtc is not installed (Debian: apt install device-tree-compiler)", file=sys.stderr)
        return 2
    picked = _pick(boards(kernel), args.sample, args.board)
    # emit's base-tree cache goes to a folder of this run, not the user's.
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="sweep-cache-")
    start = time.perf_counter()
    results = run(picked, args.jobs)
    wall = time.perf_counter() - start
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    return report(results, len(picked), wall, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
