"""Slow, obviously-correct allocator models for the property tests: each walks a Python list of
bools one bit at a time in the order the kernel's loops do (lib/bitmap.c, mm/cma.c,
kernel/dma/coherent.c, lib/genalloc.c as changed by the 2010 CMA series), and the best-fit
reference keeps real binary search trees with the kernel's insertion rule. They are written
apart from dtgen/simulate/ on purpose: they share no code with it.
"""

from __future__ import annotations

from dataclasses import dataclass


# ---- lib/bitmap.c, bit by bit ------------------------------------------------------------


def find_next_zero_bit(bits: list[bool], size: int, start: int) -> int:
    i = start
    while i < size:
        if not bits[i]:
            return i
        i += 1
    return size


def find_next_bit(bits: list[bool], size: int, start: int) -> int:
    i = start
    while i < size:
        if bits[i]:
            return i
        i += 1
    return size


def bitmap_find_next_zero_area_off(bits: list[bool], size: int, start: int, nr: int, align_mask: int,
                                   align_offset: int) -> int:
    while True:
        index = find_next_zero_bit(bits, size, start)
        index = ((index + align_offset + align_mask) & ~align_mask) - align_offset
        end = index + nr
        if end > size:
            return end
        i = find_next_bit(bits, end, index)
        if i < end:
            start = i + 1
            continue
        return index


def bitmap_set(bits: list[bool], start: int, count: int) -> None:
    for i in range(start, start + count):
        if 0 <= i < len(bits):
            bits[i] = True


def bitmap_clear(bits: list[bool], start: int, count: int) -> None:
    for i in range(start, start + count):
        if 0 <= i < len(bits):
            bits[i] = False


