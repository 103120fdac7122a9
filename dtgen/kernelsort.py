"""The kernel's `sort()` (lib/sort.c), reproduced step for step.

Before 6.5, of_reserved_mem.c sorted its array of reserved-memory nodes before allocating the
dynamic ones, and every dynamic node had the same key (base 0, size 0). Heapsort is not stable,
so the allocation order of dynamic nodes is the permutation this exact algorithm produces: not
the device-tree order, but always the same for the same input.

lib/sort.c was rewritten in 5.1 (22a241ccb2c1, bottom-up heapsort: follow the larger child to a
leaf, then backtrack). Both the classic sift-down before it and the rewrite take the left child
on a tie and stop at the first element not smaller, so they place equal keys identically;
tests/test_resolve_properties.py keeps the classic code as a reference and proves it. The 6.9
changes (ties go right, "double-pop") would permute differently, but from 6.5 on __rmem_cmp
has no ties left (it compares FDT offsets last).
"""

from __future__ import annotations

from typing import Callable, MutableSequence, TypeVar

T = TypeVar("T")
Compare = Callable[[T, T], int]


def _swap(items: MutableSequence[T], i: int, j: int) -> None:
    items[i], items[j] = items[j], items[i]


def heapsort_bottom_up(items: MutableSequence[T], cmp: Compare[T]) -> None:
    """lib/sort.c sort_r() from 5.1, in element indices: `a` counts down while the heap is
    built, then `n` shrinks as the root is swapped out to the sorted tail."""
    n = len(items)
    a = n // 2
    if a == 0:
        return
    while True:
        if a:
            a -= 1
        else:
            n -= 1
            if not n:
                return
            _swap(items, 0, n)
        # Sift items[a] down: follow the larger child to a leaf (ties go left: `>= 0`)...
        b = a
        while True:
            c = 2 * b + 1
            d = c + 1
            if d >= n:
                break
            b = c if cmp(items[c], items[d]) >= 0 else d
        if d == n:  # the last leaf has no sibling
            b = c
        # ...then back up to where items[a] belongs, and rotate it into place.
        while b != a and cmp(items[a], items[b]) >= 0:
            b = (b - 1) // 2
        c = b
        while b != a:
            b = (b - 1) // 2
            _swap(items, b, c)
