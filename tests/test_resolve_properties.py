"""Properties of placement on random boards, and of the kernel's heapsorts.

Boards are generated as model objects (not YAML) so hypothesis can shrink them; each one is a
plausible board: banks that do not overlap, occupied ranges inside RAM, fixed regions that do
not collide, dynamic regions with power-of-two alignments and alloc ranges inside RAM.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.diagnostics import Severity
from dtgen.kernelsort import heapsort_bottom_up
from dtgen.memblock import Memblock
from dtgen.model import Bank, Board, Kernel, Occupied, Range, Region, SourceMap
from dtgen.resolve import resolve

MiB = 1 << 20
KERNELS = [
    Kernel("arm64", (6, 12), 4096, (("CONFIG_HUGETLB_PAGE", True),)),
    Kernel("arm64", (6, 1), 4096, ()),
    Kernel("arm64", (4, 14), 4096, ()),
    Kernel("arm", (6, 12), 4096, (("CONFIG_HIGHMEM", True),)),
    Kernel("arm", (5, 4), 4096, ()),
]


@st.composite
def boards(draw: st.DrawFn) -> Board:
    kernel = draw(st.sampled_from(KERNELS))
    banks = []
    cursor = draw(st.sampled_from([0x40000000, 0x80000000]))
    for i in range(draw(st.integers(1, 3))):
        size = draw(st.integers(16, 1024)) * MiB
        banks.append(Bank(f"b{i}", cursor, size, f"/memory/banks/{i}"))
        cursor += size + draw(st.integers(0, 512)) * MiB
    taken: list[tuple[int, int]] = []

    def free_spot(size: int) -> int | None:
        bank = draw(st.sampled_from(banks))
        if size >= bank.size:
            return None
        start = bank.base + draw(st.integers(0, (bank.size - size) // MiB)) * MiB
        if any(start < e and s < start + size for s, e in taken):
            return None
        taken.append((start, start + size))
        return start

    occupied = []
    for i in range(draw(st.integers(0, 2))):
        size = draw(st.integers(1, 32)) * MiB
        start = free_spot(size)
        if start is not None:
            occupied.append(Occupied(f"o{i}", start, size, f"/memory/occupied/{i}"))
    regions = []
    for i in range(draw(st.integers(1, 8))):
        size = draw(st.integers(1, 64)) * (4 * MiB)  # a multiple of every CMA minimum here
        reusable = draw(st.booleans())
        pointer = f"/regions/{i}"
        if draw(st.integers(0, 4)) == 0:
            start = free_spot(size)
            if start is None or (reusable and start % (4 * MiB)):
                continue
            regions.append(Region(f"r{i}", size, pointer, start=start, reusable=reusable, no_map=not reusable))
            continue
        alignment = draw(st.sampled_from([None, 4096, MiB, 4 * MiB]))
        ranges: tuple[Range, ...] = ()
        if draw(st.booleans()):
            bank = draw(st.sampled_from(banks))
            offset = draw(st.integers(0, bank.size // (2 * MiB))) * MiB
            ranges = (Range(bank.base + offset, bank.size - offset),)
        regions.append(Region(f"r{i}", size, pointer, alignment=alignment, alloc_ranges=ranges,
                              reusable=reusable, no_map=not reusable))
    return Board("prop", kernel, tuple(banks), SourceMap("prop.yaml"), occupied=tuple(occupied), regions=tuple(regions))


@settings(max_examples=300, deadline=None)
@given(boards())
def test_placements_never_overlap_and_respect_ram_ranges_and_alignment(board: Board) -> None:
    layout, found = resolve(board)
    placed = sorted(layout.placements, key=lambda p: p.start)
    # No two reservations overlap, and none overlaps memory that was already occupied.
    for a, b in zip(placed, placed[1:]):
        assert a.end <= b.start, (a, b)
    for p in placed:
        for o in board.occupied:
            assert p.end <= o.start or o.end <= p.start, (p, o)
    ram = Memblock([(s, e) for s, e in layout.memory], board.kernel.page_size)
    for p in placed:
        region = board.region(p.region)
        if p.static:
            continue  # where the user put it
        assert ram.is_memory(p.start, p.end), p
        assert p.start % p.alignment == 0, p
        assert p.start >= board.kernel.page_size
        if region is not None and region.alloc_ranges:
            assert any(r.start <= p.start and p.end <= r.end for r in region.alloc_ranges), (p, region)
    # A dynamic region that is missing from the layout was reported, with a reason.
    named = {p.region for p in layout.placements}
    for region in board.regions:
        if region.name not in named:
            assert any(d.rule == "place-failed" and f"`{region.name}`" in d.message for d in found)
    assert all(d.severity in (Severity.ERROR, Severity.WARNING) for d in found)


@settings(max_examples=100, deadline=None)
@given(boards())
def test_placement_is_deterministic(board: Board) -> None:
    assert resolve(board) == resolve(board)


@settings(max_examples=100, deadline=None)
@given(boards())
def test_cma_areas_meet_the_cma_minimum_alignment(board: Board) -> None:
    from dtgen.kernel import cma_min_alignment

    layout, _ = resolve(board)
    minimum = cma_min_alignment(board.kernel).size
    for p in layout.placements:
        if p.kind == "cma" and not p.static:
            assert p.start % minimum == 0 and p.alignment >= minimum, p


# ---- lib/sort.c -----------------------------------------------------------------------


def _cmp(a: tuple[int, int], b: tuple[int, int]) -> int:
    return (a[0] > b[0]) - (a[0] < b[0])  # key only: the second field tags the original index


def heapsort_classic(items: list, cmp) -> None:  # type: ignore[no-untyped-def, type-arg]
    """lib/sort.c before 5.1, as a reference model (element indices instead of byte offsets)."""

    def sift(r: int, n: int) -> None:
        while r * 2 + 1 < n:
            c = r * 2 + 1
            if c < n - 1 and cmp(items[c], items[c + 1]) < 0:
                c += 1
            if cmp(items[r], items[c]) >= 0:
                return
            items[r], items[c] = items[c], items[r]
            r = c

    n = len(items)
    for i in range(n // 2 - 1, -1, -1):
        sift(i, n)
    for i in range(n - 1, 0, -1):
        items[0], items[i] = items[i], items[0]
        sift(0, i)


@given(st.lists(st.integers(0, 5), max_size=40))
def test_heapsort_sorts_and_keeps_every_element(keys: list[int]) -> None:
    items = [(key, i) for i, key in enumerate(keys)]
    heapsort_bottom_up(items, _cmp)
    assert [k for k, _ in items] == sorted(keys)
    assert sorted(i for _, i in items) == list(range(len(keys)))


@settings(max_examples=500)
@given(st.lists(st.integers(0, 3), max_size=64))
def test_the_5_1_rewrite_permutes_ties_like_the_classic_code(keys: list[int]) -> None:
    """Why one implementation serves every kernel before 6.5: the pre-5.1 sift-down and the
    bottom-up rewrite leave equal keys in the same order (tagged by their original index)."""
    classic = [(key, i) for i, key in enumerate(keys)]
    rewrite = list(classic)
    heapsort_classic(classic, _cmp)
    heapsort_bottom_up(rewrite, _cmp)
    assert classic == rewrite


def test_equal_keys_are_permuted_the_way_the_kernel_does() -> None:
    # Worked by hand in tests/test_resolve.py (three equal keys: [b, c, a]); with four equal
    # keys the heap is built without moving anything, then each extraction swaps the root with
    # the last element: [d,b,c,a] -> [c,b,d,a] -> [b,c,d,a].
    items = list("abc")
    heapsort_bottom_up(items, lambda x, y: 0)
    assert items == ["b", "c", "a"]
    items = list("abcd")
    heapsort_bottom_up(items, lambda x, y: 0)
    assert items == ["b", "c", "d", "a"]
