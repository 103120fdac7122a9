#!/usr/bin/env python3
"""How long `dtgen import` takes on real Linux 6.12 board trees (cpp and dtc included), beside pydevicetree.

Prints figures measured in this run, no stored numbers:
- each board's size: the .dts itself, after cpp (what dtc reads) and after `dtc -O dts`;
- `dtgen import BOARD.dts -o board.yaml` as a user runs it, in a fresh `python -m dtgen`
  process (interpreter start-up, imports, cpp, two dtc runs, import, render, validation of the
  written board, write): best and median of N runs, after one unmeasured warm-up run;
- the in-process pipeline, sources.read_tree + importer.import_tree (cpp and dtc included,
  no interpreter start-up, no imports), and where the rest of the command's time goes;
- pydevicetree (Devicetree.from_dts) on the same tree after cpp + `dtc -I dts -O dts`
  normalisation, once per tree in a fresh process (120 s limit): its parse time, the process's
  wall time and peak RSS, or the exception it stops with;
- the issue's targets with PASS/FAIL: whole command <= 0.2 s (median) on hi6220-hikey and
  exynos4412-odroidu3; pydevicetree's parse time >= 20x dtgen's whole command (median) on each
  tree pydevicetree reads. Exit 0 when every target passes, 1 otherwise, 2 when the kernel
  tarball or a tool is missing.

The kernel tree is Debian's linux-source-6.12, unpacked by the test harness (tests/support/realtools.py)
into .cache/realtools (or $DTGEN_TEST_CACHE). Run from anywhere:
`python3 bench/bench_import.py [-n 5] [--quick]` (--quick: the two named boards only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests` (the real-tool harness) and `dtgen` from this checkout

PYTHON = sys.executable
IMPORT_TARGET_S = 0.2  # whole `dtgen import` on the named boards
RATIO_TARGET = 20.0  # pydevicetree parse time / dtgen's whole command
PYDT_TIMEOUT_S = 120.0
# What `dtgen import` loads (dtgen.cli.import_ and what it calls).
MODULES = "dtgen.cli, dtgen.trees.source, dtgen.trees.importer, dtgen.load, dtgen.validate"
NAMED = ("hi6220-hikey", "exynos4412-odroidu3")


@dataclass(frozen=True)
class Board:
    arch: str
    name: str
    banks: tuple[str, ...] = ()  # --bank BASE:SIZE arguments


# The two named boards first; then the boards tests/test_import_realtools.py round-trips; then two
# boards of the same size that pydevicetree does read, so the speed ratio has something to measure.
BOARDS = (
    Board("arm64", "hi6220-hikey"),
    Board("arm", "exynos4412-odroidu3"),
    Board("arm64", "fsl-ls1043a-rdb"),
    Board("arm64", "meson-gxbb-odroidc2"),
    Board("arm64", "apq8016-sbc", ("0x80000000:1G",)),  # msm8916: the bootloader fills in /memory
    Board("arm", "keystone-k2hk-evm", ("0x800000000:2G",)),  # U-Boot moves /memory to the LPAE alias
    Board("arm64", "k3-am642-evm"),
    Board("arm", "stih410-b2260"),
)

# Run in a fresh interpreter per tree: the time of Devicetree.from_dts alone, the import, and the
# process's own peak RSS (ru_maxrss of RUSAGE_SELF: this one tree, not the largest child so far).
PYDT_CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
from pydevicetree import Devicetree
imported = time.perf_counter()
text = open(sys.argv[1], encoding="utf-8").read()
out = {"import_s": imported - start}
begin = time.perf_counter()
try:
    Devicetree.from_dts(text)
    out["ok"] = True
except Exception as e:
    out["ok"] = False
    out["error"] = type(e).__name__
    out["message"] = (str(e).splitlines() or [""])[0]
out["parse_s"] = time.perf_counter() - begin
out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


# ---- measuring -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(best, median) wall seconds of `runs` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def timed_together(fns: Sequence[Callable[[], object]], runs: int) -> list[tuple[float, float]]:
    """(best, median) wall seconds of `runs` calls of each function, called in turn (a, b, c, a, b,
    c, ...), so that a slower moment of the machine weighs on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, into in zip(fns, times):
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return [(min(t), statistics.median(t)) for t in times]


def run(argv: Sequence[str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"},
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"bench: {what} exited {done.returncode}: {' '.join(argv)}\n{done.stderr}")
    return done


def run_quiet(argv: Sequence[str]) -> None:
    subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                   env={**os.environ, "LC_ALL": "C"})


