#!/usr/bin/env python3
"""The long fuzz run: N inputs per target (mutated board files, device-tree sources for
`import`, kernel command lines) through the property in tests/support/fuzzing.py, counting what was
tried, how dtgen exited, the slowest single command and the process's peak memory. Unlike the
bounded suite (tests/test_fuzz.py) it does not stop at the first finding: it keeps going and
lists each distinct one, with the input saved for a reproducer.

    python3 bench/bench_fuzz.py [-n 5000] [--targets board,dts,cmdline] [--save DIR] [--seed S]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.support import fuzzing  # noqa: E402


# What the issue calls "a few hundred MB" and "a few seconds": above these an input is listed
# (the suite's hard limit on one command is fuzzing.TIME_LIMIT).
MEMORY_BOUND_MB = 300
SLOW_S = 3.0


def _key(finding: BaseException) -> str:
    """Findings are the same bug when their first line and the last dtgen frame agree."""
    text = str(finding)
    frames = [line.strip() for line in text.splitlines() if line.strip().startswith('File "') and "/dtgen/" in line]
    return text.splitlines()[0].split(":")[0][:60] + " @ " + (frames[-1] if frames else text.splitlines()[0][:120])


def run(target: str, count: int, scratch: Path, save: Path | None, seed_value: int) -> dict[str, str]:
    strategy, check = fuzzing.TARGETS[target]
    found: dict[str, str] = {}

    @seed(seed_value)
    @settings(max_examples=count, deadline=None, database=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy())
    def one(case: object) -> None:
        def record(key: str, text: str) -> None:
            if key not in found:
                found[key] = text
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    (save / f"{target}-{len(found)}.txt").write_text(f"{text}\n\n--- input\n{case!r}\n")

        fuzzing.STATS.longest = 0.0
        try:
            check(case, scratch)
        except fuzzing.Finding as e:
            record(_key(e), str(e))
        took = fuzzing.STATS.longest
        # ru_maxrss is a high-water mark: the first input that lifts it past the bound is the one.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if peak > MEMORY_BOUND_MB:
            record(f"memory past {MEMORY_BOUND_MB} MB", f"the process peaked at {peak:.0f} MB on this input")
        if took > SLOW_S:
            record(f"slow input {len(found)}", f"one command on this input took {took:.1f} s")

    one()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="inputs per target")
    parser.add_argument("--targets", default="board,dts,cmdline")
    parser.add_argument("--save", type=Path, help="directory for the inputs behind each finding")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    targets = args.targets.split(",")
    if "dts" in targets and not fuzzing.have_dtc():
        print("dts: skipped, dtc and cpp are not installed")
        targets.remove("dts")
    print(f"{args.n} inputs per target, seed {args.seed}, time limit {fuzzing.TIME_LIMIT:g} s per command")
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            start = time.perf_counter()
            found = run(target, args.n, Path(tmp) / target, args.save, args.seed)
            took = time.perf_counter() - start
            total += len(found)
            print(f"\n{target}: {fuzzing.STATS.inputs[target]} inputs in {took:.0f} s, {len(found)} distinct finding(s)")
            for key, text in found.items():
                print(f"  FINDING {key}\n    " + "\n    ".join(text.splitlines()[:12]))
    print("\nexit codes per command:")
    for key in sorted(fuzzing.STATS.exits):
        print(f"  dtgen {key:<12} {fuzzing.STATS.exits[key]:>7}")
    print("slowest single command, seconds:")
    for key in sorted(fuzzing.STATS.slowest):
        print(f"  dtgen {key:<10} {fuzzing.STATS.slowest[key]:7.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the whole run (every input in this one process): {peak:.0f} MB")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
