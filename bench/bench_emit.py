#!/usr/bin/env python3
"""How long `dtgen emit --check` takes on each example board, start-up included (median of N
runs, seconds), against issue 6's pre-commit target of 0.3 s; and `dtgen emit` writing every
output, for comparison. The output directory is emitted once first, so --check compares equal
files (the hook's common case). Standard library only: `python3 bench/bench_emit.py [-n 7]`.

Compiled templates are cached between runs ($XDG_CACHE_HOME/dtgen); the `no cache` column
sets DTGEN_NO_CACHE=1, what the first run after an install or a template change costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3


def timed(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="runs per figure")
    runs = parser.parse_args().n
    dtgen = [sys.executable, "-m", "dtgen"]
    boards = sorted((ROOT / "boards").glob("*.yaml"))
    width = max(len(b.name) for b in boards)
    print(f"median of {runs} runs, seconds, start-up included")
    print(f"{'board':<{width}}  {'--check':>7}  {'no cache':>8}  {'emit':>6}  --check <= {TARGET_S:g} s")
    with tempfile.TemporaryDirectory() as scratch:
        for board in boards:
            out = os.path.join(scratch, board.stem)
            subprocess.run([*dtgen, "emit", str(board), "-o", out], cwd=ROOT, check=True, capture_output=True)
            check = timed([*dtgen, "emit", "--check", str(board), "-o", out], runs, {})
            cold = timed([*dtgen, "emit", "--check", str(board), "-o", out], runs, {"DTGEN_NO_CACHE": "1"})
            full = timed([*dtgen, "emit", str(board), "-o", os.path.join(scratch, "w-" + board.stem)], runs, {})
            verdict = "PASS" if check <= TARGET_S else "MISS"
            print(f"{board.name:<{width}}  {check:7.3f}  {cold:8.3f}  {full:6.3f}  {verdict}")


if __name__ == "__main__":
    main()
