"""The 2010 CMA best-fit allocator, "bf" (mm/cma-best-fit.c, CMA RFC v1 to v5, Jul-Aug 2010).

Read in: the v1 file as carried by a vendor tree (Klozz/msm7227-2.6.32.62-XPerience,
mm/cma-best-fit.c), the v3 and v4 patch mails ("[PATCH/RFCv3 2/6]" and "[PATCH/RFCv4 2/6] mm:
cma: Contiguous Memory Allocator added", linux-media archive, 6 and 20 Aug 2010), and a later
copy of the file stored under torvalds/linux commit df0c5eea. The algorithm is the same in
all of them except for the one fix noted below.

Free space is a set of holes kept in two red-black trees, one ordered by start, one by size.

Search (cma_bf_alloc()): go down the by-size tree taking the left branch whenever a hole is at
least the request, which ends on the in-order first hole with size >= request; then walk the
tree in order (rb_next()) until a hole passes `start = ALIGN(hole.start, alignment); start <
end and end - start >= size`. Among holes of equal size the order is that of insertion:
__cma_bf_hole_insert_by_size() goes left when the new size is <= the node's, so a hole
inserted (or re-inserted after its size changed) lands before every hole of the same size.
Ties therefore go to the hole that changed most recently.

Cut (__cma_bf_hole_take()), with `start` the aligned address:
1. the request is the whole hole: the hole goes;
2. `start` is the hole's start, or the chunk ends at the hole's end: the hole shrinks;
3. otherwise, if the space left after the chunk is a multiple of the alignment, the chunk moves
   to the end of the hole (case 2); if not, a new hole is made of the tail (inserted first)
   and the old hole keeps the head. The shrunk hole is always erased and re-inserted in the
   by-size tree, so it becomes the newest of its size.

Free (cma_bf_free()): the chunk becomes a hole and merges with the hole before it and then
the hole after it when they touch; the hole that survives is re-inserted by size each time, so
the merged hole is the newest of its size.

The search as posted in v1 to v5 (and in v6's 06/13) leaves the descent's cursor at NULL and
calls rb_next() on it when the first hole fails the alignment test, which dereferences a NULL
pointer; the later copy sets the cursor to the found hole first. This model walks on as the
fixed code does; `last_holes_passed` says how many holes the walk passed, so a report can say
when the posted code would have crashed (any value above 0).

The 2010 cma_alloc() front end is applied as the kernel does before calling the allocator:
size 0 and an alignment that is not 0 or a power of two are refused (-EINVAL; ValueError here),
the size is rounded up to PAGE_SIZE and the alignment raised to at least PAGE_SIZE. (It also
skips a region whose free space is below the size; no hole could hold the request then, so the
answer is the same.) Addresses are bytes. The region itself must be page-aligned (cma_early_region_register() aligns its
start and size).
"""

from __future__ import annotations

from bisect import bisect_left, insort


