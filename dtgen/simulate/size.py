"""`dtgen size`: the smallest size of each region at which every `expect: fits` scenario (and
every combination that can run at once) still fits.

A region is resized in steps of its granularity (the CMA minimum alignment for CMA areas, a page
otherwise), the board is resolved again (a smaller or larger region lands elsewhere, which
changes alignment offsets), and only the scenarios that touch the region are run again. First
each region alone with the others at their current size, then all at their minima together,
growing whichever region still fails until everything fits.
"""

from __future__ import annotations

from typing import Sequence

from dataclasses import dataclass, replace
from typing import Callable

from dtgen import kernel as k
from dtgen.model import Board, Layout, Scenario, Verdict
from dtgen.resolve import resolve
from dtgen.simulate.engine import OpsCache, combinations, regions_touched, verdict
from dtgen.units import fmt_size

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SizeRow:
    region: str
    granule: int
    current: int
    minimal: int | None  # alone, others at their current size; None: no size up to the cap fits
    joint: int | None  # all regions at once
    with_margin: int | None


def granule(board: Board, region: str, layout: Layout) -> int:
    placed = layout.placement(region)
    if placed is not None and placed.kind == "cma" and not k.cma_2010(board.kernel):
        return k.cma_min_alignment(board.kernel).size
    return board.kernel.page_size


def _sized(board: Board, sizes: dict[str, int]) -> Board:
    return replace(board, regions=tuple(replace(r, size=sizes[r.name]) if r.name in sizes else r for r in board.regions))


class _Judge:
    """Answers "does everything that touches these regions fit?" for a board with resized
    regions, remembering answers (the searches ask about the same sizes again)."""

    def __init__(self, board: Board, layout: Layout) -> None:
        self.board = board
        fits = [s for s in board.scenarios if s.expect == "fits"]
        self.groups: list[tuple[Scenario, ...]] = [(s,) for s in fits] + combinations(board, layout, fits)
        self.touched = {
            tuple(s.name for s in group): frozenset().union(*(regions_touched(board, layout, s) for s in group))
            for group in self.groups
        }
        self.memo: dict[tuple[tuple[str, int], ...], str | None] = {}
        self.ops: OpsCache = {}
        self.verdicts: dict[tuple[object, ...], Verdict] = {}
        self.failed_order: dict[tuple[str, ...], str] = {}
        self.last_failed = -1

    def verdict(self, board: Board, layout: Layout, group: tuple[Scenario, ...]) -> Verdict:
        """A group's verdict depends only on where the regions it touches landed: growing one
        region leaves the runs of groups that never reach it (and did not move) as they were."""
        names = tuple(s.name for s in group)
        key = (names, tuple(
            (p.region, p.start, p.size) for p in layout.placements if p.region in self.touched[names] or p.implicit
        ))
        found = self.verdicts.get(key)
        if found is None:
            found = self.verdicts[key] = verdict(board, layout, group, cache=self.ops,
                                                 first=self.failed_order.get(names, ""))
            if not found.fits:
                self.failed_order[names] = found.order
        return found

    def floor(self, sizes: dict[str, int], region: str) -> int:
        """A size known not to be enough for `region`: one byte under its high-water mark at
        the current sizes, when no request can move on past it (else 0: no bound)."""
        board = _sized(self.board, sizes)
        layout, found = resolve(board)
        if any(d.severity.value == "error" for d in found) or not _terminal(layout, region):
            return 0
        peak = 0
        for group in self.groups:
            if region in self.touched[tuple(s.name for s in group)]:
                result = self.verdict(board, layout, group)
                if not result.fits:
                    return 0
                peak = max([peak, *(u.peak for u in result.regions if u.region == region)])
        return max(0, peak - 1)

    def failing_region(self, sizes: dict[str, int], focus: frozenset[str]) -> str | None:
        """None when every group touching `focus` fits; else a region to grow (the one the
        failed request tried last), or `?` when the board cannot even be placed."""
        key = tuple(sorted(sizes.items())) + tuple(sorted((f, 0) for f in focus))
        if key in self.memo:
            return self.memo[key]
        board = _sized(self.board, sizes)
        layout, found = resolve(board)
        answer: str | None = None
        if any(d.severity.value == "error" for d in found):
            answer = "?"
        else:
            # The group that failed last is the likeliest to fail again: asking it first ends
            # a failing probe after one run instead of after every fitting group.
            for index in sorted(range(len(self.groups)), key=lambda i: i != self.last_failed):
                group = self.groups[index]
                if not (self.touched[tuple(s.name for s in group)] & focus):
                    continue
                result = self.verdict(board, layout, group)
                if not result.fits:
                    self.last_failed = index
                    tried = [a.region for a in result.failure.attempts] if result.failure else []
                    answer = next((r for r in reversed(tried) if r in sizes), None) or next(iter(focus))
                    break
        self.memo[key] = answer
        return answer


def _terminal(layout: Layout, region: str) -> bool:
    """Whether no chain goes on past `region`: then every request that reaches it must fit in
    it, whatever its size, and its high-water mark is a lower bound."""
    return all(row.delivery.regions[-1] == region and row.delivery.fallback == "none"
               for row in layout.map if region in row.delivery.regions)


