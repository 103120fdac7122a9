"""The memory map as a picture: geometry for the SVG template (and the HTML report around it) and
rows for the text map. Pure: a Board and its Layout in, plain view data out; the templates only
draw what is computed here.

One column covers the address space from the lowest bank (or reservation) to the highest, low
addresses at the top, so boxes read in address order like the layout table. Heights are to
scale where they can be: every slice between two boundaries (a bank edge, a reservation edge, a
zone limit) gets its share of the column, but a reservation never shrinks below a visible
minimum and an empty slice that would dominate the picture (most of a 2 GiB bank is free) is
drawn short with a break mark. Every boundary that matters carries its address, so nothing is
read off a broken scale. Labels sit to the right in address order, moved apart where boxes are
close, with a leader to their box.
"""

from __future__ import annotations

from dataclasses import dataclass

from dtgen import kernel as k
from dtgen.views.layout import gets_text, kind_text
from dtgen.model import Board, Layout, Placement, Verdict
from dtgen.units import fmt_addr
from dtgen.units import fmt_part, fmt_size_read

# Legend: css class -> what it means. Fills differ in lightness and pattern as well as hue, so
# the picture survives a greyscale printer.
KINDS = (
    ("cma", "CMA area (reusable: the page allocator borrows it while idle)"),
    ("cma-default", "default CMA area (linux,cma-default, cma=, or Kconfig)"),
    ("coherent", "coherent pool or carve-out (no-map)"),
    ("plain", "plain reservation (no allocator)"),
    ("occupied", "firmware, /memreserve/ (occupied before dtgen's regions)"),
    ("free", "free RAM"),
    ("hole", "no RAM (between banks)"),
)

WIDTH = 960
TOP = 56  # room for the title
TICK_W = 150  # address column
COL_X = TICK_W + 10
COL_W = 190
REACH_W = 24  # a 10 px bar, then its rotated label beside it (not on it)
LABEL_W = 330
LABEL_H = 30  # two lines of label text
BOX_MIN = 6  # the thinnest reservation drawn
EMPTY_MIN = 4
BREAK_H = 36  # an empty slice drawn short
BUDGET = 760  # column height the scale aims at


@dataclass(frozen=True)
class Box:
    y: float
    h: float
    x: float
    w: float
    kind: str  # a KINDS class
    name: str
    start: int
    end: int
    title: str  # tooltip text (SVG <title>)


@dataclass(frozen=True)
class Label:
    y: float  # top of the two lines
    name: str
    detail: str
    anchor_y: float  # where the leader meets the box
    kind: str


@dataclass(frozen=True)
class Tick:
    y: float
    text: str
    note: str = ""  # a zone limit or bank edge, in words


@dataclass(frozen=True)
class Break:
    y: float  # middle of the shortened slice
    size: str  # how much is left out, in units


@dataclass(frozen=True)
class Reach:
    x: float
    y1: float
    y2: float
    text: str  # the devices, and their DMA window
    open_top: bool  # the window starts above the picture
    open_bottom: bool


@dataclass(frozen=True)
class Zone:
    y: float
    text: str


@dataclass(frozen=True)
class Picture:
    title: str
    subtitle: str
    width: float
    height: float
    col_x: float
    col_w: float
    label_x: float
    boxes: tuple[Box, ...]
    labels: tuple[Label, ...]
    ticks: tuple[Tick, ...]
    breaks: tuple[Break, ...]
    reaches: tuple[Reach, ...]
    zones: tuple[Zone, ...]
    legend: tuple[tuple[str, str], ...]  # (class, text) for the kinds present
    tick_x: float = COL_X - 6  # where the address texts end (left of the DMA reach bars)


@dataclass(frozen=True)
class _Item:
    start: int
    end: int
    kind: str
    name: str
    detail: str
    title: str


def placement_kind(board: Board, p: Placement) -> str:
    if k.cma_2010(board.kernel) and p.reserved_by == "platform":
        return "cma"  # a 2010 CMA region: the patch's allocator hands it out
    if p.kind == "cma":
        region = board.region(p.region)
        return "cma-default" if p.implicit or (region is not None and region.default) else "cma"
    return "coherent" if p.kind == "coherent" else "plain"


