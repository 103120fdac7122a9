"""The allocator models in dtgen/simulate/ against the kernel's algorithms.

Property tests hold each fast model to a bit-by-bit reference (tests/support/reference_allocators.py)
on random request sequences: the same address for every request, the same free extents at
the end, no overlap, and one free extent again once everything is freed. The hand-worked tests
state expectations derived from the kernel code, with the arithmetic in the comments.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.simulate.bestfit import BestFit
from dtgen.simulate.cma_bitmap import BitIntervals, CmaArea, bitmap_aligned_mask, bitmap_aligned_offset, pages_to_bits
from dtgen.simulate.coherent import CoherentPool, get_order
from dtgen.simulate.genalloc import GenPool
from tests.support.reference_allocators import (
    RefBestFit,
    RefCma,
    RefCoherent,
    RefGenPool,
    bitmap_clear,
    bitmap_find_next_zero_area_off,
    bitmap_set,
)

KiB = 1 << 10
MiB = 1 << 20
PAGE = 4 * KiB

EXAMPLES = settings(max_examples=150, deadline=None)


def _overlaps(ranges: list[tuple[int, int]], start: int, length: int) -> bool:
    return any(start < s + n and s < start + length for s, n in ranges)


# ---- the interval bitmap itself ----------------------------------------------------------

bit_ops = st.lists(
    st.tuples(st.sampled_from(["set", "clear", "find", "take"]), st.integers(0, 80), st.integers(0, 20),
              st.integers(0, 5), st.integers(0, 40)),
    min_size=15, max_size=60,
)


@EXAMPLES
@given(nbits=st.integers(0, 70), ops=bit_ops)
def test_bit_intervals_match_a_list_of_bits(nbits: int, ops: list[tuple[str, int, int, int, int]]) -> None:
    fast = BitIntervals(nbits)
    bits = [False] * nbits
    for op, start, length, align_order, offset in ops:
        if op == "set":
            fast.set(start, length)
            bitmap_set(bits, start, length)
        elif op == "clear":
            fast.clear(start, length)
            bitmap_clear(bits, start, length)
        else:
            mask = (1 << align_order) - 1
            nr = max(length, 1)
            expected = bitmap_find_next_zero_area_off(bits, nbits, start, nr, mask, offset)
            if op == "find":
                assert fast.find_zero_area(start, nr, mask, offset) == (expected if expected < nbits else None)
            else:
                assert fast.take_zero_area(start, nr, mask, offset) == (expected if expected < nbits else None)
                if expected < nbits:
                    bitmap_set(bits, expected, nr)
        assert fast.set_count() == sum(bits)
        # Runs stay sorted, non-empty and apart (touching runs are merged).
        runs = list(zip(fast._starts, fast._ends))
        assert all(s < e for s, e in runs) and all(e < s2 for (_, e), (s2, _) in zip(runs, runs[1:]))
        assert fast.next_set(start) == next((i for i in range(start, nbits) if bits[i]), nbits)
    runs = [(i, 1) for i in range(nbits) if not bits[i]]
    merged: list[tuple[int, int]] = []
    for first, _ in runs:
        if merged and merged[-1][0] + merged[-1][1] == first:
            merged[-1] = (merged[-1][0], merged[-1][1] + 1)
        else:
            merged.append((first, 1))
    assert fast.zero_runs() == merged


# ---- CMA: mm/cma.c + lib/bitmap.c ----------------------------------------------------------

cma_ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(1, 40), st.integers(0, 12)),
        st.tuples(st.just("free"), st.integers(0, 999), st.just(0)),
        st.tuples(st.just("pin"), st.integers(0, 330), st.integers(1, 4)),
        st.tuples(st.just("unpin"), st.integers(0, 999), st.just(0)),
    ),
    min_size=15, max_size=60,
)


@EXAMPLES
@given(base=st.integers(0, 1 << 20), count=st.integers(0, 300), opb=st.integers(0, 4), ops=cma_ops)
def test_cma_matches_the_bitmap_walk(base: int, count: int, opb: int, ops: list[tuple[str, int, int]]) -> None:
    fast, ref = CmaArea(base, count, opb), RefCma(base, count, opb)
    live: list[tuple[int, int]] = []
    pins: list[tuple[int, int]] = []
    for op, a, b in ops:
        if op == "alloc":
            got = fast.alloc(a, b)
            assert got == ref.alloc(a, b)
            assert fast.last_retries == ref.last_retries
            if got is not None:
                held = pages_to_bits(a, opb) << opb
                assert base <= got and got + held <= base + ((count >> opb) << opb)
                assert not _overlaps([(p, pages_to_bits(n, opb) << opb) for p, n in live], got, held)
                assert not _overlaps([(p, 1) for p, n in pins for p in range(p, p + n)], got, a)
                if base % (1 << opb) == 0:
                    assert got % (1 << b) == 0
                live.append((got, a))
        elif op == "free" and live:
            pfn, pages = live.pop(a % len(live))
            assert fast.release(pfn, pages) is ref.release(pfn, pages) is True
        elif op == "pin":
            fast.pin(base + a, b)
            ref.pin(base + a, b)
            pins.append((base + a, b))
        elif op == "unpin" and pins:
            pfn, pages = pins.pop(a % len(pins))
            fast.unpin(pfn, pages)
            ref.unpin(pfn, pages)
        assert fast.available_count == ref.available_count
    assert fast.free_extents() == ref.free_extents()
    assert fast.free_pages() == sum(n for _, n in ref.free_extents())
    for pfn, pages in live:
        fast.release(pfn, pages)
    for pfn, pages in pins:
        fast.unpin(pfn, pages)
    whole = (count >> opb) << opb
    assert fast.free_extents() == ([(base, whole)] if whole else [])
    assert fast.available_count == count and fast.used_pages() == 0


def test_cma_offset_aligns_the_physical_pfn() -> None:
    # base_pfn 0x80003, request 4 pages at order 2, order_per_bit 0:
    #   mask   = (1 << (2 - 0)) - 1 = 3
    #   offset = (0x80003 & 3) >> 0 = 3
    #   first clear bit 0 -> ((0 + 3 + 3) & ~3) - 3 = 4 - 3 = 1
    #   pfn    = 0x80003 + (1 << 0) = 0x80004, aligned to 4 pages although bit 1 is odd.
    area = CmaArea(0x80003, 64, 0)
    assert bitmap_aligned_mask(2, 0) == 3
    assert bitmap_aligned_offset(0x80003, 2, 0) == 3
    assert area.alloc(4, 2) == 0x80004
    # Bit 0 (PFN 0x80003) stays free: it can never start an order-2 block.
    assert area.free_extents() == [(0x80003, 1), (0x80008, 59)]
    # The next order-2 request: first clear bit 0 -> 1, bits 1..4 are set, restart past the
    # set bit: first clear 5 -> ((5 + 3 + 3) & ~3) - 3 = 8 - 3 = 5 -> pfn 0x80008.
    assert area.alloc(4, 2) == 0x80008


def test_cma_order_per_bit_rounds_to_whole_bits() -> None:
    # order_per_bit 2: one bit is 4 pages. 64 pages -> 64 >> 2 = 16 bits.
    # 5 pages -> ceil(5 / 4) = 2 bits = 8 pages held, but available_count drops by 5 only.
    area = CmaArea(0x1000, 64, 2)
    assert pages_to_bits(5, 2) == 2
    assert area.alloc(5, 0) == 0x1000
    assert area.available_count == 64 - 5
    assert area.free_pages() == 64 - 8
    # 3 pages -> 1 bit; the next clear bit is 2 -> pfn 0x1000 + (2 << 2) = 0x1008.
    assert area.alloc(3, 0) == 0x1008
    assert area.free_extents() == [(0x100C, 52)]
    # Releasing 5 pages clears ceil(5/4) = 2 bits from (0x1000 - 0x1000) >> 2 = 0.
    assert area.release(0x1000, 5)
    assert area.free_extents() == [(0x1000, 8), (0x100C, 52)]


def test_cma_order_per_bit_with_alignment() -> None:
    # base 0x1004, order_per_bit 2, request 4 pages at order 3 (8 pages):
    #   mask   = (1 << (3 - 2)) - 1 = 1
    #   offset = (0x1004 & 7) >> 2 = 4 >> 2 = 1
    #   first clear bit 0 -> ((0 + 1 + 1) & ~1) - 1 = 2 - 1 = 1
    #   pfn    = 0x1004 + (1 << 2) = 0x1008, a multiple of 8.
    area = CmaArea(0x1004, 64, 2)
    assert area.alloc(4, 3) == 0x1008
    # An alignment no coarser than a bit needs no mask: order 2 -> mask 0, offset 0.
    assert bitmap_aligned_mask(2, 2) == 0 and bitmap_aligned_offset(0x1004, 2, 2) == 0
    assert area.alloc(4, 2) == 0x1004


def test_cma_busy_retry_moves_one_alignment_step() -> None:
    # Area 0x100..0x13f, page 0x105 pinned, request 8 pages at order 3: mask 7, offset 0.
    # b = 0 -> pages 0x100..0x107 hold 0x105 -> -EBUSY; bits cleared; start = 0 + 7 + 1 = 8.
    # b = 8 -> pfn 0x108: success after one retry.
    area = CmaArea(0x100, 64, 0)
    area.pin(0x105, 1)
    assert area.alloc(8, 3) == 0x108
    assert area.last_retries == 1
    assert area.available_count == 64 - 8


def test_cma_busy_retry_steps_past_the_failed_start_not_the_busy_page() -> None:
    # Order 0: mask 0, so each retry starts one bit after the failed start.
    # Page 0x102 pinned, 4 pages wanted: b = 0 (0x100..0x103), 1 (0x101..0x104),
    # 2 (0x102..0x105) all hold 0x102; b = 3 (0x103..0x106) succeeds after 3 retries.
    area = CmaArea(0x100, 64, 0)
    area.pin(0x102, 1)
    assert area.alloc(4, 0) == 0x103
    assert area.last_retries == 3
    # A pinned page in every candidate: the whole area is tried, nothing is taken.
    full = CmaArea(0x200, 8, 0)
    full.pin(0x203, 1)
    assert full.alloc(8, 0) is None
    assert full.last_retries == 1 and full.available_count == 8


def test_cma_stops_when_available_count_is_short() -> None:
    area = CmaArea(0, 16, 0)
    assert area.alloc(10, 0) == 0
    assert area.alloc(7, 0) is None  # 7 > available_count 6, before any search
    assert area.alloc(6, 0) == 10


def test_cma_release_outside_the_area() -> None:
    area = CmaArea(0x100, 16, 0)
    assert area.release(0xFF, 1) is False
    assert area.release(0x110, 1) is False
    with pytest.raises(ValueError):
        area.release(0x10F, 2)


# ---- coherent pools: kernel/dma/coherent.c ---------------------------------------------------

coherent_ops = st.lists(
    st.one_of(st.tuples(st.just("alloc"), st.integers(0, 6)), st.tuples(st.just("free"), st.integers(0, 999))),
    min_size=15, max_size=60,
)


@EXAMPLES
@given(base=st.integers(0, 1 << 20), pages=st.integers(0, 200), ops=coherent_ops)
def test_coherent_matches_the_bitmap_walk(base: int, pages: int, ops: list[tuple[str, int]]) -> None:
    fast, ref = CoherentPool(base, pages), RefCoherent(base, pages)
    live: list[tuple[int, int]] = []
    for op, a in ops:
        if op == "alloc":
            got = fast.alloc(a)
            assert got == ref.alloc(a)
            if got is not None:
                assert (got - base) % (1 << a) == 0 and got + (1 << a) <= base + pages
                assert not _overlaps([(p, 1 << o) for p, o in live], got, 1 << a)
                live.append((got, a))
        elif live:
            pfn, order = live.pop(a % len(live))
            assert fast.release(pfn, order) is ref.release(pfn, order) is True
    assert fast.free_extents() == ref.free_extents()
    for pfn, order in live:
        fast.release(pfn, order)
    assert fast.free_extents() == ([(base, pages)] if pages else [])
    assert fast.used_pages() == 0


def test_coherent_five_pages_take_an_order_3_block() -> None:
    # 5 pages = 20 KiB: get_order = fls((20480 - 1) >> 12) = fls(4) = 3 -> 8 pages.
    assert get_order(5 * PAGE) == 3
    pool = CoherentPool(0x90000, 32)
    assert pool.alloc(get_order(5 * PAGE)) == 0x90000
    # The next page goes at bit 8, after the whole block, not at bit 5.
    assert pool.alloc(0) == 0x90008
    assert pool.free_extents() == [(0x90009, 23)]


def test_coherent_blocks_align_to_the_pool_not_to_physical_pfns() -> None:
    # Pool at PFN 0x90003: an order-2 block goes at bit 0 -> PFN 0x90003, not a multiple of 4.
    pool = CoherentPool(0x90003, 16)
    assert pool.alloc(2) == 0x90003
    # Then bits 4, 8, 12 are tried for order 2: bit 4 is free -> 0x90007.
    assert pool.alloc(2) == 0x90007
    # An order-0 page takes the first free bit: 8.
    assert pool.alloc(0) == 0x9000B
    # Order 2 now: bit 8 is taken, bit 12 is free -> 0x9000F.
    assert pool.alloc(2) == 0x9000F
    assert pool.alloc(2) is None  # bits 9..11 are free but 8 is not a whole free block
    assert pool.free_extents() == [(0x9000C, 3)]


def test_get_order() -> None:
    assert get_order(1) == 0
    assert get_order(PAGE) == 0
    assert get_order(PAGE + 1) == 1
    assert get_order(3 * MiB) == 10  # 768 pages: fls(767) = 10
    assert get_order(64 * KiB, page_shift=16) == 0
    with pytest.raises(ValueError):
        get_order(0)


# ---- the v6 "gen" allocator: lib/genalloc.c ----------------------------------------------------

gen_ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(1, 40), st.integers(-1, 22)),
        st.tuples(st.just("free"), st.integers(0, 999), st.just(0)),
    ),
    min_size=15, max_size=60,
)


@EXAMPLES
@given(order=st.integers(0, 13), first=st.integers(1, 1 << 18), granules=st.integers(1, 200),
       tail=st.integers(0, 1 << 13), ops=gen_ops)
def test_genalloc_matches_the_bitmap_walk(order: int, first: int, granules: int, tail: int,
                                          ops: list[tuple[str, int, int]]) -> None:
    start = first << order
    size = (granules << order) + tail % (1 << order)
    fast, ref = GenPool(start, size, order), RefGenPool(start, size, order)
    live: list[tuple[int, int]] = []
    for op, a, b in ops:
        if op == "alloc":
            request = a * ((3 << order) // 4 + 1)  # mostly not a whole number of granules
            alignment = 0 if b < 0 else 1 << b
            got = fast.alloc(request, alignment)
            assert got == ref.alloc(request, alignment)
            if got is not None:
                held = -(-request >> order) << order
                assert start <= got and got + held <= start + (granules << order)
                assert got % max(alignment, 1) == 0 or alignment < (1 << order)
                assert not _overlaps([(p, -(-n >> order) << order) for p, n in live], got, held)
                live.append((got, request))
        elif live:
            addr, length = live.pop(a % len(live))
            fast.free(addr, length)
            ref.free(addr, length)
    assert fast.free_extents() == ref.free_extents()
    for addr, length in live:
        fast.free(addr, length)
    assert fast.free_extents() == [(start, granules << order)]


def test_genalloc_aligns_the_physical_address() -> None:
    # Chunk at 0x40001000, one bit per 4 KiB page (order 12): chunk->start = 0x40001.
    # 16 KiB at 64 KiB: alignment_order = ffs(0x10000) - 1 = 16; mask = (1 << (16 - 12)) - 1 = 15;
    # offset = 0x40001; first clear bit 0 -> ((0 + 0x40001 + 15) & ~15) - 0x40001 = 0x40010 - 0x40001
    # = 0xF -> address (0x40001 + 0xF) << 12 = 0x40010000.
    pool = GenPool(0x40001000, 1 * MiB, 12)
    assert pool.alloc(16 * KiB, 64 * KiB) == 0x40010000
    # Without alignment, first fit from the chunk start.
    assert pool.alloc(4 * KiB, 0) == 0x40001000
    with pytest.raises(ValueError):
        GenPool(0, 1 * MiB, 12)  # gen_pool_add() refuses address 0
    with pytest.raises(ValueError):
        GenPool(0x40000800, 1 * MiB, 12)  # not aligned to the granule


# ---- best fit: mm/cma-best-fit.c --------------------------------------------------------------

bf_ops = st.lists(
    st.one_of(
        # Sizes from a short list make holes of equal size, where the tree order decides.
        st.tuples(st.just("alloc"), st.integers(1, 48 * PAGE) | st.sampled_from([PAGE, 2 * PAGE, 3 * PAGE, 8 * PAGE]),
                  st.integers(-1, 20) | st.just(-1)),
        st.tuples(st.just("free"), st.integers(0, 999), st.just(0)),
    ),
    min_size=20, max_size=70,
)


@EXAMPLES
@given(first_page=st.integers(0, 1 << 20), pages=st.integers(1, 256), ops=bf_ops)
def test_bestfit_matches_the_tree_walk(first_page: int, pages: int, ops: list[tuple[str, int, int]]) -> None:
    start, size = first_page * PAGE, pages * PAGE
    fast, ref = BestFit(start, size), RefBestFit(start, size)
    live: list[tuple[int, int]] = []
    for op, a, b in ops:
        if op == "alloc":
            alignment = 0 if b < 0 else 1 << b
            got = fast.alloc(a, alignment)
            assert got == ref.alloc(a, alignment)
            if got is not None:
                held = -(-a // PAGE) * PAGE
                assert start <= got and got + held <= start + size
                assert got % max(alignment, PAGE) == 0
                assert not _overlaps(live, got, held)
                live.append((got, held))
        elif live:
            addr, _ = live.pop(a % len(live))
            fast.free(addr)
            ref.free(addr)
        assert fast.free_extents() == ref.free_extents()
    assert fast.free_bytes() + sum(n for _, n in live) == size
    for addr, _ in live:
        fast.free(addr)
    assert fast.free_extents() == [(start, size)]


def _bf_with_holes() -> BestFit:
    # Region 0x40000000, 1 MiB, alignment PAGE_SIZE: every cut starts at the hole's start
    # (case 2), so chunks go one after the other:
    #   A 64K @ 0x40000000, B 128K @ 0x40010000, C 64K @ 0x40030000,
    #   D 256K @ 0x40040000, E 64K @ 0x40080000; hole left: 0x40090000 + 448K.
    bf = BestFit(0x40000000, 1 * MiB)
    for size, where in ((64, 0x40000000), (128, 0x40010000), (64, 0x40030000), (256, 0x40040000), (64, 0x40080000)):
        assert bf.alloc(size * KiB, 0) == where
    return bf


def test_bestfit_takes_the_smallest_hole_that_fits() -> None:
    bf = _bf_with_holes()
    bf.free(0x40010000)  # hole 128K
    bf.free(0x40040000)  # hole 256K
    # 100K -> PAGE_ALIGN = 0x19000 (102400). Holes >= that by size: 128K, 256K, 448K -> 128K.
    assert bf.alloc(100 * KiB, 0) == 0x40010000
    # That hole keeps its tail: 0x40010000 + 0x19000 = 0x40029000, 128K - 100K = 28K.
    assert (0x40029000, 28 * KiB) in bf.free_extents()


def test_bestfit_equal_sizes_go_to_the_newest_hole() -> None:
    # Insertion goes left when the new size is <= the node's, so the hole inserted last is
    # first among equal sizes, and the descent stops on it.
    bf = _bf_with_holes()
    bf.free(0x40000000)  # 64K hole, inserted first
    bf.free(0x40080000)  # 64K hole merged with the 448K tail -> 512K, not a tie
    bf.free(0x40030000)  # 64K hole, inserted last
    assert bf.alloc(64 * KiB, 0) == 0x40030000
    assert bf.alloc(64 * KiB, 0) == 0x40000000


def test_bestfit_moves_the_chunk_to_the_end_when_the_tail_is_aligned() -> None:
    # Region 0x40001000 + 0x10F000 (end 0x40110000), 64K at 64K alignment:
    #   start = ALIGN(0x40001000, 0x10000) = 0x40010000; it is neither the hole's start nor
    #   does the chunk end at the hole's end (0x40020000 != 0x40110000) -> case 3;
    #   left = 0x40110000 - 0x40020000 = 0xF0000, a multiple of 0x10000 -> the chunk moves to
    #   0x40010000 + 0xF0000 = 0x40100000, the end of the hole, and one hole remains.
    bf = BestFit(0x40001000, 0x10F000)
    assert bf.alloc(64 * KiB, 64 * KiB) == 0x40100000
    assert bf.free_extents() == [(0x40001000, 0xFF000)]


def test_bestfit_splits_the_hole_when_the_tail_is_not_aligned() -> None:
    # Region 0x40001000 + 1 MiB (end 0x40101000): start 0x40010000, chunk end 0x40020000,
    # left = 0x40101000 - 0x40020000 = 0xE1000, and 0xE1000 % 0x10000 = 0x1000 -> split:
    # the chunk stays at 0x40010000 between a head hole and a tail hole.
    bf = BestFit(0x40001000, 1 * MiB)
    assert bf.alloc(64 * KiB, 64 * KiB) == 0x40010000
    assert bf.free_extents() == [(0x40001000, 0xF000), (0x40020000, 0xE1000)]
    assert bf.last_holes_passed == 0


def test_bestfit_walks_past_a_hole_that_fails_alignment() -> None:
    # Holes 0x40001000 + 0xF000 (60K) and 0x40020000 + 0xE1000 after the split above.
    # 32K at 64K: the smallest hole >= 32K is the 60K one; ALIGN(0x40001000, 64K) =
    # 0x40010000 is its end -> fails; the walk goes on to the next hole by size (the posted
    # v1-v5 code would call rb_next(NULL) here).
    bf = BestFit(0x40001000, 1 * MiB)
    bf.alloc(64 * KiB, 64 * KiB)
    assert bf.alloc(32 * KiB, 64 * KiB) == 0x40020000
    assert bf.last_holes_passed == 1


def test_bestfit_front_end_checks() -> None:
    bf = BestFit(0x40000000, 1 * MiB)
    with pytest.raises(ValueError):
        bf.alloc(0, 0)
    with pytest.raises(ValueError):
        bf.alloc(PAGE, 3 * PAGE)
    with pytest.raises(ValueError):
        bf.free(0x40000000)
    with pytest.raises(ValueError):
        BestFit(0x40000800, 1 * MiB)
