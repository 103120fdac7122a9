#!/usr/bin/env python3
"""How fast the allocator models are on a churn workload, against the bit-by-bit references.

Prints figures measured in this run, no stored numbers:
- CmaArea (dtgen/simulate/cma_bitmap.py) on a 1 GiB area (base_pfn 0x80000, order_per_bit 0):
  100,000 churn operations, median wall time of a few runs, against the 1 s target;
- the reference CMA model (tests/support/reference_allocators.py, one bool per bit) on 2,000 of those
  operations, its time per op extrapolated to the whole run, and the speed-up against the
  100x target. The reference cost depends on how full the area is, so the 2,000 ops are taken
  as eight windows of 250 spread over the run (each reference starts from the fast model's
  state at that point); the first window alone (the area filling up) is printed too. Both
  models must give the same PFNs in every window;
- CoherentPool on a 64 MiB pool, the same way (no target).

Churn: a seeded random.Random; below live_max a coin decides between allocating and freeing a
random live allocation (at live_max it frees); sizes are page-granular. CMA requests go the
way dma_alloc_contiguous() asks: count = pages, align = min(get_order(size), 8)
(CONFIG_CMA_ALIGNMENT default). Coherent requests ask get_order(size).

The speed-up compares like with like: both models replay the same recorded operations (no
random draws in the timed loop). The 1 s figure is the full churn, random draws included.

Standard library plus dtgen; run from anywhere: `python3 bench/bench_allocators.py [-n 100000]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dtgen.simulate.cma_bitmap import CmaArea  # noqa: E402
from dtgen.simulate.coherent import CoherentPool  # noqa: E402
from tests.support.reference_allocators import RefCma, RefCoherent  # noqa: E402

PAGE_SHIFT = 12
KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TIME_TARGET = 1.0
RATIO_TARGET = 100.0
CMA_ALIGNMENT = 8
WINDOWS = 8

# A recorded operation: (True, request, 0) for an allocation, (False, pfn, request) for a free.
# `request` is (pages, align order) for CMA and the order for a coherent pool.
Op = tuple[bool, object, object]


class Model(Protocol):
    def alloc(self, a: int, b: int = ...) -> int | None: ...

    def release(self, a: int, b: int) -> bool: ...

    def free_extents(self) -> list[tuple[int, int]]: ...


def cma_request(pages: int) -> tuple[int, int]:
    # get_order(pages << PAGE_SHIFT) is (pages - 1).bit_length() for whole pages.
    return pages, min((pages - 1).bit_length(), CMA_ALIGNMENT)


def coherent_request(pages: int) -> int:
    return (pages - 1).bit_length()


def churn(model: Model, ops: int, seed: int, low: int, high: int, live_max: int, cma: bool,
          record: list[Op] | None = None, snapshots: dict[int, object] | None = None) -> list[int | None]:
    """Run the churn on `model`; returns every allocation's answer. With `record`, appends each
    operation; with `snapshots`, stores the model's state before the listed operations."""
    draw = random.Random(seed).random
    live: list[tuple[int, int]] = []
    answers: list[int | None] = []
    low_pages = low >> PAGE_SHIFT
    span = (high >> PAGE_SHIFT) - low_pages + 1
    alloc, release = model.alloc, model.release
    for index in range(ops):
        if snapshots is not None and index in snapshots:
            snapshots[index] = snapshot(model)
        if not live or (len(live) < live_max and draw() < 0.5):
            pages = low_pages + int(draw() * span)
            if cma:
                count, order = cma_request(pages)
                pfn = alloc(count, order)
            else:
                pfn = alloc(coherent_request(pages))
            answers.append(pfn)
            if record is not None:
                record.append((True, cma_request(pages) if cma else coherent_request(pages), 0))
            if pfn is not None:
                live.append((pfn, pages))
        else:
            pfn, pages = live.pop(int(draw() * len(live)))
            release(pfn, pages if cma else coherent_request(pages))
            if record is not None:
                record.append((False, pfn, pages if cma else coherent_request(pages)))
    return answers


def snapshot(model: Model) -> object:
    if isinstance(model, CmaArea):
        return model.free_extents(), model.available_count
    return model.free_extents()


def replay(model: Model, ops: list[Op]) -> list[int | None]:
    answers: list[int | None] = []
    alloc, release = model.alloc, model.release
    for is_alloc, a, b in ops:
        if is_alloc:
            answers.append(alloc(*a) if isinstance(a, tuple) else alloc(a))  # type: ignore[arg-type]
        else:
            release(a, b)  # type: ignore[arg-type]
    return answers