def _what(board: Board, p: Placement) -> str:
    words = kind_text(board, p)
    if placement_kind(board, p) == "cma-default":
        words = "default " + words
    how = f"fixed, reserved by {p.reserved_by}" if p.static else f"reserved by {p.reserved_by}"
    return f"{words}, {how}"


def items(board: Board, layout: Layout) -> list[_Item]:
    """Everything the map draws, in address order: the placed regions and the occupied ranges."""
    out: list[_Item] = []
    for p in layout.placements:
        span = f"{fmt_addr(p.start)}..{fmt_addr(p.end - 1)}"
        detail = f"{span}  {fmt_size_read(p.size)}  {_what(board, p)}"
        out.append(_Item(p.start, p.end, placement_kind(board, p), p.region, detail,
                         f"{p.region}: {detail}; {p.method}"))
    for o in board.occupied:
        span = f"{fmt_addr(o.start)}..{fmt_addr(o.end - 1)}"
        out.append(_Item(o.start, o.end, "occupied", o.name, f"{span}  {fmt_size_read(o.size)}  occupied",
                         f"{o.name}: {span}, {fmt_size_read(o.size)}, occupied"))
    out.sort(key=lambda i: (i.start, -i.end, i.name))
    return out


def _ram(board: Board) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for bank in sorted(board.banks, key=lambda b: b.base):
        if merged and bank.base <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bank.end))
        else:
            merged.append((bank.base, bank.end))
    return merged


def _in(ranges: list[tuple[int, int]], lo: int, hi: int) -> bool:
    return any(a <= lo and hi <= b for a, b in ranges)


