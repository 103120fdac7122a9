"""Simulate: run every scenario (and every combination that can run at once) against the
regions where resolve placed them, with the allocator the kernel puts behind each region and the
delivery each device really has.

A run replays requests in order on fresh pools; it stops at the first request nothing can
satisfy. Concurrent scenarios are interleaved three ways (README, "Scenarios"): round-robin by
step, and each fully allocated before the next in both listed orders; the worst is reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterator, Sequence, Union

from dtgen import kernel as k
from dtgen.model import (
    Alloc,
    Attempt,
    Board,
    Device,
    Event,
    Extents,
    Free,
    Layout,
    MapRow,
    Pin,
    RegionUse,
    Scenario,
    Verdict,
)
from dtgen.simulate.pools import CmaPool, Pool, buddy_limit, extents_of, make_pool
from dtgen.simulate.prng import SplitMix64
from dtgen.units import fmt_addr

SYSTEM = "system"
PAGE_ALLOCATOR = "page allocator"


@dataclass(frozen=True)
class Request:
    scenario: str
    step: int
    device: str
    kind: str
    size: int
    align: int | None
    label: str
    name: str  # the `as` name (or a generated one) that `free` refers to
    churn: bool = False


@dataclass(frozen=True)
class Release:
    scenario: str
    step: int
    name: str


@dataclass(frozen=True)
class Pinning:
    scenario: str
    step: int
    region: str
    offset: int
    size: int


Op = Union[Request, Release, Pinning]


# ---- from scenario steps to requests -----------------------------------------------------


def _buffer_requests(board: Board, scenario: Scenario, number: int, step: Alloc, index: int) -> Iterator[Request]:
    from dtgen.simulate.formats import planes

    assert step.buffer is not None
    name = step.name or f"step{number}"
    device = board.device(step.device)
    fallback_kind = step.kind or (device.kinds[0] if device else "")
    chosen = step.buffer.planes
    parts = planes(step.buffer.format, step.buffer.width, step.buffer.height)
    if not chosen:
        # One allocation for the whole buffer: single-buffer V4L2 formats keep planes contiguous.
        total = sum(p.size for p in parts)
        yield Request(scenario.name, number, step.device, fallback_kind, total, step.align, f"{name}[{index}]", name)
        return
    for i, plane in enumerate(parts):
        # Planes past the listed kinds go with the last one (U and V share the chroma port).
        kind = chosen[min(i, len(chosen) - 1)]
        yield Request(scenario.name, number, step.device, kind, plane.size, step.align, f"{name}[{index}].{plane.name}", name)


def scenario_ops(board: Board, scenario: Scenario) -> Iterator[Op]:
    """The scenario's requests and releases in order; a churn is generated as it goes."""
    for number, step in enumerate(scenario.steps, start=1):
        if isinstance(step, Free):
            yield Release(scenario.name, number, step.name)
            continue
        if isinstance(step, Pin):
            yield Pinning(scenario.name, number, step.region, step.offset, step.size)
            continue
        assert isinstance(step, Alloc)
        device = board.device(step.device)
        for index in range(step.count):
            if step.buffer is not None:
                yield from _buffer_requests(board, scenario, number, step, index)
            else:
                kind = step.kind or (device.kinds[0] if device else "")
                name = step.name or f"step{number}"
                label = f"{name}[{index}]" if step.count > 1 else name
                yield Request(scenario.name, number, step.device, kind, step.size or 0, step.align, label, name)
    if scenario.churn is not None:
        yield from _churn_ops(board, scenario)