@dataclass
class Result:
    board: Board
    dts: Path
    dts_bytes: int
    pre_bytes: int
    norm_bytes: int
    bits: int  # `/bits/` values in the normalised text
    comma_units: int  # node names with a comma in the unit address
    whole: tuple[float, float]
    bare: tuple[float, float]  # python -c pass, measured in turn with `whole`
    imports: tuple[float, float]  # python -c 'import <what import loads>', likewise
    pipeline: tuple[float, float]
    stages: dict[str, float]  # best of the runs
    pydt: dict[str, object] | None = None


def bench_board(board: Board, runs: int, work: Path, tools: object, prefixes: str) -> Result:
    from tests.support import realtools as rt

    from dtgen import cli
    from dtgen.trees import source as sources
    from dtgen.trees.importer import render
    from dtgen.trees.importer import Options, import_tree
    from dtgen.units import parse_size

    dts = rt.find_dts(board.name, board.arch)
    out = work / f"{board.name}.yaml"
    bank_args = [a for b in board.banks for a in ("--bank", b)]
    command = [PYTHON, "-m", "dtgen", "import", str(dts), "-o", str(out), *bank_args]
    run(command, f"dtgen import {board.name}")  # warm-up: __pycache__, the compiled-template cache
    whole, bare, imports = timed_together([lambda: run_quiet(command), lambda: run_quiet([PYTHON, "-c", "pass"]),
                                           lambda: run_quiet([PYTHON, "-c", f"import {MODULES}"])], runs)

    # The in-process pipeline, with what the CLI gives it (kernel include prefixes, version 6.12).
    data = dts.read_bytes()
    includes = (prefixes,)
    banks = tuple((parse_size(b.split(":")[0]), parse_size(b.split(":")[1])) for b in board.banks)
    options = Options(board.name, board.arch, "6.12", banks=banks)

    def pipeline() -> object:
        tree, found = sources.read_tree(str(dts), data, includes, tools)
        if tree is None:
            raise SystemExit(f"bench: read_tree({board.name}) failed: {found}")
        imported, found = import_tree(tree, options)
        if imported is None:
            raise SystemExit(f"bench: import_tree({board.name}) failed: {found}")
        return imported

    imported = pipeline()
    best_pipe, median_pipe = timed(pipeline, runs)
    tree, _ = sources.read_tree(str(dts), data, includes, tools)
    assert tree is not None

    # The tools alone, with dtgen's own argument lists (sources.from_source).
    pre = work / f"{board.name}.pre"
    cpp = [*tools.cpp, "-nostdinc", "-I", prefixes, "-undef", "-D__DTS__", "-x", "assembler-with-cpp",
           "-o", str(pre), str(dts)]
    common = [tools.dtc, "-q", "-I", "dts", "-b", "0", "-i", str(dts.parent), "-i", prefixes]
    run(cpp, "cpp")
    stages = {
        "cpp": timed(lambda: run(cpp, "cpp"), runs)[0],
        "dtc": timed(lambda: run([*common, "-@", "-O", "dtb", "-o", str(work / "x.dtb"), str(pre)], "dtc"), runs)[0],
        "dtc -T -T": timed(lambda: run([*common, "-T", "-T", "-O", "dts", str(pre)], "dtc"), runs)[0],
        "read_tree": timed(lambda: sources.read_tree(str(dts), data, includes, tools), runs)[0],
        "import_tree": timed(lambda: import_tree(tree, options), runs)[0],
    }
    text = render(imported)
    stages["render"] = timed(lambda: render(imported), runs)[0]
    stages["validate"] = timed(lambda: cli._validate_text(str(out), text), runs)[0]

    # What pydevicetree is given: cpp output normalised by `dtc -I dts -O dts` (no cpp lines, no
    # includes, no labels used as references, arithmetic evaluated).
    norm = work / f"{board.name}.norm.dts"
    run([tools.dtc, "-q", "-I", "dts", "-O", "dts", "-i", str(dts.parent), "-i", prefixes, "-o", str(norm), str(pre)],
        "dtc -O dts")
    norm_text = norm.read_text()
    return Result(
        board, dts, len(data), pre.stat().st_size, len(norm_text.encode()),
        norm_text.count("/bits/"), len(re.findall(r"^\s*(?:[\w-]+:\s*)*[^\s@]+@[^\s{]*,[^\s{]*\s*\{", norm_text, re.M)),
        whole, bare, imports, (best_pipe, median_pipe), stages,
    )


