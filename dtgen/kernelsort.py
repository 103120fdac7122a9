"""The kernel's `sort()` (lib/sort.c), reproduced step for step.

Before 6.5, of_reserved_mem.c sorted its array of reserved-memory nodes before allocating the
dynamic ones, and every dynamic node had the same key (base 0, size 0). Heapsort is not stable,
so the allocation order of dynamic nodes is the permutation this exact algorithm produces: not
the device-tree order, but always the same for the same input. Two versions matter:
- `heapsort_classic`: lib/sort.c up to 5.0 (sift-down with two compares per level);
- `heapsort_bottom_up`: the v5.1 rewrite ("lib/sort: make swap functions more generic" series),
  which finds the leaf path first and backtracks, and permutes equal keys differently.
"""

from __future__ import annotations

from typing import Callable, MutableSequence, TypeVar

T = TypeVar("T")
Compare = Callable[[T, T], int]


def _swap(items: MutableSequence[T], i: int, j: int) -> None:
    items[i], items[j] = items[j], items[i]


def heapsort_classic(items: MutableSequence[T], cmp: Compare[T]) -> None:
    """lib/sort.c before 5.1, in element indices instead of byte offsets."""
    n = len(items)
    for i in range(n // 2 - 1, -1, -1):
        _sift_classic(items, cmp, i, n)
    for i in range(n - 1, 0, -1):
        _swap(items, 0, i)
        _sift_classic(items, cmp, 0, i)


def _sift_classic(items: MutableSequence[T], cmp: Compare[T], r: int, n: int) -> None:
    while r * 2 + 1 < n:
        c = r * 2 + 1
        if c < n - 1 and cmp(items[c], items[c + 1]) < 0:
            c += 1
        if cmp(items[r], items[c]) >= 0:
            return
        _swap(items, r, c)
        r = c


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
