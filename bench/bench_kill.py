#!/usr/bin/env python3
"""Interrupted writes, long run: SIGKILL `dtgen emit` N times at random points (half timed from
the start of the process, half from the start of its writing loop) on one output directory,
alternating two variants of exynos4412-odroidu3 that differ in every output, and check after
each kill that every output is one variant's complete file. Prints the kills per bucket (where
they landed), the violations, and the time taken. The harness is tests/support/killharness.py, which
tests/test_interrupted_writes.py runs briefly. POSIX only: `python3 bench/bench_kill.py [-n 500]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import killharness as kh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="kills")
    parser.add_argument("--seed", type=int, help="for the delays (default: from the clock)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        plan = kh.prepare(Path(scratch))
        out = Path(scratch) / "out"
        timing = kh.calibrate(plan, out)
        tally = kh.run_kills(plan, out, timing, args.n, random.Random(seed))
        leftovers, problems = kh.finish(plan, out)
    print(f"{kh.BOARD}, {len(plan.names)} outputs, seed {seed}")
    print(kh.summary(timing, tally))
    print(f"  final uninterrupted emit: {leftovers} temporaries before it, "
          f"{'clean after it' if not problems else '; '.join(problems)}")
    print(f"elapsed {time.perf_counter() - start:.1f} s")
    sys.exit(1 if tally.violations or problems else 0)


if __name__ == "__main__":
    main()