def ref_cma_at(state: object, base_pfn: int, pages: int) -> RefCma:
    extents, available = state  # type: ignore[misc]
    ref = RefCma(base_pfn, pages, 0)
    ref.bitmap = [True] * pages
    for pfn, length in extents:
        for i in range(pfn - base_pfn, pfn - base_pfn + length):
            ref.bitmap[i] = False
    ref.available_count = available
    return ref


def ref_coherent_at(state: object, base_pfn: int, pages: int) -> RefCoherent:
    ref = RefCoherent(base_pfn, pages)
    ref.bitmap = [True] * pages
    for pfn, length in state:  # type: ignore[attr-defined]
        for i in range(pfn - base_pfn, pfn - base_pfn + length):
            ref.bitmap[i] = False
    return ref


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def compare(name: str, make_fast: Callable[[], Model], make_ref: Callable[[object], Model], cma: bool,
            low: int, high: int, live_max: int, ops: int, ref_ops: int, repeat: int, seed: int,
            targets: bool) -> None:
    churn_time = median_time(lambda: churn(make_fast(), ops, seed, low, high, live_max, cma), repeat)
    line = f"{name} fast, full churn: {ops} ops in {churn_time:.3f} s ({churn_time / ops * 1e6:.2f} us/op, median of {repeat})"
    if targets:
        line += f"  [target <= {TIME_TARGET:g} s: {verdict(churn_time <= TIME_TARGET)}]"
    print(line)

    per_window = max(ref_ops // WINDOWS, 1)
    starts = [i * ops // WINDOWS for i in range(WINDOWS)]
    record: list[Op] = []
    snapshots: dict[int, object] = {s: None for s in starts}
    answers = churn(make_fast(), ops, seed, low, high, live_max, cma, record, snapshots)
    failed = sum(1 for a in answers if a is None)
    replay_time = median_time(lambda: replay(make_fast(), record), repeat)
    print(f"{name} fast, replay of the recorded ops: {replay_time:.3f} s ({replay_time / ops * 1e6:.2f} us/op); "
          f"{failed} of {len(answers)} allocations failed")

    same = True
    per_op: list[float] = []
    for start in starts:
        window = record[start:start + per_window]
        ref = make_ref(snapshots[start])
        begin = time.perf_counter()
        ref_answers = replay(ref, window)
        per_op.append((time.perf_counter() - begin) / len(window))
        same &= ref_answers == _window_answers(record, answers, start, per_window)
    mean = statistics.fmean(per_op)
    windows = ", ".join(f"{s}: {t * 1e6:.0f}" for s, t in zip(starts, per_op))
    print(f"{name} reference: {WINDOWS} windows of {per_window} ops (us/op by first op: {windows}); "
          f"mean {mean * 1e6:.0f} us/op -> {mean * ops:.1f} s for {ops} ops")
    ratio = mean * ops / replay_time
    cold = per_op[0] * ops / replay_time
    line = f"{name} speed-up: {ratio:.0f}x over the run ({cold:.0f}x on the first window alone)"
    if targets:
        line += f"  [target >= {RATIO_TARGET:g}x: {verdict(ratio >= RATIO_TARGET)}]"
    print(line)
    print(f"{name} same answers in every window: {'yes' if same else 'NO'}")


def _window_answers(record: list[Op], answers: list[int | None], start: int, length: int) -> list[int | None]:
    """The fast model's answers to the allocations among record[start:start + length]."""
    before = sum(1 for op in record[:start] if op[0])
    inside = sum(1 for op in record[start:start + length] if op[0])
    return answers[before:before + inside]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--ops", type=int, default=100_000)
    parser.add_argument("--ref-ops", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    base_pfn, pages = 0x80000, GiB >> PAGE_SHIFT
    print(f"CMA area: {pages} pages (1 GiB) at base_pfn {base_pfn:#x}, order_per_bit 0; "
          f"64 KiB..4 MiB, live_max 64, align min(get_order, {CMA_ALIGNMENT}); seed {args.seed}")
    compare("CMA", lambda: CmaArea(base_pfn, pages, 0), lambda state: ref_cma_at(state, base_pfn, pages), True,
            64 * KiB, 4 * MiB, 64, args.ops, args.ref_ops, args.repeat, args.seed, True)

    pool_pages = (64 * MiB) >> PAGE_SHIFT
    print(f"\nCoherent pool: {pool_pages} pages (64 MiB) at base_pfn {base_pfn:#x}; 4 KiB..1 MiB, live_max 32, get_order")
    compare("coherent", lambda: CoherentPool(base_pfn, pool_pages), lambda state: ref_coherent_at(state, base_pfn, pool_pages),
            False, 4 * KiB, 1 * MiB, 32, args.ops, args.ref_ops, args.repeat, args.seed, False)


if __name__ == "__main__":
    main()
