"""One interface over the allocator models, in bytes, with the request rules of each kernel path.

- CMA areas take what the DMA path asks: `count = PAGE_ALIGN(size) >> PAGE_SHIFT` and
  `align = min(get_order(size), CONFIG_CMA_ALIGNMENT)` (kernel/dma/contiguous.c,
  cma_alloc_aligned()), and the generated helper asks the same; a step's `align` is not
  passed to mainline pools, as neither dma_alloc_coherent() nor the helper takes one (the
  scenario replay found it: tests/support/scenario_replay.py). The 2010 cma_alloc() takes it.
- Coherent pools take `get_order(size)`: a whole naturally aligned block of 2^order pages
  (kernel/dma/coherent.c, bitmap_find_free_region()).
- The 2010 allocators take the size page-aligned and the alignment raised to PAGE_SIZE
  (the 2010 cma_alloc()), and are skipped when their free space is below the size.
- The page allocator (`system`) succeeds up to the largest buddy block, without a guarantee.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from dtgen import kernel as k
from dtgen.model import Board, Extents, Placement
from dtgen.simulate.bestfit import BestFit
from dtgen.simulate.cma_bitmap import CmaArea
from dtgen.simulate.coherent import CoherentPool, get_order
from dtgen.simulate.genalloc import GenPool


class Granted(NamedTuple):
    # A tuple rather than a frozen dataclass: one is made per request, millions in `dtgen size`.
    address: int | None
    align: int  # bytes
    note: str = ""
    taken: int = 0  # bytes the allocator really set aside (pages, a power-of-two block)


class Pool(Protocol):
    region: str
    allocator: str
    base: int
    size: int

    def request(self, size: int, align: int | None) -> Granted: ...

    def release(self, address: int, size: int, align: int) -> None: ...

    def extents(self) -> list[tuple[int, int]]: ...


def _page_align(size: int, page: int) -> int:
    return -(-size // page) * page


class CmaPool:
    allocator = "cma"

    def __init__(self, region: str, base: int, size: int, page: int, max_align_order: int) -> None:
        self.region, self.base, self.size = region, base, size
        self.shift = page.bit_length() - 1
        self.page = page
        self.max_align_order = max_align_order
        self.area = CmaArea(base >> self.shift, size >> self.shift, 0)

    def request(self, size: int, align: int | None) -> Granted:
        count = _page_align(size, self.page) >> self.shift
        if align:
            order = max(0, align.bit_length() - 1 - self.shift)
        else:
            order = min(get_order(size, self.shift), self.max_align_order)
        pfn = self.area.alloc(count, order)
        retries = getattr(self.area, "last_retries", 0)
        note = f"{retries} -EBUSY retr{'y' if retries == 1 else 'ies'}" if retries else ""
        return Granted(None if pfn is None else pfn << self.shift, self.page << order, note, count << self.shift)

    def release(self, address: int, size: int, align: int) -> None:
        self.area.release(address >> self.shift, _page_align(size, self.page) >> self.shift)

    def pin(self, address: int, size: int) -> None:
        self.area.pin(address >> self.shift, _page_align(size, self.page) >> self.shift)

    def extents(self) -> list[tuple[int, int]]:
        return [(pfn << self.shift, pages << self.shift) for pfn, pages in self.area.free_extents()]


class CoherentPoolBytes:
    allocator = "coherent"

    def __init__(self, region: str, base: int, size: int, page: int) -> None:
        self.region, self.base, self.size = region, base, size
        self.shift = page.bit_length() - 1
        self.page = page
        self.pool = CoherentPool(base >> self.shift, size >> self.shift)

    def request(self, size: int, align: int | None) -> Granted:
        order = get_order(size, self.shift)
        pfn = self.pool.alloc(order)
        block = self.page << order
        return Granted(None if pfn is None else pfn << self.shift, block,
                       f"a whole order-{order} block ({block >> 10} KiB)" if block > _page_align(size, self.page) else "",
                       block)

    def release(self, address: int, size: int, align: int) -> None:
        self.pool.release(address >> self.shift, get_order(size, self.shift))

    def extents(self) -> list[tuple[int, int]]:
        return [(pfn << self.shift, pages << self.shift) for pfn, pages in self.pool.free_extents()]


class BestFitPool:
    allocator = "bf"

    def __init__(self, region: str, base: int, size: int, page: int) -> None:
        self.region, self.base, self.size, self.page = region, base, size, page
        self.impl = BestFit(base, size)

    def request(self, size: int, align: int | None) -> Granted:
        page = self.page
        align = align if align and align > page else page
        size = -(-size // page) * page
        return Granted(self.impl.alloc(size, align), align, "", size)

    def release(self, address: int, size: int, align: int) -> None:
        self.impl.free(address)

    def extents(self) -> list[tuple[int, int]]:
        return list(self.impl.free_extents())


class GenAllocPool:
    allocator = "gen"

    def __init__(self, region: str, base: int, size: int, page: int) -> None:
        self.region, self.base, self.size, self.page = region, base, size, page
        self.impl = GenPool(base, size, page.bit_length() - 1)

    def request(self, size: int, align: int | None) -> Granted:
        align = max(align or 0, self.page)
        return Granted(self.impl.alloc(_page_align(size, self.page), align), align, "", _page_align(size, self.page))

    def release(self, address: int, size: int, align: int) -> None:
        self.impl.free(address, _page_align(size, self.page))

    def extents(self) -> list[tuple[int, int]]:
        return list(self.impl.free_extents())


def make_pool(board: Board, placed: Placement) -> Pool | None:
    """The allocator the kernel puts behind a placed region, or None for a plain reservation
    (no DMA handler claims it, so nothing allocates from it)."""
    kernel = board.kernel
    page = kernel.page_size
    if k.cma_2010(kernel):
        region = board.region(placed.region)
        if region is not None and region.allocator == "gen":
            return GenAllocPool(placed.region, placed.start, placed.size, page)
        return BestFitPool(placed.region, placed.start, placed.size, page)
    if placed.kind == "cma":
        return CmaPool(placed.region, placed.start, placed.size, page, cma_alignment_order(board))
    if placed.kind == "coherent":
        return CoherentPoolBytes(placed.region, placed.start, placed.size, page)
    return None


def cma_alignment_order(board: Board) -> int:
    """CONFIG_CMA_ALIGNMENT (kernel/dma/Kconfig): default 8, range 2-12 (4-12 before 5.10)."""
    return board.kernel.number("CONFIG_CMA_ALIGNMENT", 8)


def buddy_limit(board: Board) -> int:
    """The largest block the page allocator can hand out: PAGE_SIZE << MAX_PAGE_ORDER."""
    return board.kernel.page_size << k.max_page_order(board.kernel)


def extents_of(pool: Pool, with_map: bool = False) -> Extents:
    free = pool.extents()
    sizes = [size for _, size in free]
    buckets: dict[int, int] = {}
    for size in sizes:
        bound = 1 << (size - 1).bit_length()  # the power of two at or above
        buckets[bound] = buckets.get(bound, 0) + 1
    return Extents(sum(sizes), max(sizes, default=0), len(sizes), tuple(sorted(buckets.items())),
                   tuple(sorted(free)) if with_map else ())