def _search(judge: _Judge, sizes: dict[str, int], region: str, step: int, cap: int, floor: int = 0) -> int | None:
    """The smallest multiple of `step` for `region` (others as in `sizes`) that fits, by
    doubling up to `cap` when the current size fails, then bisecting above `floor` (a size
    known to be too small, or 0)."""
    focus = frozenset({region})

    def fits(size: int) -> bool:
        return judge.failing_region({**sizes, region: size}, focus) is None

    high = sizes[region]
    if not fits(high):
        while high < cap:
            high = min(cap, high * 2)
            if fits(high):
                break
        else:
            return None
        # The high-water mark where it first fits bounds the search from below as well (the
        # runs are remembered, so this costs nothing).
        floor = max(floor, judge.floor({**sizes, region: high}, region))
    lo_g, hi_g = min(floor // step, high // step - 1), high // step  # lo fails (or is 0), hi fits
    if floor:
        # Without fragmentation the high-water mark itself is enough: try it first.
        probe = floor // step + 1
        if probe < hi_g:
            if fits(probe * step):
                return probe * step
            lo_g = probe
    while hi_g - lo_g > 1:
        mid = (lo_g + hi_g) // 2
        if fits(mid * step):
            hi_g = mid
        else:
            lo_g = mid
    return hi_g * step


def sizes(board: Board, layout: Layout, margin_pct: float = 0.0, progress: Progress | None = None) -> list[SizeRow]:
    judge = _Judge(board, layout)
    used = set().union(*judge.touched.values()) if judge.touched else set()
    names = [r.name for r in board.regions if r.name in used and layout.placement(r.name) is not None]
    current = {r.name: r.size for r in board.regions if r.name in names}
    steps = {name: granule(board, name, layout) for name in names}
    cap = sum(b.size for b in board.banks)
    minimal: dict[str, int | None] = {}
    for i, name in enumerate(names):
        if progress:
            progress(i, len(names) * 2, name)
        minimal[name] = _search(judge, current, name, steps[name], cap, judge.floor(current, name))
    joint: dict[str, int] | None = {n: (minimal[n] or current[n]) for n in names}
    everything = frozenset(names)
    for i in range(4 * len(names) + 8):
        if progress:
            progress(len(names) + min(i, len(names) - 1), len(names) * 2, "all regions together")
        assert joint is not None
        failing = judge.failing_region(joint, everything)
        if failing is None:
            break
        # The failing region's size fails with the others at theirs, so the search grows it.
        grown = _search(judge, joint, failing, steps[failing], cap, judge.floor(joint, failing)) if failing in joint else None
        if grown is None:
            joint = None
            break
        joint = {**joint, failing: grown}
    else:
        joint = None
    if progress:
        progress(len(names) * 2, len(names) * 2, "done")
    rows = []
    for name in names:
        together = joint[name] if joint else None
        padded = None
        if together is not None:
            padded = -(-int(together * (100 + margin_pct)) // (100 * steps[name])) * steps[name]
        rows.append(SizeRow(name, steps[name], current[name], minimal[name], together, padded))
    return rows


def fails_one_granule_less(board: Board, layout: Layout, row: SizeRow) -> bool:
    """For tests and `--verify`: the minimal size is minimal (one granule less fails)."""
    judge = _Judge(board, layout)
    sizes_now = {r.name: r.size for r in board.regions}
    assert row.minimal is not None
    return judge.failing_region({**sizes_now, row.region: row.minimal - row.granule}, frozenset({row.region})) is not None



def suggestion(board: Board, layout: Layout, failed: Verdict) -> str:
    """"fits with `r` >= N": the size the region the failing request tried last would need for
    this verdict's scenarios, others unchanged; empty when growing it does not help."""
    if failed.failure is None:
        return ""
    tried = [a.region for a in failed.failure.attempts if board.region(a.region) is not None]
    if not tried:
        return ""
    region = tried[-1]
    judge = _Judge(board, layout)
    judge.groups = [tuple(s for s in board.scenarios if s.name in failed.scenarios)]
    judge.touched = {failed.scenarios: frozenset({region})}
    current = {r.name: r.size for r in board.regions}
    cap = sum(b.size for b in board.banks)
    found = _search(judge, current, region, granule(board, region, layout), cap)
    if found is None:
        return f"no size of `{region}` up to the RAM size makes it fit"
    return f"fits with `{region}` >= {fmt_size(found)} (now {fmt_size(current[region])}; see dtgen size)"


def suggestions(board: Board, layout: Layout, verdicts: Sequence[Verdict]) -> dict[str, str]:
    """A suggestion for each verdict that should fit and does not. A combination with a
    scenario that already fails alone gets no search of its own: the mistake is that scenario's
    (one message per mistake), and each search replays every churn at a dozen sizes, which on a
    board like samsung-aquila-2010 made `check` take seconds per failing combination."""
    alone = {v.scenarios[0] for v in verdicts if len(v.scenarios) == 1 and not v.fits and v.expect == "fits"}
    out: dict[str, str] = {}
    for v in verdicts:
        if v.met or v.expect != "fits":
            continue
        first = sorted(alone & set(v.scenarios)) if len(v.scenarios) > 1 else []
        out[v.name] = (f"`{first[0]}` does not fit on its own: see its line" if first
                       else suggestion(board, layout, v))
    return out

