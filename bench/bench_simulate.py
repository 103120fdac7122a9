#!/usr/bin/env python3
"""How long `dtgen check` and `dtgen size` take on each example board (medians, ms), against
the targets of issue 5: `dtgen size` <= 5 s per example board, `dtgen check` well under a
second apart from long churns. The allocator figures (100,000 churn operations on a 1 GiB CMA
area, the ratio against the bit-by-bit reference) are bench/bench_allocators.py's.

Standard library only; run from anywhere: `python3 bench/bench_simulate.py [-n 3]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE_TARGET_S = 5.0


def timed(argv: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="runs per figure")
    runs = parser.parse_args().n
    boards = sorted((ROOT / "boards").glob("*.yaml"))
    width = max(len(b.name) for b in boards)
    print(f"median of {runs} runs, seconds")
    print(f"{'board':<{width}}  {'check':>7}  {'size':>7}  size <= {SIZE_TARGET_S:g} s")
    for board in boards:
        check, check_code = timed([sys.executable, "-m", "dtgen", "check", str(board)], runs)
        size, size_code = timed([sys.executable, "-m", "dtgen", "size", str(board)], runs)
        verdict = "PASS" if size <= SIZE_TARGET_S else "MISS"
        codes = "" if check_code == size_code == 0 else f"  (exit codes check {check_code}, size {size_code})"
        print(f"{board.name:<{width}}  {check:7.2f}  {size:7.2f}  {verdict}{codes}")


if __name__ == "__main__":
    main()
