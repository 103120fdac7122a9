#!/usr/bin/env python3
"""How dtgen copes with large inputs: every command on a board with 64 regions, 200 devices,
500 map rules and 50 scenarios (bench/large_board.py), and files at the size limits.

Prints figures measured in this run, no stored numbers:
- wall time (median and fastest of N runs, after one unmeasured warm-up), CPU time (user +
  system, median) and peak RSS (largest of the runs) of `python -c pass` and of `dtgen
  validate`, `resolve`, `check`, `size`, `emit -o DIR` (a fresh DIR each run) and `emit --check`
  on the large board, next to the budget each earlier issue set, with PASS/MISS:
  validate <= 12x bare start-up (issue 3), resolve within that same budget (issue 4), check
  under 1 s (issue 5, no long churns here), size <= 5 s (issue 5), emit --check <= 0.3 s
  (issue 6's pre-commit target, set on the example boards); and, for scale, validate and
  emit --check on the example board boards/exynos4412-odroidu3.yaml;
- files at the limits (dtgen/yamlsrc.py MAX_BYTES, MAX_NODES): a 10 MiB file (refused), a
  valid large board padded to exactly MAX_BYTES (the largest file accepted), and the densest
  file accepted: right under MAX_NODES values (`--heavy-runs` runs, default 1: it is slow).

Each child's CPU time and peak RSS come from os.wait4() on that child alone (its own rusage:
the same figure as resource.getrusage(RUSAGE_CHILDREN) in a fresh wrapper, without the
wrapper's own start-up). The wall time includes interpreter start-up, as a hook pays it. On a
loaded machine wall times grow and CPU times do not: the load average is printed.

Standard library plus bench/large_board.py; `python3 bench/bench_large.py [-n 5]
[--python .venv/bin/python]` (the interpreter of the README's install; default: this one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from bench_validate import table  # noqa: E402  (the same table as the other benches)
from large_board import large_board  # noqa: E402

from dtgen.yamlsrc import MAX_BYTES, MAX_NODES, _Composer  # noqa: E402

RATIO_TARGET = 12.0  # validate: at most this many times bare start-up (issue 3)
CHECK_TARGET_S = 1.0  # check: well under a second, apart from long churns (issue 5)
SIZE_TARGET_S = 5.0  # size: per board (issue 5)
EMIT_CHECK_TARGET_S = 0.3  # emit --check, start-up included (issue 6)
EXAMPLE = "exynos4412-odroidu3.yaml"  # an example board with every emitted output but legacy C


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    rss: int  # peak resident set, bytes
    code: int


@dataclass(frozen=True)
class Figure:
    label: str
    runs: tuple[Run, ...]
    budget: float | None = None  # seconds of median wall time
    budget_text: str = ""
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def fastest(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> int:
        return max(r.rss for r in self.runs)

    @property
    def verdict(self) -> str:
        if self.budget is None:
            return ""
        return "PASS" if self.wall <= self.budget else "MISS"


def child(argv: Sequence[str], cwd: Path) -> Run:
    """One run of argv, its wall time, and its own CPU time and peak RSS (os.wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * scale, proc.returncode)


