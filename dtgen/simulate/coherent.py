"""Per-device coherent pools (kernel/dma/coherent.c): what a `no-map` shared-dma-pool node, or
one with neither `no-map` nor `reusable`, hands out.

__dma_alloc_from_coherent() turns the size into `order = get_order(size)` and calls
bitmap_find_free_region() on a bitmap of one bit per page of the pool. That tries the blocks
of 2^order pages at bit 0, 2^order, 2*2^order... in turn and takes the first whose bits are all
clear, the whole block: a 5-page request holds 8 pages. The blocks are aligned to the pool's
first page, not to physical addresses: a pool starting at an odd PFN gives odd PFNs.
Release is bitmap_release_region() on the same order.
"""

from __future__ import annotations

from dtgen.simulate.cma_bitmap import BitIntervals, scaled_extents


def get_order(size: int, page_shift: int = 12) -> int:
    """include/asm-generic/getorder.h: the smallest order with (PAGE_SIZE << order) >= size.
    The kernel leaves size 0 undefined, so it is refused here."""
    if size <= 0:
        raise ValueError(f"get_order() of {size} is undefined")
    return ((size - 1) >> page_shift).bit_length()


class CoherentPool:
    """A coherent pool of `pages` pages from `base_pfn`. PFNs and pages throughout."""

    def __init__(self, base_pfn: int, pages: int) -> None:
        if base_pfn < 0 or pages < 0:
            raise ValueError(f"bad coherent pool: base_pfn {base_pfn:#x}, {pages} pages")
        self.base_pfn = base_pfn
        self.pages = pages
        self._bits = BitIntervals(pages)

    def alloc(self, order: int) -> int | None:
        """bitmap_find_free_region(bitmap, pages, order): the first PFN of a free block of
        2^order pages at a multiple of 2^order from the pool start, or None."""
        if order < 0:
            raise ValueError(f"order {order} is negative")
        block = 1 << order
        # Trying blocks at 0, 2^order, ... is the lowest clear run of 2^order bits at a
        # multiple of 2^order, with offset 0 because the pool start is the reference.
        pos = self._bits.take_zero_area(0, block, block - 1, 0)
        return None if pos is None else self.base_pfn + pos

    def release(self, pfn: int, order: int) -> bool:
        """__dma_release_from_coherent(): False when the page is not in the pool; otherwise
        bitmap_release_region() clears the whole 2^order block."""
        if order < 0:
            raise ValueError(f"order {order} is negative")
        if not self.base_pfn <= pfn < self.base_pfn + self.pages:
            return False
        self._bits.clear(pfn - self.base_pfn, 1 << order)
        return True

    def free_extents(self) -> list[tuple[int, int]]:
        """(first PFN, pages) of every free run, ascending."""
        return scaled_extents(self._bits, self.base_pfn, 0)

    def largest_free(self) -> int:
        return max((length for _, length in self._bits.zero_runs()), default=0)

    def free_pages(self) -> int:
        return self.pages - self._bits.set_count()

    def used_pages(self) -> int:
        return self._bits.set_count()