def _churn_ops(board: Board, scenario: Scenario) -> Iterator[Op]:
    """Seeded churn: while below live_max, a coin decides between allocating and freeing a
    random live allocation; sizes come from the list, or page-granular from the range. The
    generator is SplitMix64 (dtgen/simulate/prng.py), so a seed means the same run everywhere."""
    churn = scenario.churn
    assert churn is not None
    rng = SplitMix64(churn.seed)
    page = board.kernel.page_size
    live: list[str] = []
    serial = 0
    for op in range(1, churn.ops + 1):
        allocate = not live or (len(live) < churn.live_max and rng.below(2) == 0)
        if allocate:
            if churn.sizes:
                size = churn.sizes[rng.below(len(churn.sizes))]
            else:
                low, high = churn.size_range or (page, page)
                pages_low, pages_high = -(-low // page), max(-(-low // page), high // page)
                size = (pages_low + rng.below(pages_high - pages_low + 1)) * page
            serial += 1
            name = f"churn{serial}"
            live.append(name)
            yield Request(scenario.name, op, churn.device, churn.kind, size, None, name, name, churn=True)
        else:
            name = live.pop(rng.below(len(live)))
            yield Release(scenario.name, op, name)


# ---- one run ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Held:
    pool: Pool | None  # None: the page allocator
    address: int
    size: int
    align: int
    taken: int = 0  # bytes the allocator set aside


@dataclass
class _Run:
    board: Board
    layout: Layout
    record: bool
    pools: dict[str, Pool] = field(default_factory=dict)
    rows: dict[tuple[str, str], MapRow] = field(default_factory=dict)
    routes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # The route of a request of at most one page, where it differs (_one_page_route()).
    one_page: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # Device kinds whose CMA grants dma-direct checks against the DMA mask (_checks_reach()).
    reach: dict[tuple[str, str], Device] = field(default_factory=dict)
    live: dict[tuple[str, str], list[_Held]] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requests: int = 0
    not_guaranteed: int = 0
    failure: Event | None = None
    at_failure: dict[str, Extents] = field(default_factory=dict)
    at_peak: dict[str, Extents] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for placed in self.layout.placements:
            pool = make_pool(self.board, placed)
            if pool is not None:
                self.pools[placed.region] = pool
                self.used[placed.region] = 0
                self.peak[placed.region] = 0
        self.rows = {(r.device, r.kind): r for r in self.layout.map}
        self.legacy = k.cma_2010(self.board.kernel)
        self.page = self.board.kernel.page_size
        self.buddy = buddy_limit(self.board)
        self.default_area = next(
            (p.region for p in self.layout.placements if p.kind == "cma" and (p.implicit or self._is_default(p.region))),
            None,
        )
        # The kernel's own boot-time allocations from the default area (the DMA atomic pools)
        # are there before any scenario starts, and stay.
        pool = self.pools.get(self.default_area) if self.default_area is not None else None
        for _what, size in self.layout.boot_allocations if pool is not None else ():
            assert pool is not None
            granted = pool.request(size, None)
            if granted.address is not None:
                self.used[pool.region] += granted.taken
                self.peak[pool.region] = max(self.peak[pool.region], self.used[pool.region])

    def _is_default(self, name: str) -> bool:
        region = self.board.region(name)
        return region is not None and region.default

    def step(self, op: Op) -> bool:
        if isinstance(op, Pinning):
            pool = self.pools.get(op.region)
            if isinstance(pool, CmaPool):
                pool.pin(pool.base + op.offset, op.size)
            return True
        if isinstance(op, Release):
            for released in self.live.pop((op.scenario, op.name), ()):
                if released.pool is not None:
                    released.pool.release(released.address, released.size, released.align)
                    self.used[released.pool.region] -= released.taken
            return True
        self.requests += 1
        attempts, held = self._request(op)
        if held is not None and held.pool is None:
            self.not_guaranteed += 1
        if held is not None and not self.record:
            return True  # the common case of long churns: no event object needed
        event = Event(op.scenario, op.step, op.device, op.kind, op.size,
                      held.align if held else max((a.align for a in attempts), default=0), op.label,
                      tuple(attempts), held is not None, held is not None and held.pool is not None, op.churn)
        self.events.append(event)
        if held is None:
            self.failure = event
            self.at_failure = {name: extents_of(pool, self.record) for name, pool in self.pools.items()}
            return False
        return True

    def _chain(self, key: tuple[str, str], size: int) -> list[str]:
        chain = self.routes.get(key)
        if chain is None:
            row = self.rows.get(key)
            chain = self.routes[key] = self._route(row) if row else []
            if row is not None:
                small = self._one_page_route(row, chain)
                if small != chain:
                    self.one_page[key] = small
                device = self._checks_reach(row, chain)
                if device is not None:
                    self.reach[key] = device
        if size <= self.page:
            return self.one_page.get(key, chain)
        return chain

    def _request(self, req: Request) -> tuple[list[Attempt], _Held | None]:
        chain = self._chain((req.device, req.kind), req.size)
        # Every attempt described: run()'s inlined loop is the fast path of long runs, and comes
        # here only for a request no place granted (a failed attempt changes nothing, so trying
        # again gives the same answers). tests/test_simulate.py holds the two together.
        attempts: list[Attempt] = []
        for place in chain:
            attempt, held = self._try(place, req, self.reach.get((req.device, req.kind)))
            attempts.append(attempt)
            if held is not None:
                return attempts, self._keep(req, held)
        return attempts, None

    def _keep(self, req: Request, held: _Held) -> _Held:
        self.live.setdefault((req.scenario, req.name), []).append(held)
        if held.pool is not None:
            region = held.pool.region
            used = self.used[region] + held.taken
            self.used[region] = used
            if used > self.peak[region]:
                self.peak[region] = used
                if self.record:
                    self.at_peak[region] = extents_of(held.pool, True)
        return held

    def _route(self, row: MapRow) -> list[str]:
        """Where the request goes, in order, for this device's delivery (resolve's Delivery):
        `system` means the kernel's own path, the default CMA area and then the page
        allocator; a CMA area reached through the device tree falls back to the page allocator."""
        places: list[str] = []
        for name in row.delivery.regions:
            if name == SYSTEM:
                if self.default_area is not None:
                    places.append(self.default_area)
                places.append(PAGE_ALLOCATOR)
            else:
                places.append(name)
        if row.delivery.fallback == "page-allocator" and PAGE_ALLOCATOR not in places:
            places.append(PAGE_ALLOCATOR)
        return places

    def _one_page_route(self, row: MapRow, chain: list[str]) -> list[str]:
        """A device reaching the default area through dma-direct, without holding it as its own
        area, gets a request of one page from the page allocator: dma_alloc_contiguous()
        (kernel/dma/contiguous.c, 6.12; since 5.3) serves dev->cma_area whatever the size, and the
        default area only for more than PAGE_SIZE. A device holds the default area as its own
        only when its memory-region names the area's device-tree node; the generated helper
        calls cma_alloc() on it whatever the size. Proved by the scenario replay
        (tests/support/scenario_replay.py)."""
        if self.legacy or self.board.kernel.version < (5, 3) or self.default_area not in chain:
            return chain
        device = self.board.device(row.device)
        if device is None or device.uses != "devicetree":
            return chain
        first = row.delivery.regions[0] if row.delivery.regions else SYSTEM
        region = self.board.region(first)
        if first == self.default_area and region is not None and "devicetree" in region.via:
            return chain  # memory-region names the default node: dev->cma_area is the area
        return [place for place in chain if place != self.default_area]

    def _checks_reach(self, row: MapRow, chain: list[str]) -> Device | None:
        """The device, when dma-direct may hand it CMA pages it cannot reach: a device-tree
        device with a CMA area in its route not wholly within its DMA mask."""
        device = self.board.device(row.device)
        if self.legacy or device is None or device.uses != "devicetree":
            return None
        for place in chain:
            pool = self.pools.get(place)
            if isinstance(pool, CmaPool) and not device.reaches(pool.base, pool.base + pool.size):
                return device
        return None

    def _try(self, place: str, req: Request, reach: Device | None = None) -> tuple[Attempt, _Held | None]:
        if place == PAGE_ALLOCATOR:
            limit = buddy_limit(self.board)
            if req.size <= limit:
                return Attempt(place, True, None, 0, limit, "not guaranteed: depends on page-allocator fragmentation"), \
                    _Held(None, 0, req.size, self.board.kernel.page_size)
            return Attempt(place, False, None, 0, limit, f"larger than the largest buddy block ({limit >> 20} MiB)"), None
        pool = self.pools.get(place)
        if pool is None:
            return Attempt(place, False, None, 0, 0, "a plain reservation: no allocator hands it out"), None
        free = pool.size - self.used[place]
        if k.cma_2010(self.board.kernel) and free < req.size:
            # The 2010 cma_alloc() skips a region whose free space is below the request.
            largest = extents_of(pool).largest
            return Attempt(place, False, None, free, largest, "skipped: free space below the request",
                           self.board.kernel.page_size), None
        granted = pool.request(req.size, req.align if self.legacy else None)
        if granted.address is None:
            # Only a failure needs the largest free extent (a walk over the free list).
            largest = extents_of(pool).largest
            return Attempt(place, False, None, free, largest, granted.note, granted.align), None
        if reach is not None and not reach.reaches(granted.address, granted.address + granted.taken):
            # __dma_direct_alloc_pages() (kernel/dma/direct.c, 6.12): a CMA page that fails
            # dma_coherent_ok() goes back (dma_free_contiguous()) and the page allocator is asked
            # instead. Found by the scenario replay (tests/support/scenario_replay.py).
            pool.release(granted.address, req.size, granted.align)
            return Attempt(place, False, None, free, 0,
                           f"{fmt_addr(granted.address)} is beyond the device's {reach.reach_text}: "
                           "dma-direct gives it back", granted.align), None
        return Attempt(place, True, granted.address, free, 0, granted.note, granted.align), \
            _Held(pool, granted.address, req.size, granted.align, granted.taken)

    def region_uses(self, only: set[str] | frozenset[str]) -> tuple[RegionUse, ...]:
        # Only the regions asked about: the free extents at the end are a walk over each pool,
        # and a board with 64 regions asked it of every pool for every verdict (70 % of
        # simulate() on the large bench board) to keep the two or three a scenario touches.
        return tuple(
            RegionUse(name, pool.allocator, pool.size, self.peak[name], self.at_failure.get(name),
                      extents_of(pool, self.record), self.at_peak.get(name))
            for name, pool in self.pools.items() if name in only
        )


def run(board: Board, layout: Layout, ops: Sequence[Op] | Iterator[Op], record: bool = False) -> _Run:
    state = _Run(board, layout, record)
    if record:
        for op in ops:
            if not state.step(op):
                break
        return state
    # `dtgen size` replays long churns hundreds of times: this loop is step() and _request()'s
    # fast path inlined for requests and releases. Anything else, and any request that no
    # pool grants, goes through step(), which describes it.
    pools, used, peak, live, routes, page = state.pools, state.used, state.peak, state.live, state.routes, state.page
    legacy, buddy, reach = state.legacy, state.buddy, state.reach
    for op in ops:
        # `type(op) is` rather than isinstance(): the exact class, faster on millions of ops,
        # and mypy narrows on it as well.
        if type(op) is Release:
            for released in live.pop((op.scenario, op.name), ()):
                pool = released.pool
                if pool is not None:
                    pool.release(released.address, released.size, released.align)
                    used[pool.region] -= released.taken
            continue
        if type(op) is not Request:
            if not state.step(op):
                break
            continue
        size = op.size
        chain = routes.get((op.device, op.kind))
        if chain is None or size <= page:
            chain = state._chain((op.device, op.kind), size)
        if reach and (op.device, op.kind) in reach:
            if not state.step(op):  # a grant beyond the DMA mask is given back: step() says so
                break
            continue
        held: _Held | None = None
        for place in chain:
            pool = pools.get(place)
            if pool is None or (legacy and pool.size - used[place] < size):
                if place == PAGE_ALLOCATOR and size <= buddy:
                    held = _Held(None, 0, size, 0)
                    state.not_guaranteed += 1
                    break
                continue
            granted = pool.request(size, op.align if legacy else None)
            if granted.address is not None:
                held = _Held(pool, granted.address, size, granted.align, granted.taken)
                taken = used[place] + granted.taken
                used[place] = taken
                if taken > peak[place]:
                    peak[place] = taken
                break
        if held is None:
            if not state.step(op):  # fails everywhere: step() tries again to describe it
                break
            continue
        state.requests += 1
        held_list = live.get((op.scenario, op.name))
        if held_list is None:
            live[(op.scenario, op.name)] = [held]
        else:
            held_list.append(held)
    return state


# ---- scenarios, combinations, orders ---------------------------------------------------


def regions_touched(board: Board, layout: Layout, scenario: Scenario) -> frozenset[str]:
    rows = {(r.device, r.kind): r for r in layout.map}
    pairs: set[tuple[str, str]] = set()
    for step in scenario.steps:
        if isinstance(step, Alloc):
            device = board.device(step.device)
            kinds = list(step.buffer.planes) if step.buffer and step.buffer.planes else [step.kind or (device.kinds[0] if device else "")]
            pairs.update((step.device, kind) for kind in kinds)
    if scenario.churn:
        pairs.add((scenario.churn.device, scenario.churn.kind))
    touched: set[str] = {step.region for step in scenario.steps if isinstance(step, Pin)}
    for pair in pairs:
        row = rows.get(pair)
        if row is not None:
            touched.update(row.delivery.regions)
    if SYSTEM in touched:
        defaults = {r.name for r in board.regions if r.default}
        touched |= {p.region for p in layout.placements if p.implicit or p.region in defaults}
    return frozenset(touched - {SYSTEM})


def combinations(board: Board, layout: Layout, scenarios: Sequence[Scenario], limit: int = 64) -> list[tuple[Scenario, ...]]:
    """Sets of two or more scenarios that can run at the same time (no two in one exclusive
    group) and that are linked by shared regions (scenarios on disjoint regions cannot affect
    each other). Combinations holding an `expect: fails` scenario are left out: its limit is
    documented alone. When there are more than `limit`, only the maximal ones are kept. Smaller
    sets first, each in the scenarios' order."""
    eligible = [s for s in scenarios if s.expect == "fits"]
    touched = [regions_touched(board, layout, s) for s in eligible]
    return [tuple(eligible[i] for i in combo) for combo in linked_sets(touched, [s.exclusive for s in eligible], limit)]


def linked_sets(touched: Sequence[frozenset[str]], groups: Sequence[str | None], limit: int = 64) -> list[tuple[int, ...]]:
    """The combinations() of items by index: sets of two or more that are connected through
    shared regions and hold at most one item per group; all of them when there are at most
    `limit`, else the maximal ones; ordered by size, then as itertools.combinations orders them.

    Linear in the answer, not in 2^n: trying every subset of 50 scenarios would never end.
    Connected sets are grown from their lowest index through neighbours (the ESU enumeration,
    Wernicke 2006), each set once; counting stops past `limit`. Maximal sets are searched by
    deciding, neighbour by neighbour, whether it joins; an item without a group that touches the
    set always joins (leaving it out cannot give a maximal set)."""
    n = len(touched)
    near = [frozenset(j for j in range(n) if j != i and touched[i] & touched[j]) for i in range(n)]

    def clash(i: int, members: Sequence[int] | frozenset[int]) -> bool:
        return groups[i] is not None and any(groups[j] == groups[i] for j in members)

    found: list[tuple[int, ...]] = []

    def grow(members: list[int], border: frozenset[int], extension: list[int], low: int) -> bool:
        """ESU: every connected set whose lowest index is `low`, once; False when past the limit."""
        if len(members) > 1:
            found.append(tuple(sorted(members)))
            if len(found) > limit:
                return False
        extension = list(extension)
        while extension:
            w = extension.pop()
            if clash(w, members):
                continue  # every set holding both breaks an exclusive group
            fresh = [u for u in near[w] if u > low and u not in border]
            if not grow(members + [w], border | near[w] | {w}, extension + fresh, low):
                return False
        return True

    for v in range(n):
        if not grow([v], near[v] | {v}, [u for u in near[v] if u > v], v):
            break
    else:
        return sorted(found, key=lambda c: (len(c), c))

    maximal: list[tuple[int, ...]] = []

    def can_join(u: int, members: frozenset[int]) -> bool:
        return u not in members and bool(near[u] & members) and not clash(u, members)

    def hopeless(members: frozenset[int], out: frozenset[int]) -> bool:
        """A left-out item that touches the set could still join unless another of its group
        joins first: with no group, or none of its group left to join, the set can never be
        maximal."""
        for u in out:
            if can_join(u, members):
                if groups[u] is None:
                    return True
                if not any(groups[x] == groups[u] and x not in out and x not in members for x in range(n)):
                    return True
        return False

    def search(members: frozenset[int], out: frozenset[int]) -> None:
        if hopeless(members, out):
            return
        candidates = [u for u in range(n) if u not in out and can_join(u, members)]
        if not candidates:
            if len(members) > 1 and not any(can_join(u, members) for u in range(n)):
                maximal.append(tuple(sorted(members)))
            return
        u = min(candidates, key=lambda x: (groups[x] is not None, x))
        search(members | {u}, out)
        if groups[u] is not None:
            search(members, out | {u})

    for v in range(n):
        search(frozenset({v}), frozenset(range(v)))
    return sorted(maximal, key=lambda c: (len(c), c))


OpsCache = dict[str, tuple[Op, ...]]


def _ops(board: Board, scenario: Scenario, cache: OpsCache | None) -> tuple[Op, ...]:
    """A scenario's operations; a churn's do not depend on what the allocators answer, so they
    are generated once and replayed (`dtgen size` runs the same scenario many times)."""
    if cache is None:
        return tuple(scenario_ops(board, scenario))
    if scenario.name not in cache:
        cache[scenario.name] = tuple(scenario_ops(board, scenario))
    return cache[scenario.name]


def interleavings(board: Board, combo: Sequence[Scenario], cache: OpsCache | None = None) -> list[tuple[str, list[Op]]]:
    """The orders a combination of scenarios is run in (README, "Scenarios"), each named: round-
    robin by step, then each scenario fully allocated before the next, in the listed order and
    reversed. verdict() keeps the worst; the scenario replay (tests/support/scenario_replay.py)
    runs each in a kernel."""
    lists = [list(_ops(board, s, cache)) for s in combo]
    robin: list[Op] = []
    for group in itertools.zip_longest(*lists):
        robin.extend(op for op in group if op is not None)
    orders = [("round-robin by step", robin)]
    for label, ordered in (("each fully allocated in turn", lists), ("each fully allocated in turn, reversed", lists[::-1])):
        # Each scenario's steps up to its last allocation, one scenario after the other, then
        # the remaining (release) steps in the same order.
        heads: list[Op] = []
        tails: list[Op] = []
        for ops in ordered:
            last = max((i for i, op in enumerate(ops) if isinstance(op, Request)), default=-1)
            heads.extend(ops[: last + 1])
            tails.extend(ops[last + 1:])
        orders.append((label, heads + tails))
    return orders


def verdict(board: Board, layout: Layout, combo: Sequence[Scenario], record: bool = False,
            cache: OpsCache | None = None, first: str = "") -> Verdict:
    """Run a scenario, or each interleaving of a combination, and keep the worst: the first
    order that fails, else the one with the highest total high-water mark. `first` names an
    order to try before the others (`dtgen size` asks for the one that failed last: a failing
    probe then ends after one run)."""
    expect = "fits" if all(s.expect == "fits" for s in combo) else "fails"
    names = tuple(s.name for s in combo)
    if len(combo) == 1:
        candidates = [("alone", _ops(board, combo[0], cache))]
    else:
        candidates = interleavings(board, combo, cache)  # type: ignore[assignment]
        candidates.sort(key=lambda c: c[0] != first)
    worst: tuple[str, _Run] | None = None
    for label, ops in candidates:
        state = run(board, layout, ops, record)
        if state.failure is not None:
            worst = (label, state)
            break
        if worst is None or sum(state.peak.values()) > sum(worst[1].peak.values()):
            worst = (label, state)
    assert worst is not None
    label, state = worst
    touched = set().union(*(regions_touched(board, layout, s) for s in combo))
    return Verdict(
        scenarios=names,
        order=label,
        expect=expect,
        fits=state.failure is None,
        failure=state.failure,
        requests=state.requests,
        not_guaranteed=state.not_guaranteed,
        regions=state.region_uses(touched),
        events=tuple(state.events) if record else (),
    )


def simulate(board: Board, layout: Layout, only: Sequence[str] = (), record: bool = False) -> tuple[Verdict, ...]:
    """A verdict for every scenario, then for every combination that can run at once; recorded
    (events, free-space maps) when asked, for reports."""
    scenarios = [s for s in board.scenarios if not only or s.name in only]
    verdicts = [verdict(board, layout, (s,), record) for s in scenarios]
    verdicts += [verdict(board, layout, combo, record) for combo in combinations(board, layout, scenarios)]
    return tuple(verdicts)


def explain(board: Board, layout: Layout, name: str) -> Verdict | None:
    scenario = next((s for s in board.scenarios if s.name == name), None)
    if scenario is None:
        return None
    return verdict(board, layout, (scenario,), record=True)
