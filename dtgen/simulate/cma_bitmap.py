"""The mainline CMA allocator for one area with one range, as mm/cma.c and lib/bitmap.c do it.

An area is `count` pages from `base_pfn`; its bitmap has `count >> order_per_bit` bits, one bit
per 2^order_per_bit pages (mm/cma.h). A request for `count` pages at alignment order `A`
(cma_range_alloc() in mm/cma.c, __cma_alloc() before the multi-range rework):

- `mask = 0` if `A <= order_per_bit`, else `(1 << (A - order_per_bit)) - 1`
  (cma_bitmap_aligned_mask());
- `offset = (base_pfn & ((1 << A) - 1)) >> order_per_bit` (cma_bitmap_aligned_offset()): the
  search aligns the physical PFN, not the bit number, so an area whose base is not aligned to
  the request still hands out aligned PFNs;
- `nbits = ceil(count / 2^order_per_bit)` (cma_bitmap_pages_to_bits());
- the request stops at once if `count > available_count` (later kernels; 6.12's
  __cma_alloc() has no such check, but it never changes the answer: the clear bits always
  cover at least `available_count` pages, so when it stops the bitmap search finds no room
  either; the debugfs replay on 6.12.118, tests/support/cma_replay.py, agrees on every step), or if
  `nbits` exceeds the bitmap;
- `bitmap_find_next_zero_area_off()` gives the lowest aligned free run at or after `start`
  (lowest-address first fit);
- the bits are set and alloc_contig_range() runs on exactly `count` pages; if it answers -EBUSY
  (a page there cannot be migrated: modelled here as a pinned page), the bits are cleared, the
  pages given back to available_count, and the search goes on from `start = b + mask + 1`, one
  alignment step past the failed start.

cma_release() clears `nbits` bits from `(pfn - base_pfn) >> order_per_bit` and adds `count`
back; a PFN outside the area is refused (it returns false).

Not modelled: errors of alloc_contig_range() other than -EBUSY, and the skip of a range whose
memmap is not contiguous (page_range_contiguous(), SPARSEMEM without VMEMMAP), which also moves
on by `mask + 1`.

The bitmap is held as sorted runs of set bits (`BitIntervals`), so a search walks the free
gaps instead of the bits; tests/support/reference_allocators.py walks the bits the kernel's way and the
property tests hold the two to the same answers.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort


def bitmap_aligned_mask(align_order: int, order_per_bit: int) -> int:
    """cma_bitmap_aligned_mask(): the alignment in bits, minus one; 0 when a bit already
    covers the alignment."""
    if align_order <= order_per_bit:
        return 0
    return (1 << (align_order - order_per_bit)) - 1


def bitmap_aligned_offset(base_pfn: int, align_order: int, order_per_bit: int) -> int:
    """cma_bitmap_aligned_offset(): how far the base PFN sits past an aligned PFN, in bits."""
    return (base_pfn & ((1 << align_order) - 1)) >> order_per_bit


def pages_to_bits(pages: int, order_per_bit: int) -> int:
    """cma_bitmap_pages_to_bits(): the pages rounded up to whole bits."""
    return -(-pages >> order_per_bit)


class BitIntervals:
    """A bitmap of `nbits` bits held as sorted, disjoint, non-adjacent runs of set bits
    `[start, end)`. Every answer is the one a bit-by-bit walk would give; the cost follows the
    number of runs, not the number of bits. Bits outside `[0, nbits)` are never set."""

    __slots__ = ("nbits", "_starts", "_ends")

    def __init__(self, nbits: int) -> None:
        if nbits < 0:
            raise ValueError(f"a bitmap cannot have {nbits} bits")
        self.nbits = nbits
        self._starts: list[int] = []
        self._ends: list[int] = []

    def find_zero_area(self, start: int, nr: int, mask: int, offset: int) -> int | None:
        """bitmap_find_next_zero_area_off(): the lowest `i >= start` with `(i + offset) & mask
        == 0`, `i + nr <= nbits` and bits `[i, i + nr)` all clear; None where the kernel's
        answer would be past the end."""
        found = self._search(start, nr, mask, offset)
        return None if found is None else found[0]

    def take_zero_area(self, start: int, nr: int, mask: int, offset: int) -> int | None:
        """find_zero_area() and then set the bits found, as the kernel's callers do next."""
        found = self._search(start, nr, mask, offset)
        if found is None:
            return None
        i, j = found
        end = i + nr
        starts, ends = self._starts, self._ends
        # The area lies in the gap before run j: it can only touch runs j - 1 and j.
        joins_left = j > 0 and ends[j - 1] == i
        joins_right = j < len(starts) and starts[j] == end
        if joins_left and joins_right:
            ends[j - 1] = ends[j]
            del starts[j], ends[j]
        elif joins_left:
            ends[j - 1] = end
        elif joins_right:
            starts[j] = i
        else:
            starts.insert(j, i)
            ends.insert(j, end)
        return i

    def _search(self, start: int, nr: int, mask: int, offset: int) -> tuple[int, int] | None:
        """(first bit, index of the run after its gap) of the area find_zero_area() answers.

        The kernel aligns the first clear bit and, on meeting a set bit inside the candidate,
        starts again one past it. No aligned start before that set bit can avoid it, so this
        is the same as taking each free gap in turn and trying the first aligned start in it."""
        starts, ends = self._starts, self._ends
        runs = len(starts)
        j = bisect_right(starts, start)  # runs before j start at or before `start`
        gap_start = ends[j - 1] if j and ends[j - 1] > start else start
        not_mask = ~mask
        while j < runs:
            gap_end = starts[j]
            # A gap shorter than the request cannot hold it wherever the alignment falls.
            if gap_end - gap_start >= nr:
                # __ALIGN_MASK(index + offset, mask) - offset
                i = ((gap_start + offset + mask) & not_mask) - offset
                if i + nr <= gap_end:
                    return i, j
            gap_start = ends[j]
            j += 1
        i = ((gap_start + offset + mask) & not_mask) - offset
        return (i, j) if i + nr <= self.nbits else None

    def next_set(self, pos: int) -> int:
        """find_next_bit(): the first set bit at or after `pos`, or nbits."""
        j = bisect_right(self._ends, pos)
        if j == len(self._starts):
            return self.nbits
        return max(self._starts[j], pos)

    def set(self, start: int, count: int) -> None:
        """bitmap_set(), merging with the runs it touches."""
        start, end = max(start, 0), min(start + count, self.nbits)
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        i = bisect_left(ends, start)  # first run ending at or after `start` (touching counts)
        j = bisect_right(starts, end)  # runs before j start at or before `end`
        if i < j:
            if starts[i] < start:
                start = starts[i]
            if ends[j - 1] > end:
                end = ends[j - 1]
        starts[i:j] = (start,)
        ends[i:j] = (end,)

    def clear(self, start: int, count: int) -> None:
        """bitmap_clear(), splitting the runs it cuts."""
        end = start + count  # clipped without max()/min(): this is on every release's path
        if start < 0:
            start = 0
        if end > self.nbits:
            end = self.nbits
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, start)  # first run ending after `start`
        j = bisect_left(starts, end)  # runs before j start before `end`
        if i >= j:
            return
        # What survives: the head of the first run cut, the tail of the last one.
        head = starts[i] < start
        tail = ends[j - 1] > end
        if head and tail:
            starts[i:j] = (starts[i], end)
            ends[i:j] = (start, ends[j - 1])
        elif head:
            del starts[i + 1:j]
            ends[i:j] = (start,)
        elif tail:
            starts[i:j] = (end,)
            del ends[i:j - 1]
        else:
            del starts[i:j]
            del ends[i:j]

    def zero_runs(self) -> list[tuple[int, int]]:
        """(first bit, length) of every run of clear bits, ascending."""
        runs: list[tuple[int, int]] = []
        previous = 0
        for start, end in zip(self._starts, self._ends):
            if start > previous:
                runs.append((previous, start - previous))
            previous = end
        if self.nbits > previous:
            runs.append((previous, self.nbits - previous))
        return runs

    def set_count(self) -> int:
        return sum(end - start for start, end in zip(self._starts, self._ends))


