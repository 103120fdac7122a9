#!/usr/bin/env python3
"""How long resolution takes on the largest board the kernel accepts: 64 reserved-memory
regions (MAX_RESERVED_REGIONS), against the validate budget.

Prints figures measured in this run (medians, in ms), no stored numbers:
- `dtgen validate` and `dtgen resolve` on the 64-region board, as processes;
- `resolve()` alone, in process, on the same board (the placement work itself);
- the budget: `dtgen resolve` should stay well under the validate budget of one board, 12x a
  bare interpreter start-up (bench/bench_validate.py), with PASS/MISS.

Standard library plus dtgen; run from anywhere: `python3 bench/bench_resolve.py [-n 15]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
RATIO_TARGET = 12.0

MiB = 1 << 20


def big_board() -> str:
    """arm64 6.12 with 4 GiB in two banks: 16 fixed carve-outs, 16 dynamic no-map pools, 16 CMA
    areas with alloc-ranges in either bank, 16 dynamic pools with alignments; 64 devices."""
    lines = [
        "board: bench-64-regions",
        'kernel: {arch: arm64, version: "6.12", page_size: 4K, config: {CONFIG_CMA_AREAS: 20, CONFIG_HUGETLB_PAGE: true}}',
        "memory:",
        "  banks:",
        "    - {name: dram0, base: 0x80000000, size: 2G}",
        "    - {name: dram1, base: 0x880000000, size: 2G}",
        "regions:",
    ]
    for i in range(16):
        lines.append(f"  - {{name: fixed{i}, start: {0x80000000 + i * 4 * MiB:#x}, size: 1M, no_map: true}}")
    for i in range(16):
        lines.append(f"  - {{name: pool{i}, size: {1 + i % 5}M, alignment: 1M, no_map: true}}")
    for i in range(16):
        base = 0x90000000 if i % 2 else 0x880000000
        lines.append(f"  - {{name: cma{i}, size: {2 * (1 + i % 4)}M, reusable: true, alloc_ranges: [{{start: {base:#x}, size: 1G}}]}}")
    for i in range(16):
        lines.append(f"  - {{name: buf{i}, size: {64 + 32 * i}K, alignment: {4 << (i % 6)}K, no_map: true}}")
    lines.append("devices:")
    groups = ("fixed", "pool", "cma", "buf")
    for i in range(64):
        lines.append(f"  - {{name: dev{i}, kinds: [mem], dma_mask_bits: 64}}")
    lines.append("map:")
    for i in range(64):
        lines.append(f"  - {{match: dev{i}/mem, regions: [{groups[i // 16]}{i % 16}]}}")
    return "\n".join(lines) + "\n"


def timed(argv: list[str], runs: int, expect: int = 0) -> float:
    warm = subprocess.run(argv, capture_output=True, text=True)
    if warm.returncode != expect:
        raise SystemExit(f"bench: {' '.join(argv)} exited {warm.returncode}:\n{warm.stdout}{warm.stderr}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def in_process(path: Path, runs: int) -> float:
    from dtgen.load import load
    from dtgen.resolve import resolve

    board = load(str(path), lambda p: Path(p).read_bytes(), str(path.parent)).board
    assert board is not None
    layout, found = resolve(board)
    assert len([p for p in layout.placements if not p.implicit]) == 64, "every region placed"
    assert not [d for d in found if d.severity.value == "error"], [d.render() for d in found]
    times = []
    for _ in range(runs * 10):
        start = time.perf_counter()
        resolve(board)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="runs per figure")
    runs = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "board.yaml"
        path.write_text(big_board())
        bare = timed([PYTHON, "-c", "pass"], runs)
        validate = timed([PYTHON, "-m", "dtgen", "validate", str(path)], runs)
        resolve_ms = timed([PYTHON, "-m", "dtgen", "resolve", str(path)], runs)
        alone = in_process(path, runs)
    budget = bare * RATIO_TARGET
    rows = [
        ("bare python -c pass", bare),
        ("dtgen validate, 64 regions", validate),
        ("dtgen resolve, 64 regions", resolve_ms),
        ("resolve() alone, in process", alone),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"median of {runs} runs (in-process: {runs * 10}), ms")
    for label, value in rows:
        print(f"{label:<{width}}  {value:8.1f}")
    verdict = "PASS" if resolve_ms <= budget else "MISS"
    print(f"target: dtgen resolve <= validate budget {budget:.0f} ms (12x bare python): {verdict}"
          f" ({resolve_ms - validate:+.1f} ms over validate alone)")


if __name__ == "__main__":
    main()
