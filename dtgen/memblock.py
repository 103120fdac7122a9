"""The boot-time memory allocator, as far as reserving regions needs it (mm/memblock.c).

memblock keeps two lists: `memory` (RAM from /memory or ATAGs, adjacent ranges merged) and
`reserved` (plus NOMAP marks, which free-range walks skip as well). An allocation searches the
free ranges, memory minus both, top-down by default. Resolve replays the boot sequence on one
of these, so a region placed later sees every reservation made before it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    owner: str = ""

    @property
    def size(self) -> int:
        return self.end - self.start


def round_down(value: int, align: int) -> int:
    return value - value % align


def round_up(value: int, align: int) -> int:
    return -(-value // align) * align


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """memblock_add() merges ranges that touch or overlap (memblock_merge_regions)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class Memblock:
    """memory and taken (reserved or NOMAP) ranges; `find` follows memblock_find_in_range_node.

    The one mutable object in resolve: it lives inside one `resolve()` call, like the kernel's
    memblock lives inside early boot, and nothing outside sees it.
    """

    def __init__(self, memory: list[tuple[int, int]], page_size: int) -> None:
        self.memory = merge(memory)
        self.page_size = page_size
        self.taken: list[Span] = []

    def reserve(self, start: int, end: int, owner: str) -> None:
        self.taken.append(Span(start, end, owner))
        self.taken.sort(key=lambda s: (s.start, s.end, s.owner))

    def overlapping(self, start: int, end: int) -> list[Span]:
        return [s for s in self.taken if s.start < end and start < s.end]

    def is_memory(self, start: int, end: int) -> bool:
        return any(m_start <= start and end <= m_end for m_start, m_end in self.memory)

    def free_ranges(self) -> list[tuple[int, int]]:
        """Memory minus taken, ascending: what for_each_free_mem_range() walks."""
        out: list[tuple[int, int]] = []
        for m_start, m_end in self.memory:
            cursor = m_start
            for s in self.taken:
                if s.end <= cursor or s.start >= m_end:
                    continue
                if s.start > cursor:
                    out.append((cursor, s.start))
                cursor = max(cursor, s.end)
            if cursor < m_end:
                out.append((cursor, m_end))
        return out

    def window(self, start: int, end: int) -> tuple[int, int]:
        # memblock_find_in_range_node(): never below PAGE_SIZE (a base of 0 means failure to
        # its callers), and an end below the start is an empty window.
        start = max(start, self.page_size)
        return start, max(start, end)

    def find(self, size: int, align: int, start: int, end: int, bottom_up: bool) -> int | None:
        """The address memblock_find_in_range_node() returns, or None.

        Top-down (__memblock_find_range_top_down): the highest free range, clamped to the
        window, at round_down(end - size, align). Bottom-up: the lowest, at round_up(start, align).
        """
        start, end = self.window(start, end)
        ranges = [(max(s, start), min(e, end)) for s, e in self.free_ranges() if s < end and e > start]
        if bottom_up:
            for this_start, this_end in ranges:
                cand = round_up(this_start, align)
                if cand < this_end and this_end - cand >= size:
                    return cand
            return None
        for this_start, this_end in reversed(ranges):
            if this_end < size:
                continue
            cand = round_down(this_end - size, align)
            if cand >= this_start:
                return cand
        return None

    def largest_free(self, start: int, end: int) -> Span | None:
        """The largest free range inside the window, for "cannot place" messages."""
        start, end = self.window(start, end)
        best: Span | None = None
        for s, e in self.free_ranges():
            s, e = max(s, start), min(e, end)
            if e > s and (best is None or e - s > best.size):
                best = Span(s, e)
        return best
