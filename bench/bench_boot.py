#!/usr/bin/env python3
"""The proving ground at full size: random boards (tests/support/boardgen.py) and the hand-written boards
of tests/boot/boards/, each booted with `dtgen boot` on the three 6.12.118 kernels of
tests/support/kernels.py; prints per kernel the boards booted, how many differ from the prediction (and
which regions), and the time per boot (`dtgen boot` end to end: tree dump, dtc, QEMU, verify).

    .venv/bin/python bench/bench_boot.py [--count 50] [--kernel minimal --kernel cloud-arm64 ...]

The kernels are provisioned (built or fetched) first if needed, as `python -m tests.support.kernels` does.
Differences are listed with the board's seed, so `tests/support/boardgen.py` can draw the board again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import boardgen, kernels  # noqa: E402

FLAVOURS = ("minimal", "cloud-arm64", "armmp-lpae")


def _kernel(name: str) -> kernels.Kernel:
    return kernels.minimal_arm64() if name == "minimal" else kernels.debian(name)


def boot(board: Path, kernel: kernels.Kernel, log: Path) -> tuple[float, int, list[str]]:
    """(seconds, regions compared, the differences)"""
    began = time.perf_counter()
    done = subprocess.run([str(ROOT / ".venv/bin/dtgen"), "boot", str(board), "--kernel", str(kernel.image),
                           "--kconfig", str(kernel.config), "--log", str(log), "--format", "json",
                           "--include-root", str(board.parent)], capture_output=True, text=True)
    took = time.perf_counter() - began
    try:
        rows = json.loads(done.stdout)["rows"]
    except (json.JSONDecodeError, KeyError):
        return took, 0, [f"exit {done.returncode}: {done.stderr.strip()[-300:]}"]
    return took, len(rows), [f"{r['region']} {r['verdict']} (predicted {r['predicted']}, log {r['actual'] and hex(r['actual']['start'])})"
                  for r in rows if r["verdict"] != "matches"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="random boards per kernel")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--kernel", action="append", choices=FLAVOURS, help="repeatable; default: all three")
    args = parser.parse_args()
    from dtgen.kconfig import parse

    hand = sorted((ROOT / "tests/boot/boards").glob("*.yaml"))
    print(f"{'kernel':12} {'boards':>6} {'regions':>7} {'differ':>6} {'s/boot':>7} {'min':>5} {'max':>5}")
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dtgen-bench-boot-") as tmp:
        work = Path(tmp)
        for name in args.kernel or FLAVOURS:
            kernel = _kernel(name)
            config, _ = parse(kernel.config.read_text(), str(kernel.config))
            drawn = boardgen.boards(args.count, kernel.arch, dict(config), args.first_seed)
            boards = [b for b in hand if ("arch: arm64" in b.read_text()) == (kernel.arch == "arm64")]
            for d in drawn:
                path = work / f"{d.name}.yaml"
                path.write_text(d.text)
                boards.append(path)
            times: list[float] = []
            regions = differ = 0
            for board in boards:
                took, compared, diffs = boot(board, kernel, work / f"{board.stem}-{name}.log")
                times.append(took)
                regions += compared
                if diffs:
                    differ += 1
                    failures.append(f"{name} {board.stem}: " + "; ".join(diffs))
            print(f"{name:12} {len(boards):6d} {regions:7d} {differ:6d} {statistics.mean(times):7.2f} "
                  f"{min(times):5.2f} {max(times):5.2f}", flush=True)
    for line in failures:
        print(line)


if __name__ == "__main__":
    main()