def bench_pydevicetree(result: Result, work: Path) -> dict[str, object]:
    norm = work / f"{result.board.name}.norm.dts"
    start = time.perf_counter()
    try:
        done = subprocess.run([PYTHON, "-W", "ignore", "-c", PYDT_CHILD, str(norm)], capture_output=True, text=True,
                              timeout=PYDT_TIMEOUT_S, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timeout", "message": f"no result in {PYDT_TIMEOUT_S:.0f} s", "wall_s": PYDT_TIMEOUT_S}
    wall = time.perf_counter() - start
    try:
        out = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"ok": False, "error": "crash", "message": tail, "wall_s": wall}
    out["wall_s"] = wall
    return out


# ---- printing ------------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def s3(x: float) -> str:
    return f"{x:.3f}"


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def version_of(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


def import_costs(argv: Sequence[str], top: int) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the `top` most expensive top-level imports of one run."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = (part for part in line[len("import time:"):].split("|", 2))
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space after the bar
            rows.append((int(cumulative), int(own), name.strip()))
    return sorted(rows, reverse=True)[:top]


# ---- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="measured runs per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help=f"only {' and '.join(NAMED)}")
    parser.add_argument("--python", metavar="PATH", help="interpreter for the whole command (default: this one); e.g. "
                        ".venv/bin/python after the README's install, without an editable install's start-up cost")
    args = parser.parse_args()
    if args.python:
        global PYTHON
        PYTHON = args.python
    runs = max(1, args.runs)
    boards = [b for b in BOARDS if b.name in NAMED] if args.quick else list(BOARDS)

    from tests.support import realtools as rt

    if not rt.KERNEL_TARBALL.is_file():
        print(f"bench: {rt.KERNEL_TARBALL} is missing: install Debian's {rt.KERNEL_PACKAGE} "
              "(apt install linux-source-6.12, or set DTGEN_KERNEL_TARBALL); nothing measured", file=sys.stderr)
        return 2
    try:
        kernel = rt.kernel_tree()  # unpacks on first use (minutes), cached afterwards
    except (Exception, BaseException) as e:  # pytest's skip outside pytest, ToolError
        if isinstance(e, KeyboardInterrupt):
            raise
        print(f"bench: cannot unpack the kernel tree: {getattr(e, 'msg', None) or e}", file=sys.stderr)
        return 2

    from dtgen.trees import source as sources

    tools = sources.find_tools()
    if tools.cpp is None or tools.dtc is None:
        print("bench: cpp and dtc are needed (Debian: apt install cpp device-tree-compiler)", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pydevicetree  # noqa: F401
        from importlib.metadata import version

        pydt_version = version("pydevicetree")
    except Exception as e:
        print(f"bench: pydevicetree is not installed ({e}): pip install pydevicetree", file=sys.stderr)
        return 2
    prefixes = str(kernel / "scripts" / "dtc" / "include-prefixes")

    print("dtgen import on real Linux 6.12 board trees (Debian's linux-source-6.12), wall time in seconds")
    print("  whole command: `python -m dtgen import BOARD.dts -o board.yaml [--bank ...]` in a fresh process")
    print(f"    (start-up, imports, cpp, dtc twice, import, render, validation, write); best and median of {runs}")
    print("    runs after one unmeasured warm-up run")
    print("  in-process: sources.read_tree + importer.import_tree (cpp and dtc included; no start-up, no imports)")
    print("  pydevicetree: Devicetree.from_dts on the cpp + `dtc -I dts -O dts` text, one run per tree in a fresh")
    print(f"    process, {PYDT_TIMEOUT_S:.0f} s limit; its parse time alone (its own start-up and import excluded)")
    print(f"  reproduce: python3 bench/bench_import.py -n {runs}{' --quick' if args.quick else ''}")
    print(f"  python {sys.version.split()[0]} ({PYTHON}); cpp: {' '.join(tools.cpp)} ({version_of([*tools.cpp, '--version'])});"
          f" dtc: {tools.dtc} ({version_of([tools.dtc, '--version'])}); pydevicetree {pydt_version}; {os.cpu_count()} CPUs")
    print(f"  kernel tree: {kernel}")
    print()

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="dtgen-bench-import-") as tmp:
        work = Path(tmp)
        for board in boards:
            results.append(bench_board(board, runs, work, tools, prefixes))
        first = results[0]
        costs = import_costs([PYTHON, "-m", "dtgen", "import", str(first.dts), "-o", str(work / "costs.yaml")], 8)

        rows = [("board", "arch", ".dts KB", "cpp KB", "dtc -O dts KB", "whole best", "median", "in-proc best", "median")]
        for r in results:
            rows.append((r.board.name + (" (--bank)" if r.board.banks else ""), r.board.arch, kb(r.dts_bytes),
                         kb(r.pre_bytes), kb(r.norm_bytes), s3(r.whole[0]), s3(r.whole[1]),
                         s3(r.pipeline[0]), s3(r.pipeline[1])))
        print(table(rows, right={2, 3, 4, 5, 6, 7, 8}))
        print()

        print("where the whole command's time goes (best of the runs, ms; the tools run with dtgen's own argument lists;")
        print("python and +imports are measured in turn with the whole command):")
        rows = [("board", "whole", "python", "+imports", "cpp", "dtc -@ dtb", "dtc -T -T", "read_tree", "import_tree",
                 "render", "validate", "rest")]
        for r in results:
            st = r.stages
            rest = r.whole[0] - r.imports[0] - st["read_tree"] - st["import_tree"] - st["render"] - st["validate"]
            rows.append((r.board.name, ms(r.whole[0]), ms(r.bare[0]), ms(r.imports[0] - r.bare[0]), ms(st["cpp"]),
                         ms(st["dtc"]), ms(st["dtc -T -T"]), ms(st["read_tree"]), ms(st["import_tree"]),
                         ms(st["render"]), ms(st["validate"]), ms(rest)))
        print(table(rows, right=set(range(1, 12))))
        print("  python: `python -c pass` (interpreter start-up); +imports: `python -c 'import ...'` less that, for"
              f" {MODULES}")
        print("  read_tree includes cpp and both dtc runs (the rest of it is Python: the blob and the annotations);"
              " rest = whole - python - imports - read_tree - import_tree - render - validate (click, files)")
        print(f"  top imports of one `python -m dtgen import {first.board.name}` (python -X importtime, ms cumulative):"
              f" " + ", ".join(f"{name} {c / 1000:.1f}" for c, _, name in costs))
        print()

        print(f"pydevicetree {pydt_version} on the normalised trees (one run each):")
        for r in results:
            r.pydt = bench_pydevicetree(r, work)
        rows = [("board", "parse s", "process s", "peak RSS MB", "x in-proc", "x whole", "result")]
        for r in results:
            p = r.pydt or {}
            rss = f"{int(p['maxrss_kb']) / 1024:.0f}" if "maxrss_kb" in p else "-"
            if p.get("ok"):
                parse = float(p["parse_s"])
                rows.append((r.board.name, f"{parse:.2f}", f"{float(p['wall_s']):.2f}", rss,
                             f"{parse / r.pipeline[1]:.0f}x", f"{parse / r.whole[1]:.0f}x", "read"))
            else:
                parse = f"{float(p['parse_s']):.2f}" if "parse_s" in p else "-"
                holds = ", ".join(part for part in (f"/bits/ x{r.bits}" if r.bits else "",
                                                    f"{r.comma_units} unit address{'es' * (r.comma_units != 1)} with a comma"
                                                    if r.comma_units else "")
                                  if part)
                rows.append((r.board.name, parse, f"{float(p['wall_s']):.2f}", rss, "-", "-",
                             f"cannot read: {p['error']}: {p['message']}" + (f" [the tree holds {holds}]" if holds else "")))
        print(table(rows, right={1, 2, 3, 4, 5}))
        print()

    verdicts: list[tuple[str, str, str, bool | None]] = []
    for r in results:
        if r.board.name in NAMED:
            verdicts.append((f"{r.board.name}: whole dtgen import (median)", f"{r.whole[1]:.3f} s",
                             f"<= {IMPORT_TARGET_S:g} s", r.whole[1] <= IMPORT_TARGET_S))
    read = [r for r in results if r.pydt and r.pydt.get("ok")]
    for r in read:
        ratio = float(r.pydt["parse_s"]) / r.whole[1]  # type: ignore[index]
        verdicts.append((f"{r.board.name}: pydevicetree parse / whole dtgen import", f"{ratio:.0f}x",
                         f">= {RATIO_TARGET:g}x", ratio >= RATIO_TARGET))
    if not read:
        why = "run without --quick: pydevicetree reads neither named board" if args.quick else "pydevicetree read none of the trees"
        verdicts.append(("pydevicetree / dtgen speed ratio", "-", f">= {RATIO_TARGET:g}x", None if args.quick else False))
        print(f"note: speed ratio not measured ({why})")
    print(table([("target", "measured", "goal", "verdict")] +
                [(t, m, g, "NOT MEASURED" if ok is None else "PASS" if ok else "FAIL") for t, m, g, ok in verdicts],
                right={1}))
    return 0 if all(ok is not False for _, _, _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