def scaled_extents(bits: BitIntervals, base: int, shift: int) -> list[tuple[int, int]]:
    """The clear runs as (base + (first << shift), length << shift): bits turned into pages
    or bytes."""
    return [(base + (first << shift), length << shift) for first, length in bits.zero_runs()]


class CmaArea:
    """One CMA area with one range. PFNs and page counts throughout."""

    def __init__(self, base_pfn: int, count: int, order_per_bit: int = 0) -> None:
        if base_pfn < 0 or count < 0 or order_per_bit < 0:
            raise ValueError(f"bad CMA area: base_pfn {base_pfn:#x}, count {count}, order_per_bit {order_per_bit}")
        self.base_pfn = base_pfn
        self.count = count
        self.order_per_bit = order_per_bit
        # cma_bitmap_maxno(): pages past the last whole bit are never handed out.
        self._bits = BitIntervals(count >> order_per_bit)
        self._available = count
        self._pin_counts: dict[int, int] = {}
        self._pinned: list[int] = []  # sorted PFNs with a pin count above zero
        self._aligned: dict[int, tuple[int, int]] = {}  # align_order -> (mask, offset)
        self.last_retries = 0

    @property
    def available_count(self) -> int:
        """cma->available_count: pages not handed out, as the allocator counts them (requests
        count their pages, not their rounded-up bits)."""
        return self._available

    # ---- allocation -------------------------------------------------------------------

    def alloc(self, count: int, align_order: int) -> int | None:
        """cma_alloc(): the first PFN of `count` pages aligned to 2^align_order, or None.
        `last_retries` says how many -EBUSY retries it took."""
        self.last_retries = 0
        if align_order < 0:
            raise ValueError(f"alignment order {align_order} is negative")
        if self.count == 0 or count <= 0:
            return None
        opb = self.order_per_bit
        aligned = self._aligned.get(align_order)
        if aligned is None:
            # Both depend only on the order for a given area: worked out once per order.
            aligned = (bitmap_aligned_mask(align_order, opb), bitmap_aligned_offset(self.base_pfn, align_order, opb))
            self._aligned[align_order] = aligned
        mask, offset = aligned
        nbits = -(-count >> opb)  # pages_to_bits()
        bits = self._bits
        if nbits > bits.nbits:
            return None
        step = mask + 1
        start = 0
        while count <= self._available:
            b = bits.take_zero_area(start, nbits, mask, offset)
            if b is None:
                return None
            pfn = self.base_pfn + (b << opb)
            busy = self._last_pinned(pfn, pfn + count) if self._pinned else None
            if busy is None:
                self._available -= count
                return pfn
            # alloc_contig_range() said -EBUSY: cma_clear_bitmap() undoes the reservation (so
            # the bitmap and available_count are as before) and the search resumes at
            # b + mask + 1. The next starts in this same free gap, b + k*step, still hold the
            # pinned page while their first PFN is at or below it: each is one more failed
            # try, counted here without running it.
            bits.clear(b, nbits)
            more = min((bits.next_set(b) - nbits - b) // step, (((busy - self.base_pfn) >> opb) - b) // step)
            more = max(more, 0)
            self.last_retries += 1 + more
            start = b + (more + 1) * step
        return None

    def release(self, pfn: int, count: int) -> bool:
        """cma_release(): False when the PFN is not in the area (the caller then frees the
        pages to the buddy allocator); True once the bits are cleared."""
        if count < 0:
            raise ValueError(f"cannot release {count} pages")
        if not self.base_pfn <= pfn < self.base_pfn + self.count:
            return False
        if pfn + count > self.base_pfn + self.count:
            # The kernel has a VM_BUG_ON here: a release may not run past the range.
            raise ValueError(f"release of {count} pages at {pfn:#x} runs past the area's end")
        opb = self.order_per_bit
        self._bits.clear((pfn - self.base_pfn) >> opb, -(-count >> opb))  # pages_to_bits()
        self._available += count
        return True

    # ---- pinned pages (what makes alloc_contig_range() answer -EBUSY) ------------------

    def pin(self, pfn: int, count: int) -> None:
        """Mark pages as impossible to migrate (a long-term pinned page, a page in use by a
        driver that bypassed CMA). Pins nest: each pin needs its unpin."""
        for page in range(pfn, pfn + count):
            held = self._pin_counts.get(page, 0)
            if held == 0:
                insort(self._pinned, page)
            self._pin_counts[page] = held + 1

    def unpin(self, pfn: int, count: int) -> None:
        for page in range(pfn, pfn + count):
            held = self._pin_counts.get(page, 0)
            if held == 0:
                raise ValueError(f"page {page:#x} is not pinned")
            if held == 1:
                del self._pin_counts[page]
                del self._pinned[bisect_left(self._pinned, page)]
            else:
                self._pin_counts[page] = held - 1

    def _last_pinned(self, first: int, end: int) -> int | None:
        """The highest pinned PFN in [first, end), or None."""
        i = bisect_left(self._pinned, end) - 1
        if i >= 0 and self._pinned[i] >= first:
            return self._pinned[i]
        return None

    # ---- introspection (from the bitmap) -------------------------------------------------

    def free_extents(self) -> list[tuple[int, int]]:
        """(first PFN, pages) of every free run of bits, ascending."""
        return scaled_extents(self._bits, self.base_pfn, self.order_per_bit)

    def largest_free(self) -> int:
        return max((length for _, length in self._bits.zero_runs()), default=0) << self.order_per_bit

    def free_pages(self) -> int:
        """Pages under clear bits; a request that is not a whole number of bits holds more
        pages here than available_count says."""
        return (self._bits.nbits - self._bits.set_count()) << self.order_per_bit

    def used_pages(self) -> int:
        return self._bits.set_count() << self.order_per_bit
