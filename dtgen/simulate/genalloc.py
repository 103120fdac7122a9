"""The 2010 CMA "gen" allocator (CMA RFC v6, 19 Nov 2010): cma_gen_alloc() on lib/genalloc.c.

v6 made a region's default allocator a genalloc pool: cma_gen_init() creates the pool with
`gen_pool_create(PAGE_SHIFT, -1)` (one bit per page) and adds the region as its only chunk;
cma_gen_alloc() asks `gen_pool_alloc_aligned(pool, size, alignment ? ffs(alignment) - 1 : 0)`
and cma_gen_free() gives back the chunk's size. The same series added
gen_pool_alloc_aligned() to lib/genalloc.c ("lib: genalloc: Generic allocator improvements")
and an offset argument to bitmap_find_next_zero_area() (lib/bitmap.c):

- gen_pool_add() refuses an address of 0 or one not aligned to the granule (2^order bytes);
  the chunk holds `size >> order` bits (a partial granule at the end is not used) and records
  its start as `addr >> order`;
- an allocation rounds the size up to whole granules; `align_mask = (1 << (alignment_order -
  order)) - 1` when the alignment is coarser than a granule, else 0;
- the search is `bitmap_find_next_zero_area_off(bits, nbits, 0, n, align_mask, chunk_start)`:
  lowest-address first fit, and with the chunk's start as offset the alignment is of the
  physical address, not of the bit number;
- gen_pool_free() rounds the size up to granules and clears the bits (a BUG() if the range is
  not inside the chunk).

Where this was read: the v6 04/13 mail (cma_gen_init/alloc/free, linux-media archive,
19 Nov 2010) and the v6 cover letter; the genalloc and bitmap code itself from the same patch
as reposted on 31 Mar 2011 ("[PATCH 02/12] lib: genalloc: Generic allocator improvements").
UNCONFIRMED: the v6 text of that genalloc patch was not found; the repost has the same
diffstat for lib/genalloc.c (182 lines changed) and include/linux/genalloc.h (46), so the code
is taken to be the same.

The size and alignment checks of the 2010 cma_alloc() front end (size not 0, alignment 0 or a
power of two) are applied here too, as ValueError: the kernel answers -EINVAL before any
allocator runs. Addresses are bytes.
"""

from __future__ import annotations

from dtgen.simulate.cma_bitmap import BitIntervals, scaled_extents


class GenPool:
    """A genalloc pool with one chunk of `size` bytes at `start`, one bit per 2^min_alloc_order
    bytes."""

    def __init__(self, start: int, size: int, min_alloc_order: int) -> None:
        if min_alloc_order < 0:
            raise ValueError(f"min_alloc_order {min_alloc_order} is negative")
        granule = 1 << min_alloc_order
        # gen_pool_add() warns and returns -EINVAL for these.
        if start <= 0 or start & (granule - 1):
            raise ValueError(f"a genalloc chunk cannot start at {start:#x} (0, or not aligned to {granule:#x})")
        if size >> min_alloc_order <= 0:
            raise ValueError(f"a genalloc chunk of {size:#x} bytes holds no granule of {granule:#x}")
        self.start = start
        self.size = size
        self.order = min_alloc_order
        self._first = start >> min_alloc_order  # chunk->start, in granules
        self._bits = BitIntervals(size >> min_alloc_order)

    def _granules(self, size: int) -> int:
        return -(-size >> self.order)

    def alloc(self, size: int, alignment: int) -> int | None:
        """cma_gen_alloc(): the address of `size` bytes aligned to `alignment` (0 or a power of
        two), or None."""
        if size <= 0:
            raise ValueError(f"cannot allocate {size} bytes")
        if alignment < 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment {alignment:#x} is not 0 or a power of two")
        # ffs(alignment) - 1 is log2 for a power of two.
        alignment_order = alignment.bit_length() - 1 if alignment else 0
        mask = (1 << (alignment_order - self.order)) - 1 if alignment_order > self.order else 0
        granules = self._granules(size)
        if granules > self._bits.nbits:
            return None
        first = self._bits.take_zero_area(0, granules, mask, self._first)
        return None if first is None else (self._first + first) << self.order

    def free(self, addr: int, size: int) -> None:
        """gen_pool_free(): clear the granules of `size` bytes at `addr`."""
        if size <= 0:
            return
        first = (addr >> self.order) - self._first
        granules = self._granules(size)
        if first < 0 or first + granules > self._bits.nbits:
            raise ValueError(f"{size:#x} bytes at {addr:#x} are not inside the pool (gen_pool_free() would BUG)")
        self._bits.clear(first, granules)

    def free_extents(self) -> list[tuple[int, int]]:
        """(address, bytes) of every free run, ascending."""
        return scaled_extents(self._bits, self._first << self.order, self.order)

    def largest_free(self) -> int:
        return max((length for _, length in self._bits.zero_runs()), default=0) << self.order

    def free_bytes(self) -> int:
        return (self._bits.nbits - self._bits.set_count()) << self.order