def clear_runs(bits: list[bool], base: int, shift: int) -> list[tuple[int, int]]:
    """(base + (first << shift), length << shift) for each run of clear bits."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(bits):
        if bits[i]:
            i += 1
            continue
        j = i
        while j < len(bits) and not bits[j]:
            j += 1
        runs.append((base + (i << shift), (j - i) << shift))
        i = j
    return runs


# ---- mm/cma.c ----------------------------------------------------------------------------


class RefCma:
    def __init__(self, base_pfn: int, count: int, order_per_bit: int) -> None:
        self.base_pfn = base_pfn
        self.count = count
        self.order_per_bit = order_per_bit
        self.bitmap = [False] * (count >> order_per_bit)
        self.available_count = count
        self.pinned: dict[int, int] = {}
        self.last_retries = 0

    def alloc_contig_range(self, start: int, end: int) -> int:
        for pfn in range(start, end):
            if self.pinned.get(pfn, 0):
                return -16  # -EBUSY
        return 0

    def alloc(self, count: int, align: int) -> int | None:
        self.last_retries = 0
        if self.count == 0 or count == 0:
            return None
        opb = self.order_per_bit
        mask = 0 if align <= opb else (1 << (align - opb)) - 1
        offset = (self.base_pfn & ((1 << align) - 1)) >> opb
        maxno = self.count >> opb
        nbits = ((count + (1 << opb) - 1) & ~((1 << opb) - 1)) >> opb
        if nbits > maxno:
            return None
        start = 0
        while True:
            if count > self.available_count:
                return None
            b = bitmap_find_next_zero_area_off(self.bitmap, maxno, start, nbits, mask, offset)
            if b >= maxno:
                return None
            bitmap_set(self.bitmap, b, nbits)
            self.available_count -= count
            pfn = self.base_pfn + (b << opb)
            ret = self.alloc_contig_range(pfn, pfn + count)
            if ret == 0:
                return pfn
            # cma_clear_bitmap()
            bitmap_clear(self.bitmap, (pfn - self.base_pfn) >> opb, nbits)
            self.available_count += count
            self.last_retries += 1
            start = b + mask + 1

    def release(self, pfn: int, count: int) -> bool:
        if pfn < self.base_pfn or pfn >= self.base_pfn + self.count:
            return False
        opb = self.order_per_bit
        nbits = ((count + (1 << opb) - 1) & ~((1 << opb) - 1)) >> opb
        bitmap_clear(self.bitmap, (pfn - self.base_pfn) >> opb, nbits)
        self.available_count += count
        return True

    def pin(self, pfn: int, count: int) -> None:
        for page in range(pfn, pfn + count):
            self.pinned[page] = self.pinned.get(page, 0) + 1

    def unpin(self, pfn: int, count: int) -> None:
        for page in range(pfn, pfn + count):
            self.pinned[page] -= 1

    def free_extents(self) -> list[tuple[int, int]]:
        return clear_runs(self.bitmap, self.base_pfn, self.order_per_bit)


# ---- kernel/dma/coherent.c ---------------------------------------------------------------


class RefCoherent:
    def __init__(self, base_pfn: int, pages: int) -> None:
        self.base_pfn = base_pfn
        self.pages = pages
        self.bitmap = [False] * pages

    def alloc(self, order: int) -> int | None:
        # bitmap_find_free_region(): every block of 2^order bits from bit 0, in turn.
        pos = 0
        while pos + (1 << order) <= self.pages:
            if not any(self.bitmap[pos:pos + (1 << order)]):
                bitmap_set(self.bitmap, pos, 1 << order)
                return self.base_pfn + pos
            pos += 1 << order
        return None

    def release(self, pfn: int, order: int) -> bool:
        if not self.base_pfn <= pfn < self.base_pfn + self.pages:
            return False
        bitmap_clear(self.bitmap, pfn - self.base_pfn, 1 << order)
        return True

    def free_extents(self) -> list[tuple[int, int]]:
        return clear_runs(self.bitmap, self.base_pfn, 0)


# ---- lib/genalloc.c with gen_pool_alloc_aligned() ----------------------------------------


class RefGenPool:
    def __init__(self, start: int, size: int, order: int) -> None:
        self.order = order
        self.chunk_start = start >> order
        self.chunk_size = size >> order
        self.bits = [False] * self.chunk_size

    def alloc(self, size: int, alignment: int) -> int | None:
        alignment_order = 0
        if alignment:
            # ffs(alignment) - 1
            while not alignment & (1 << alignment_order):
                alignment_order += 1
        align_mask = 0
        if alignment_order > self.order:
            align_mask = (1 << (alignment_order - self.order)) - 1
        nbits = (size + (1 << self.order) - 1) >> self.order
        if self.chunk_size < nbits:
            return None
        start = bitmap_find_next_zero_area_off(self.bits, self.chunk_size, 0, nbits, align_mask, self.chunk_start)
        if start >= self.chunk_size:
            return None
        bitmap_set(self.bits, start, nbits)
        return (self.chunk_start + start) << self.order

    def free(self, addr: int, size: int) -> None:
        first = (addr >> self.order) - self.chunk_start
        bitmap_clear(self.bits, first, (size + (1 << self.order) - 1) >> self.order)

    def free_extents(self) -> list[tuple[int, int]]:
        return clear_runs(self.bits, self.chunk_start << self.order, self.order)


# ---- mm/cma-best-fit.c with two unbalanced binary search trees ---------------------------
# Red-black rotations never change the in-order sequence, and where an insertion lands in
# that sequence depends only on the comparison rule, so plain search trees with the kernel's
# rule (`value <= node` goes left) give the same in-order walks as the kernel's trees.


@dataclass(eq=False)
class Node:
    key: int
    hole: "Hole"
    left: "Node | None" = None
    right: "Node | None" = None
    parent: "Node | None" = None


@dataclass(eq=False)
class Hole:
    start: int
    size: int
    by_start: Node | None = None
    by_size: Node | None = None


class Tree:
    def __init__(self) -> None:
        self.root: Node | None = None

    def insert(self, node: Node) -> None:
        parent, link_left = None, False
        cur = self.root
        while cur is not None:
            parent = cur
            link_left = node.key <= cur.key
            cur = cur.left if link_left else cur.right
        node.parent, node.left, node.right = parent, None, None
        if parent is None:
            self.root = node
        elif link_left:
            parent.left = node
        else:
            parent.right = node

    def _replace(self, old: Node, new: Node | None) -> None:
        if old.parent is None:
            self.root = new
        elif old.parent.left is old:
            old.parent.left = new
        else:
            old.parent.right = new
        if new is not None:
            new.parent = old.parent

    def erase(self, node: Node) -> None:
        if node.left is None:
            self._replace(node, node.right)
        elif node.right is None:
            self._replace(node, node.left)
        else:
            succ = node.right
            while succ.left is not None:
                succ = succ.left
            if succ.parent is not node:
                self._replace(succ, succ.right)
                succ.right = node.right
                succ.right.parent = succ
            self._replace(node, succ)
            succ.left = node.left
            succ.left.parent = succ

    @staticmethod
    def next(node: Node) -> Node | None:
        if node.right is not None:
            node = node.right
            while node.left is not None:
                node = node.left
            return node
        while node.parent is not None and node.parent.right is node:
            node = node.parent
        return node.parent

    @staticmethod
    def prev(node: Node) -> Node | None:
        if node.left is not None:
            node = node.left
            while node.right is not None:
                node = node.right
            return node
        while node.parent is not None and node.parent.left is node:
            node = node.parent
        return node.parent

    def in_order(self) -> list[Node]:
        out: list[Node] = []
        stack: list[Node] = []
        cur = self.root
        while stack or cur is not None:
            while cur is not None:
                stack.append(cur)
                cur = cur.left
            cur = stack.pop()
            out.append(cur)
            cur = cur.right
        return out


class RefBestFit:
    def __init__(self, start: int, size: int, page: int = 4096) -> None:
        self.page = page
        self.by_start = Tree()
        self.by_size = Tree()
        self.chunks: dict[int, int] = {}
        self._insert_by_start(Hole(start, size))
        self._insert_by_size(self.by_start.root.hole)  # type: ignore[union-attr]

    def _insert_by_size(self, hole: Hole) -> None:
        hole.by_size = Node(hole.size, hole)
        self.by_size.insert(hole.by_size)

    def _erase_by_size(self, hole: Hole) -> None:
        assert hole.by_size is not None
        self.by_size.erase(hole.by_size)

    def _insert_by_start(self, hole: Hole) -> None:
        hole.by_start = Node(hole.start, hole)
        self.by_start.insert(hole.by_start)

    def _erase_by_start(self, hole: Hole) -> None:
        assert hole.by_start is not None
        self.by_start.erase(hole.by_start)

    def alloc(self, size: int, alignment: int) -> int | None:
        size = (size + self.page - 1) // self.page * self.page
        if alignment < self.page:
            alignment = self.page
        node = self.by_size.root
        item: Hole | None = None
        while node is not None:
            if node.hole.size < size:
                node = node.right
            else:
                item = node.hole
                node = node.left
        if item is None:
            return None
        node = item.by_size
        while True:
            start = (item.start + alignment - 1) // alignment * alignment
            end = item.start + item.size
            if start < end and end - start >= size:
                return self._take(item, size, alignment)
            node = Tree.next(node)  # type: ignore[arg-type]
            if node is None:
                return None
            item = node.hole

    def _take(self, hole: Hole, size: int, alignment: int) -> int:
        if size == hole.size:
            self._erase_by_size(hole)
            self._erase_by_start(hole)
            self.chunks[hole.start] = size
            return hole.start
        item_start = (hole.start + alignment - 1) // alignment * alignment
        if item_start != hole.start and item_start + size != hole.start + hole.size:
            left = hole.start + hole.size - (item_start + size)
            if left % alignment == 0:
                item_start += left
            else:
                tail = Hole(item_start + size, hole.start + hole.size - (item_start + size))
                self._insert_by_start(tail)
                self._insert_by_size(tail)
                hole.size = tail.start - hole.start
        if item_start == hole.start:
            # The by-start key moves with the hole; its place in the sequence does not.
            hole.start += size
            assert hole.by_start is not None
            hole.by_start.key = hole.start
        hole.size -= size
        self._erase_by_size(hole)
        self._insert_by_size(hole)
        self.chunks[item_start] = size
        return item_start

    def free(self, addr: int) -> None:
        size = self.chunks.pop(addr)
        item = Hole(addr, size)
        self._insert_by_start(item)
        self._insert_by_size(item)
        assert item.by_start is not None
        twice = 2
        node = Tree.prev(item.by_start)
        prev = node.hole if node is not None else None
        while True:
            if prev is not None and prev.start + prev.size == item.start:
                self._erase_by_size(prev)
                self._erase_by_start(prev)
                item.size += prev.size
                item.start = prev.start
                assert item.by_start is not None
                item.by_start.key = item.start
                self._erase_by_size(item)
                self._insert_by_size(item)
            twice -= 1
            if not twice:
                break
            assert item.by_start is not None
            node = Tree.next(item.by_start)
            if node is None:
                break
            prev = item
            item = node.hole

    def free_extents(self) -> list[tuple[int, int]]:
        return [(n.hole.start, n.hole.size) for n in self.by_start.in_order()]
