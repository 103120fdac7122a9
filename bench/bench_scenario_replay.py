"""The scenario replay (issue 20): every request of the hand-written replay boards and of random
boards, alone and in every interleaving of their combinations, made by a real Linux 6.12 through
the DMA API and the generated helpers, against `dtgen check`. Prints the boards, scenarios and requests compared, the differences,
and the time of each part.

    .venv/bin/python bench/bench_scenario_replay.py [--random N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import scenario_replay as sr  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=sr.RANDOM_BOARDS, help="random boards (3 scenarios each)")
    parser.add_argument("--seed", type=int, default=sr.RANDOM_SEED)
    parser.add_argument("--keep", type=Path, help="keep the boards, trees and logs in this directory")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="dtgen-scenario-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    cases, kernel = sr.replay_cases(work, args.random, args.seed)
    prepared = time.perf_counter() - began
    print(f"{len(cases)} boards ({sum(1 for c in cases if c.helper)} with a helper), kernel {kernel.image} "
          f"ready in {prepared:.1f} s")
    total_requests = total_differences = scenarios = orders = 0
    boots: list[float] = []
    kinds: dict[str, int] = {}
    for case in cases:
        outcome = sr.run_case(case, kernel, work)
        boots.append(outcome.booted.seconds)
        for key, count in outcome.categories().items():
            kinds[key] = kinds.get(key, 0) + count
        scenarios += len(case.scenarios)
        interleaved = len(outcome.booted.events) - len(case.scenarios)
        orders += interleaved
        total_requests += outcome.compared
        total_differences += len(outcome.differences)
        print(f"{case.name:28} {len(case.scenarios):2} scenarios {interleaved:2} interleavings {outcome.compared:5} requests  "
              f"{len(outcome.differences):3} differences  boot {outcome.booted.seconds:.1f} s")
        for line in outcome.differences[:12]:
            print(f"    {line}")
    print("requests by delivery and what served them:")
    for key, count in sorted(kinds.items()):
        print(f"  {key:48} {count:5}")
    print(f"{scenarios} scenarios and {orders} interleavings of combinations, {total_requests} requests compared, {total_differences} differences; "
          f"boots: median {sorted(boots)[len(boots) // 2]:.1f} s, total {sum(boots):.1f} s; "
          f"wall {time.perf_counter() - began:.1f} s; files in {work}")
    return 1 if total_differences else 0


if __name__ == "__main__":
    sys.exit(main())
