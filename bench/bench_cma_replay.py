#!/usr/bin/env python3
"""The CMA debugfs replay at full size: several boots of the minimal 6.12.118 kernel, each
replaying its own seeded random alloc/free sequences through /sys/kernel/debug/cma/ (tests/
cma_replay.py), every bitmap compared with dtgen's model; prints per boot the sequences, steps,
failed allocations, differences and times, then the totals.

    .venv/bin/python bench/bench_cma_replay.py [--boots 5] [--sequences 100] [--first-seed 100]

The kernel is built first if needed, as `python -m tests.support.kernels --minimal` does. A difference is
printed with its step and sequence seed; `--keep DIR` keeps each boot's files (script, log).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import cma_replay, kernels  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=100, help="sequences per boot")
    parser.add_argument("--first-seed", type=int, default=100, help="boot i uses seed first-seed + i")
    parser.add_argument("--keep", type=Path, help="keep each boot's files in DIR/seed-N")
    args = parser.parse_args()
    kernel = kernels.minimal_arm64()
    print(f"{'seed':>5} {'seqs':>5} {'steps':>6} {'failed':>6} {'differ':>6} {'boot s':>7} {'predict s':>9} {'build s':>7}")
    boots: list[float] = []
    steps = differ = 0
    kinds = dict.fromkeys(cma_replay.KINDS, 0)
    for i in range(args.boots):
        seed = args.first_seed + i
        with tempfile.TemporaryDirectory(prefix="cma-replay-") as scratch:
            work = args.keep / f"seed-{seed}" if args.keep else Path(scratch)
            work.mkdir(parents=True, exist_ok=True)
            outcome = cma_replay.run(kernel, work, count=args.sequences, seed=seed)
        failed = sum(1 for done, _ in outcome.replay.steps if done.ret != 0)
        for kind, n in cma_replay.step_kinds(cma_replay.initial_models(outcome.predicted), outcome.sequences).items():
            kinds[kind] += n
        boots.append(outcome.boot_seconds)
        steps += outcome.steps
        differ += len(outcome.disagreements)
        print(f"{seed:>5} {len(outcome.sequences):>5} {outcome.steps:>6} {failed:>6} {len(outcome.disagreements):>6} "
              f"{outcome.boot_seconds:>7.2f} {outcome.predicted.seconds:>9.2f} {outcome.build_seconds:>7.2f}", flush=True)
        for line in outcome.disagreements[:10]:
            print(f"      {line}")
    print(f"total: {args.boots} boots, {args.boots * args.sequences} sequences, {steps} steps, {differ} differences; "
          f"replay boot {statistics.mean(boots):.2f} s mean ({min(boots):.2f}-{max(boots):.2f}), "
          f"{1000 * sum(boots) / max(steps, 1):.1f} ms per step")
    print("steps by kind: " + ", ".join(f"{kind} {n}" for kind, n in kinds.items()))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