class BestFit:
    """One region under the best-fit allocator."""

    def __init__(self, start: int, size: int, page_size: int = 4096) -> None:
        if page_size <= 0 or page_size & (page_size - 1):
            raise ValueError(f"page size {page_size:#x} is not a power of two")
        if start < 0 or size <= 0 or (start | size) & (page_size - 1):
            raise ValueError(f"a best-fit region must be page-aligned and not empty: {size:#x} at {start:#x}")
        self.start = start
        self.size = size
        self.page_size = page_size
        self._serial = 0
        # Holes: start -> (size, serial); the by-start tree is the sorted list of starts and
        # the by-size tree is the sorted list of (size, -serial, start), so that among equal
        # sizes the newest insertion comes first, as in the kernel's tree.
        self._holes: dict[int, tuple[int, int]] = {}
        self._by_start: list[int] = []
        self._by_size: list[tuple[int, int, int]] = []
        self._chunks: dict[int, int] = {}
        self.last_holes_passed = 0
        self._add_hole(start, size)

    # ---- the two trees ----------------------------------------------------------------

    def _add_hole(self, start: int, size: int) -> None:
        self._serial += 1
        self._holes[start] = (size, self._serial)
        insort(self._by_start, start)
        insort(self._by_size, (size, -self._serial, start))

    # ---- allocation ----------------------------------------------------------------------

    def alloc(self, size: int, alignment: int) -> int | None:
        """cma_alloc() on a "bf" region: the chunk's address, or None (-ENOMEM)."""
        if size <= 0:
            raise ValueError(f"cannot allocate {size} bytes")
        if alignment < 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment {alignment:#x} is not 0 or a power of two")
        page = self.page_size
        size = -(-size // page) * page
        alignment = max(alignment, page)
        self.last_holes_passed = 0
        by_size = self._by_size
        # (size,) sorts before every (size, -serial, start): the first hole >= size.
        for index in range(bisect_left(by_size, (size,)), len(by_size)):
            hole_size, _, hole_start = by_size[index]
            end = hole_start + hole_size
            start = (hole_start + alignment - 1) & -alignment
            if start < end and end - start >= size:
                return self._take(hole_start, hole_size, start, size, alignment)
            self.last_holes_passed += 1
        return None

    def _take(self, hole_start: int, hole_size: int, start: int, size: int, alignment: int) -> int:
        """__cma_bf_hole_take(): cut `size` bytes at `start` out of the hole."""
        # Dropping and adding holes is written out here and in free(): these two run
        # millions of times in `dtgen size`, and the calls cost more than the work.
        holes, by_start, by_size = self._holes, self._by_start, self._by_size
        _, serial = holes.pop(hole_start)
        del by_start[bisect_left(by_start, hole_start)]
        del by_size[bisect_left(by_size, (hole_size, -serial, hole_start))]
        end = hole_start + hole_size
        if size != hole_size:
            if start != hole_start and start + size != end:
                left = end - (start + size)
                if left % alignment == 0:
                    start += left  # the chunk moves to the end of the hole
                else:
                    self._add_hole(start + size, left)  # the tail, inserted before the head
            # Case 2: the hole keeps whatever lies before the chunk, or after it.
            if start == hole_start:
                kept_start, kept_size = start + size, end - start - size
            else:
                kept_start, kept_size = hole_start, start - hole_start
            self._serial = serial = self._serial + 1
            holes[kept_start] = (kept_size, serial)
            insort(by_start, kept_start)
            insort(by_size, (kept_size, -serial, kept_start))
        self._chunks[start] = size
        return start

    def free(self, addr: int) -> None:
        """cma_free(addr): the chunk starting at `addr` becomes a hole, merged with the holes
        that touch it."""
        size = self._chunks.pop(addr, None)
        if size is None:
            raise ValueError(f"no chunk starts at {addr:#x}")
        holes, by_start, by_size = self._holes, self._by_start, self._by_size
        start, end = addr, addr + size
        i = bisect_left(by_start, addr)
        if i > 0:
            before = by_start[i - 1]
            before_size, serial = holes[before]
            if before + before_size == start:
                del holes[before]
                del by_start[i - 1]
                del by_size[bisect_left(by_size, (before_size, -serial, before))]
                start = before
                i -= 1
        if i < len(by_start) and by_start[i] == end:
            after_size, serial = holes.pop(end)
            del by_start[i]
            del by_size[bisect_left(by_size, (after_size, -serial, end))]
            end += after_size
        self._serial = serial = self._serial + 1
        holes[start] = (end - start, serial)
        by_start.insert(i, start)
        insort(by_size, (end - start, -serial, start))

    # ---- introspection -------------------------------------------------------------------

    def free_extents(self) -> list[tuple[int, int]]:
        """(address, bytes) of every hole, ascending."""
        return [(start, self._holes[start][0]) for start in self._by_start]

    def largest_free(self) -> int:
        return self._by_size[-1][0] if self._by_size else 0

    def free_bytes(self) -> int:
        return sum(size for size, _ in self._holes.values())

    def chunks(self) -> list[tuple[int, int]]:
        """(address, bytes) of every allocated chunk, ascending."""
        return sorted(self._chunks.items())