def measure(label: str, make_argv: Callable[[int], list[str]], runs: int, cwd: Path, expect: int,
            budget: float | None = None, budget_text: str = "", note: str = "", warm: bool = True) -> Figure:
    """`runs` runs of make_argv(i) after one warm-up (which also writes __pycache__ and the
    template cache); fails loudly when a run does not exit as expected: a fast crash is not a
    fast command."""
    if warm:
        done = subprocess.run(make_argv(-1), cwd=cwd, capture_output=True, text=True)
        if done.returncode != expect:
            raise SystemExit(f"bench: `{' '.join(make_argv(-1))}` exited {done.returncode}, expected {expect}:\n"
                             f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    results = []
    for i in range(runs):
        run = child(make_argv(i), cwd)
        if run.code != expect:
            raise SystemExit(f"bench: `{' '.join(make_argv(i))}` exited {run.code}, expected {expect}")
        results.append(run)
    return Figure(label, tuple(results), budget, budget_text, note)


def padded(board: str, total: int) -> bytes:
    """A valid board whose description is filled with folded text up to `total` bytes."""
    marker = "description: >-\n"
    cut = board.index(marker) + len(marker)
    head, tail = board[:cut].encode(), board[cut:].encode()
    line = b"  " + b"lorem ipsum dolor sit amet " * 3 + b"\n"
    room = total - len(head) - len(tail)
    body = line * (room // len(line))
    rest = room - len(body)
    if rest:
        body += (b"  " + b"x" * max(0, rest - 3) + b"\n")[:rest] if rest >= 3 else b"\n" * rest
    data = head + body + tail
    assert len(data) == total, (len(data), total)
    return data


def values(text: str) -> int:
    composer = _Composer("probe")
    composer.compose(text)
    return composer.nodes


def densest_accepted() -> tuple[str, int]:
    """A board of one-step scenarios with as many YAML values as MAX_NODES allows (less a
    margin of 1 %): the most work a file that passes the loader's limits can ask for."""
    head = ("board: densest\n"
            'kernel: {arch: arm64, version: "6.12", config: {CONFIG_HUGETLB_PAGE: true}}\n'
            "memory:\n  banks:\n    - {name: dram, base: 0x80000000, size: 2G}\n"
            "regions:\n  - {name: common, size: 64M, reusable: true, default: true}\n"
            "devices:\n  - {name: dev, kinds: [buf]}\n"
            'map:\n  - {match: "*/*", regions: [common]}\n'
            "scenarios:\n")

    def line(i: int) -> str:
        return f"  - {{name: s{i:07d}, steps: [{{alloc: {{device: dev, size: 4K}}}}]}}\n"

    # Every line weighs the same (composing 5 MiB here would take longer than the run itself).
    per_line = (values(head + "".join(map(line, range(20)))) - values(head + "".join(map(line, range(10))))) // 10
    base = values(head + line(0)) - per_line
    count = (int(MAX_NODES * 0.99) - base) // per_line
    return head + "".join(map(line, range(count))), base + count * per_line


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="measured runs per figure (default 5)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs dtgen (e.g. .venv/bin/python, the README's install)")
    parser.add_argument("--heavy-runs", type=int, default=1,
                        help="runs of the densest accepted file (default 1; 0 skips it)")
    args = parser.parse_args()
    runs, python = args.runs, args.python
    dtgen = [python, "-m", "dtgen"]

    with tempfile.TemporaryDirectory(prefix="dtgen-bench-large-") as tmp:
        work = Path(tmp)
        board_text = large_board()
        board = work / "large.yaml"
        board.write_text(board_text)
        out = work / "out"

        bare = measure("python -c pass", lambda i: [python, "-c", "pass"], runs, work, 0, note="interpreter start-up")
        validate_budget = bare.wall * RATIO_TARGET
        budget_12x = f"12x bare = {ms(validate_budget)} ms"
        figures = [bare]
        figures.append(measure("validate", lambda i: [*dtgen, "validate", str(board)], runs, work, 0,
                               validate_budget, budget_12x))
        figures.append(measure("resolve", lambda i: [*dtgen, "resolve", str(board)], runs, work, 0,
                               validate_budget, budget_12x + " (validate's)"))
        figures.append(measure("check", lambda i: [*dtgen, "check", str(board)], runs, work, 0,
                               CHECK_TARGET_S, f"{CHECK_TARGET_S:g} s"))
        figures.append(measure("size", lambda i: [*dtgen, "size", str(board)], runs, work, 0,
                               SIZE_TARGET_S, f"{SIZE_TARGET_S:g} s"))
        figures.append(measure("emit -o DIR (a new DIR each run)",
                               lambda i: [*dtgen, "emit", str(board), "-o", str(work / f"emit{i}")], runs, work, 0,
                               note="writes 6 files"))
        subprocess.run([*dtgen, "emit", str(board), "-o", str(out)], cwd=work, check=True, capture_output=True)
        figures.append(measure("emit --check (up to date)", lambda i: [*dtgen, "emit", "--check", str(board), "-o", str(out)],
                               runs, work, 0, EMIT_CHECK_TARGET_S, f"{EMIT_CHECK_TARGET_S:g} s (example boards)"))
        # For scale: the same commands on an example board, where the budgets were set.
        example = ROOT / "boards" / EXAMPLE
        example_out = work / "example-out"
        subprocess.run([*dtgen, "emit", str(example), "-o", str(example_out)], cwd=work, check=True, capture_output=True)
        figures.append(measure(f"validate, {example.stem}", lambda i: [*dtgen, "validate", str(example)], runs, work, 0,
                               note="example board, for scale"))
        figures.append(measure(f"emit --check, {example.stem}",
                               lambda i: [*dtgen, "emit", "--check", str(example), "-o", str(example_out)], runs, work, 0,
                               EMIT_CHECK_TARGET_S, f"{EMIT_CHECK_TARGET_S:g} s"))

        ten = work / "ten-mib.yaml"
        ten.write_bytes(padded(board_text, 10 << 20))
        at_limit = work / "at-limit.yaml"
        at_limit.write_bytes(padded(board_text, MAX_BYTES))
        limits = [
            measure("10 MiB (refused, yaml-too-large)", lambda i: [*dtgen, "validate", str(ten)], runs, work, 2,
                    note="exit 2"),
            measure(f"{MAX_BYTES >> 20} MiB exactly: large board + description", lambda i: [*dtgen, "validate", str(at_limit)],
                    runs, work, 0, note="exit 0, the largest file accepted"),
        ]
        if args.heavy_runs > 0:
            dense_text, dense_values = densest_accepted()
            dense = work / "densest.yaml"
            dense.write_text(dense_text)
            limits.append(measure(f"{len(dense_text) / (1 << 20):.1f} MiB, {dense_values:,} values (MAX_NODES {MAX_NODES:,})",
                                  lambda i: [*dtgen, "validate", str(dense)], args.heavy_runs, work, 0,
                                  note="exit 0, the densest file accepted", warm=False))

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    counts = "64 regions, 200 devices, 500 map rules, 50 scenarios"
    print(f"dtgen on large inputs: {runs} runs each after a warm-up; wall and CPU in ms (CPU: the child's user + system)")
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True).stdout.strip()
    print(f"python {python} ({version}), "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"large board: bench/large_board.py, {counts}, {len(board_text):,} bytes")
    print()
    header = ("case", "wall median", "min", "CPU median", "peak RSS MiB", "budget", "verdict")
    rows = [header] + [(f.label, ms(f.wall), ms(f.fastest), ms(f.cpu), f"{f.rss / (1 << 20):.0f}",
                        f.budget_text or f.note, f.verdict) for f in figures]
    print(table(rows, right={1, 2, 3, 4}))
    print()
    print(f"files at the limits (MAX_BYTES {MAX_BYTES >> 20} MiB, MAX_NODES {MAX_NODES:,} values), `dtgen validate`")
    rows = [header[:5] + ("note",)] + [(f.label, ms(f.wall), ms(f.fastest), ms(f.cpu), f"{f.rss / (1 << 20):.0f}", f.note)
                                       for f in limits]
    print(table(rows, right={1, 2, 3, 4}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