def picture(board: Board, layout: Layout) -> Picture:
    things = items(board, layout)
    ram = _ram(board)
    low = min([a for a, _ in ram] + [i.start for i in things])
    high = max([b for _, b in ram] + [i.end for i in things])
    zones = [z for z in layout.zones if low < z.address < high]
    edges = {low, high}
    for a, b in ram:
        edges |= {a, b}
    for i in things:
        edges |= {i.start, i.end}
    edges |= {z.address for z in zones}
    bounds = sorted(e for e in edges if low <= e <= high)

    # Heights. An empty slice (free RAM, or no RAM between banks) larger than the largest
    # reservation and than an eighth of the span is drawn short, with a break mark; everything
    # else shares one scale, so what is drawn to scale compares truly. Reservations keep a
    # visible minimum.
    span = high - low
    largest = max((i.end - i.start for i in things), default=0)
    pieces = [(lo, hi, any(i.start < hi and lo < i.end for i in things)) for lo, hi in zip(bounds, bounds[1:])]
    broken = [not covered and (hi - lo) > max(largest, span // 8) for lo, hi, covered in pieces]
    to_scale = sum(hi - lo for (lo, hi, _), b in zip(pieces, broken) if not b)
    scale = (BUDGET - BREAK_H * sum(broken)) / to_scale if to_scale else 0.0
    slices: list[tuple[int, int, float, bool]] = []  # (start, end, height, broken)
    for (lo, hi, covered), b in zip(pieces, broken):
        height = BREAK_H if b else max((hi - lo) * scale, BOX_MIN if covered else EMPTY_MIN)
        slices.append((lo, hi, height, b))

    ys: dict[int, float] = {}
    y = float(TOP)
    for lo, _hi, h, _ in slices:
        ys[lo] = y
        y += h
    ys[bounds[-1]] = y
    bottom = y

    def at(address: int) -> float:
        if address in ys:
            return ys[address]
        for lo, hi, h, _ in slices:  # inside a slice: linear (only reach ends land here)
            if lo <= address <= hi:
                return ys[lo] + h * (address - lo) / (hi - lo)
        return TOP if address < low else bottom

    # The DMA reach bars stand left of the column, between it and the addresses, so that the
    # leaders from the boxes to their labels on the right cross nothing.
    reaches = _reaches(board, low, high, at)
    col_x = COL_X + (REACH_W * len(reaches) + 6 if reaches else 0)
    boxes: list[Box] = []
    breaks: list[Break] = []
    for lo, hi, h, cut in slices:
        if any(i.start < hi and lo < i.end for i in things):
            continue
        kind = "free" if _in(ram, lo, hi) else "hole"
        words = "free RAM" if kind == "free" else "no RAM"
        boxes.append(Box(ys[lo], h, col_x, COL_W, kind, words, lo, hi,
                         f"{words}: {fmt_addr(lo)}..{fmt_addr(hi - 1)}, {fmt_size_read(hi - lo)}"))
        if cut:
            breaks.append(Break(ys[lo] + h / 2, fmt_size_read(hi - lo)))
    # Reservations over the free/hole background; one that overlaps an earlier one is inset,
    # so both stay visible.
    drawn: list[_Item] = []
    for i in things:
        depth = sum(1 for d in drawn if d.start < i.end and i.start < d.end)
        inset = min(depth * 8, COL_W / 3)
        # Two touching boxes of one fill (a run of firmware carve-outs) alternate in shade, or
        # they would read as one.
        touching = bool(boxes) and boxes[-1].end == i.start and boxes[-1].kind.split()[0] == i.kind
        kind = i.kind + (" alt" if touching and not boxes[-1].kind.endswith(" alt") else "")
        boxes.append(Box(at(i.start), at(i.end) - at(i.start), col_x + inset, COL_W - 2 * inset, kind, i.name,
                         i.start, i.end, i.title))
        drawn.append(i)

    label_x = col_x + COL_W + 24
    labels = _labels(things, zones, at)
    ticks = _ticks(bounds, ram, zones, at)
    height = max(bottom, max((lb.y + LABEL_H for lb in labels), default=0)) + 24
    present = {b.kind.split()[0] for b in boxes}
    title = f"{board.name}: physical memory"
    subtitle = (f"{len(board.banks)} bank{'s' * (len(board.banks) != 1)}, {fmt_size_read(sum(b.size for b in board.banks))} "
                f"of RAM; Linux {board.kernel.version_text} {board.kernel.arch}; low addresses at the top")
    return Picture(title, subtitle, max(WIDTH, label_x + LABEL_W), height, col_x, COL_W, label_x, tuple(boxes),
                   tuple(labels), ticks, tuple(breaks), reaches,
                   tuple(Zone(at(z.address), f"{fmt_addr(z.address)}: {z.what}") for z in zones),
                   tuple((c, t) for c, t in KINDS if c in present), COL_X - 6)


def _labels(things: list[_Item], zones, at) -> list[Label]:  # type: ignore[no-untyped-def]
    """Two-line labels in address order (zone limits among them), each as near its box's
    middle as the ones above allow."""
    wanted = [((at(i.start) + at(i.end)) / 2, i.name, i.detail, i.kind) for i in things]
    wanted += [(at(z.address), fmt_addr(z.address), z.what, "zone") for z in zones]
    out: list[Label] = []
    floor = float(TOP) - 4
    for middle, name, detail, kind in sorted(wanted, key=lambda w: w[0]):
        y = max(middle - LABEL_H / 2, floor)
        out.append(Label(y, name, detail, middle, kind))
        floor = y + LABEL_H + 2
    return out


def _ticks(bounds: list[int], ram: list[tuple[int, int]], zones, at) -> tuple[Tick, ...]:  # type: ignore[no-untyped-def]
    """Addresses down the left: bank edges and zone limits first, then reservation edges where
    there is room (a label names those anyway)."""
    notes: dict[int, str] = {}
    for n, (a, b) in enumerate(ram):
        notes.setdefault(a, "RAM starts" if n == 0 else "RAM again")
        notes.setdefault(b, "RAM ends" if n == len(ram) - 1 else "gap in RAM")
    for z in zones:
        notes[z.address] = "limit"
    ranked = sorted(bounds, key=lambda e: (e not in notes, e))
    taken: list[float] = []
    out: list[Tick] = []
    for edge in ranked:
        y = at(edge)
        gap = 22 if edge in notes else 12
        if any(abs(y - t) < gap for t in taken):
            continue
        taken.append(y)
        out.append(Tick(y, fmt_addr(edge), notes.get(edge, "")))
    return tuple(sorted(out, key=lambda t: t.y))


def _reaches(board: Board, low: int, high: int, at) -> tuple[Reach, ...]:  # type: ignore[no-untyped-def]
    """One bar per distinct DMA window: the devices that share it, and where it ends."""
    groups: dict[tuple[int, int], list[str]] = {}
    for d in board.devices:
        for window in d.windows:  # several for a bus with several dma-ranges entries
            groups.setdefault(window, []).append(d.name)
    out = []
    for n, ((lo, hi), names) in enumerate(sorted(groups.items())):
        shown = ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more"
        span = f"{fmt_addr(lo)}..{fmt_addr(hi - 1)}"
        out.append(Reach(COL_X + n * REACH_W, at(max(lo, low)), at(min(hi, high)),
                         f"DMA reach of {shown}: {span}", lo < low, hi > high))
    return tuple(out)


# ---- the scenario view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Strip:
    """One region's space at one moment: used (filled) and free extents, to scale."""

    region: str
    size: str
    when: str  # at the failure | at the peak | at the end
    used: str  # e.g. "31.6 of 36 MiB"
    fragmentation: str
    free: tuple[tuple[float, float], ...]  # (x, w) of each free extent, in 0..STRIP_W
    largest: str


@dataclass(frozen=True)
class VerdictRow:
    name: str
    status: str  # fits | FAILS | FAILS (expected) | ...
    ok: bool  # met its expectation
    failure: str
    peaks: tuple[tuple[str, float, str], ...]  # (region, fill 0..1, text)
    strips: tuple[Strip, ...]
    description: str = ""
    exclusive: str = ""  # the scenario's exclusive group: never runs with the others of it


STRIP_W = 480


def verdict_rows(board: Board, layout: Layout, verdicts: tuple[Verdict, ...]) -> tuple[VerdictRow, ...]:
    rows = []
    for v in verdicts:
        status = ("fits" if v.met else "fits, but expect: fails") if v.fits else ("FAILS (expected)" if v.met else "FAILS")
        failure = ""
        if v.failure is not None:
            e = v.failure
            failure = f"{e.where}: {e.device}/{e.kind} {e.label} {fmt_size_read(e.size)} found no room"
        peaks = tuple((u.region, u.peak / u.size if u.size else 0.0, f"{fmt_part(u.peak, u.size)} of {fmt_size_read(u.size)}")
                      for u in v.regions)
        strips = []
        for u in v.regions:
            placed = layout.placement(u.region)
            if placed is None:
                continue
            moment = u.at_failure if u.at_failure is not None else u.at_peak
            when = "at the failure" if u.at_failure is not None else "at the peak"
            if moment is None or not moment.free_map and moment.free:
                continue
            extents = tuple((STRIP_W * (a - placed.start) / u.size, max(STRIP_W * s / u.size, 0.75))
                            for a, s in moment.free_map)
            strips.append(Strip(u.region, fmt_size_read(u.size), when, f"{fmt_part(u.size - moment.free, u.size)} used of {fmt_size_read(u.size)}",
                                f"{moment.fragmentation:.2f}", extents,
                                "nothing free" if not moment.count else
                                f"largest free extent {fmt_size_read(moment.largest)} of {moment.count} free extent{'s' * (moment.count != 1)}"))
        # A verdict is one scenario or several that run at once.
        scenarios = [sc for sc in board.scenarios if sc.name in v.scenarios]
        description = " / ".join(sc.description for sc in scenarios if sc.description)
        groups = sorted({sc.exclusive for sc in scenarios if sc.exclusive})
        exclusive = (f"exclusive group {', '.join(groups)}: never runs at the same time as the group's other scenarios"
                     if groups else "")
        rows.append(VerdictRow(v.name, status, v.met, failure, peaks, tuple(strips), description, exclusive))
    return tuple(rows)


# ---- the text map ---------------------------------------------------------------------------------

BAR = 16
TEXT_WIDTH = 100
_MARK = {"cma": "C", "cma-default": "D", "coherent": "X", "plain": "R", "occupied": "F"}
_SHORT = {"cma": "CMA", "cma-default": "default CMA", "coherent": "no-map pool", "plain": "reserved",
          "occupied": "occupied"}


def text_lines(board: Board, layout: Layout) -> tuple[str, ...]:
    """Every slice of the map, free RAM and holes included, one aligned line each, in address
    order, with the zone limits between them; bars are to scale across the whole span (at least
    one mark), and lines fit 100 columns (a long name goes on under itself)."""
    things = items(board, layout)
    ram = _ram(board)
    low = min([a for a, _ in ram] + [i.start for i in things])
    high = max([b for _, b in ram] + [i.end for i in things])
    rows: list[tuple[int, tuple[str, str, str, str, str]]] = []  # (start, columns)
    cursor = low

    limits = {z.address for z in layout.zones}

    def gap(lo: int, hi: int) -> None:
        # Free RAM and holes between reservations, split where RAM starts or ends and at limits.
        edges = sorted({lo, hi} | {e for a, b in ram for e in (a, b) if lo < e < hi} | {e for e in limits if lo < e < hi})
        for a, b in zip(edges, edges[1:]):
            free = _in(ram, a, b)
            rows.append((a, (f"{fmt_addr(a)}..{fmt_addr(b - 1)}", _bar(b - a, high - low, "." if free else " "),
                             fmt_size_read(b - a), "free RAM" if free else "no RAM", "")))

    for i in things:
        if i.start > cursor:
            gap(cursor, i.start)
        rows.append((i.start, (f"{fmt_addr(i.start)}..{fmt_addr(i.end - 1)}", _bar(i.end - i.start, high - low, _MARK[i.kind]),
                               fmt_size_read(i.end - i.start), _SHORT[i.kind], i.name)))
        cursor = max(cursor, i.end)
    if cursor < high:
        gap(cursor, high)
    widths = [max(len(r[c]) for _, r in rows) for c in range(4)]
    lines: list[tuple[int, int, str]] = []  # (address, zone line first, text)
    for start, r in rows:
        head = "  ".join(r[c].rjust(widths[c]) if c == 2 else r[c].ljust(widths[c]) for c in range(4))
        room = max(TEXT_WIDTH - len(head) - 2, 16)
        # A name longer than the room left goes on under itself, whole: a cut name is one the
        # reader cannot look up.
        pieces = [r[4][i : i + room] for i in range(0, len(r[4]), room)] or [""]
        lines.append((start, 1, (head + "  " + pieces[0]).rstrip()))
        lines += [(start, 1, " " * (len(head) + 2) + piece) for piece in pieces[1:]]
    for z in layout.zones:
        if low < z.address < high:
            mark = f"---- {fmt_addr(z.address)}: {z.what} "
            lines.append((z.address, 0, (mark + "-" * max(TEXT_WIDTH - len(mark), 4))[:TEXT_WIDTH]))
    lines.sort(key=lambda entry: entry[:2])  # a limit goes above the slice that starts at it
    legend = "marks: " + ", ".join(f"{m} {_SHORT[k]}" for k, m in _MARK.items()) + ", . free RAM"
    return tuple(text for _, _, text in lines) + ("", legend)


def _bar(size: int, span: int, mark: str) -> str:
    n = min(BAR, max(1, round(BAR * size / span))) if span else 1
    return "|" + (mark * n).ljust(BAR) + "|"


# ---- the HTML report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    title: str
    description: str
    picture: Picture
    placements: tuple[tuple[str, ...], ...]  # step, region, kind, range, size, reserved by, how
    occupied: tuple[tuple[str, ...], ...]  # name, range, size
    map_rows: tuple[tuple[str, str, str], ...]  # device/kind, rule, what it gets
    verdicts: tuple[VerdictRow, ...]
    summary: str
    suggestions: tuple[tuple[str, str], ...]  # (verdict, what `dtgen size` says)
    notes: tuple[str, ...]


def report(board: Board, layout: Layout, verdicts: tuple[Verdict, ...] = (),
           suggestions: dict[str, str] | None = None) -> Report:
    placements = tuple(
        (str(p.step), p.region, _what(board, p), f"{fmt_addr(p.start)}..{fmt_addr(p.end - 1)}", fmt_size_read(p.size),
         p.method)
        for p in layout.placements)
    occupied = tuple((o.name, f"{fmt_addr(o.start)}..{fmt_addr(o.end - 1)}", fmt_size_read(o.size)) for o in board.occupied)
    origin = board.source.value("").file.replace("\\", "/").rsplit("/", 1)[-1]
    map_rows = tuple((f"{r.device}/{r.kind}", f"{r.rule} ({origin}:{r.rule_line})", gets_text(r)) for r in layout.map)
    missed = [v for v in verdicts if not v.met]
    summary = "" if not verdicts else (
        f"{len(missed)} of {len(verdicts)} verdicts miss their expectation" if missed
        else "the verdict meets its expectation" if len(verdicts) == 1
        else f"all {len(verdicts)} verdicts meet their expectation")
    return Report(f"{board.name}: memory plan", board.description, picture(board, layout), placements, occupied,
                  map_rows, verdict_rows(board, layout, verdicts), summary,
                  tuple(sorted((suggestions or {}).items())), layout.notes)
