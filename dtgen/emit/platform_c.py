"""The mainline platform C (kernels 3.17 and later): the ARM32 machine `.reserve` code for
`via: platform` regions, and the allocation helper that `uses: helper` devices call.

Which calls, by kernel version (docs/kernel-research.md section 12.3):
- CMA areas: cma_declare_contiguous_nid() from 5.7; cma_declare_contiguous() before it, with
  the `name` argument from 4.12 and without it from 3.17 (mm/cma.c appeared in 3.17).
- Other platform regions: memblock_reserve() at a fixed start, plus memblock_mark_nomap() for
  `no_map` (4.5+); a dynamic one with memblock_phys_alloc_range() (5.10+ covered).
- A board-file device whose first region is a platform CMA area gets it as its `cma_area`:
  dev_set_cma_area() before 5.10, where it was removed, and the field itself since.

The helper: a const table of device/kind -> areas in fallback order. A device is identified by
its device-tree node: by path when the board gives one, else by its compatible (which must then
be unique among helper devices); dev_name() only on board-file platforms, where it is the name
the board uses (on a device-tree platform it is like `13400000.codec` and would never match).
Areas are looked up once: device-tree regions through of_reserved_mem_lookup(), whose `priv`
is the region's `struct cma *`; platform regions from the pointers the `.reserve` code kept;
`system` as the default area (dev_get_cma_area(NULL)) and then the page allocator.
"""

from __future__ import annotations

from dataclasses import dataclass

from dtgen.diagnostics import Diagnostic, error
from dtgen.emit.dts import SYSTEM, node_name, where
from dtgen.emit.templating import c_ident
from dtgen.model import Board, Layout, Region

PAGES = "pages"  # the page allocator, last resort of a `system` chain


@dataclass(frozen=True)
class Reservation:
    region: str
    ident: str
    source: str
    description: str
    kind: str  # cma | plain
    size: int
    start: int | None  # fixed start
    windows: tuple[tuple[int, int], ...]  # (base, limit) tried in order, for dynamic regions
    alignment: int
    no_map: bool


@dataclass(frozen=True)
class Area:
    ident: str  # enum suffix
    region: str
    via: str  # devicetree | platform | default | pages
    path: str = ""  # /reserved-memory/... for device-tree regions


@dataclass(frozen=True)
class Route:
    device: str
    kind: str
    by: str  # path | compatible | name
    key: str
    areas: tuple[str, ...]  # Area idents, in order
    source: str


@dataclass(frozen=True)
class Attach:
    device: str
    by: str
    key: str
    region: str
    ident: str


@dataclass(frozen=True)
class KernelApi:
    """The calls of the board's kernel version, as the C text the template prints, so that a
    template overridden with --templates inherits the version rules instead of copying them
    (docs/kernel-research.md 12.3 cites each):
    - cma_declare_contiguous() took the area's name from 4.12 and became _nid() in 5.7;
    - memblock_mark_nomap() from 4.5 (memblock_remove() before);
    - dev->cma_area is set directly from 5.10 (<linux/dma-map-ops.h>; dev_set_cma_area() and
      <linux/dma-contiguous.h> before);
    - cma_alloc() took a gfp_t in 4.13-4.18 and `bool no_warn` from 4.19."""

    version: tuple[int, ...]

    @property
    def nid(self) -> bool:
        return self.version >= (5, 7)

    @property
    def reserve_headers(self) -> tuple[str, ...]:
        """What the reservation code includes: NUMA_NO_NODE comes from <linux/numa.h>."""
        return ("linux/memblock.h", *(("linux/numa.h",) if self.nid else ()), "linux/printk.h")

    @property
    def contiguous_header(self) -> str:
        return "linux/dma-map-ops.h" if self.version >= (5, 10) else "linux/dma-contiguous.h"

    @property
    def nomap(self) -> str:
        return "memblock_mark_nomap" if self.version >= (4, 5) else "memblock_remove"

    def declare(self, base: str, size: str, limit: str, alignment: str, fixed: bool, name: str, area: str) -> str:
        """The cma_declare_contiguous*() call that reserves `area` (a `struct cma *` variable)."""
        args = [base, size, limit, alignment, "0", "true" if fixed else "false"]
        if self.version >= (4, 12):
            args.append(name)
        args.append(f"&{area}")
        if self.nid:
            args.append("NUMA_NO_NODE")
        return f"{'cma_declare_contiguous_nid' if self.nid else 'cma_declare_contiguous'}({', '.join(args)})"

    def set_area(self, device: str, area: str) -> str:
        """The statement that gives `device` the CMA area `area`."""
        return f"{device}->cma_area = {area}" if self.version >= (5, 10) else f"dev_set_cma_area({device}, {area})"

    def cma_alloc(self, cma: str, count: str, align: str, no_warn: str) -> str:
        if self.version >= (4, 19):
            return f"cma_alloc({cma}, {count}, {align}, {no_warn})"
        if self.version >= (4, 13):
            return f"cma_alloc({cma}, {count}, {align}, {no_warn} ? GFP_KERNEL | __GFP_NOWARN : GFP_KERNEL)"
        return f"cma_alloc({cma}, {count}, {align})"


@dataclass(frozen=True)
class PlatformC:
    board: str
    origin: str
    prefix: str
    header: str  # the .h file name
    version: str
    arch: str
    reservations: tuple[Reservation, ...]
    areas: tuple[Area, ...]
    routes: tuple[Route, ...]
    attaches: tuple[Attach, ...]
    api: KernelApi
    max_chain: int

    @property
    def empty(self) -> bool:
        return not self.reservations and not self.routes

    # Which parts of the helper the board needs, decided here rather than in platform.c.j2
    # (users may override it with --templates).
    @property
    def has_devicetree_areas(self) -> bool:
        return any(a.via == "devicetree" for a in self.areas)

    @property
    def has_page_allocator(self) -> bool:
        return any(a.via == "pages" for a in self.areas)

    @property
    def source_stem(self) -> str:
        """The .c file's name without `.c` (the object a Makefile names)."""
        return self.header.removesuffix(".h")


def prefix_of(board: Board) -> str:
    return c_ident(board.name.lower())


def platform_c(board: Board, layout: Layout, origin: str, header: str) -> tuple[PlatformC, list[Diagnostic]]:
    found: list[Diagnostic] = []
    version = board.kernel.version
    api = KernelApi(tuple(version))
    reservations: list[Reservation] = []
    for region in board.regions:
        if region.via[0] != "platform":
            continue
        res = _reservation(board, region, origin, found)
        if res is not None:
            reservations.append(res)

    areas: dict[str, Area] = {}
    routes: list[Route] = []
    rows = {(r.device, r.kind): r for r in layout.map}
    for device in board.devices:
        if device.uses != "helper":
            continue
        by, key = _identity(board, device.name, device.node, device.compatible)
        if not key:
            what = (f"has a `{device.node}` node and no `compatible`: the helper cannot recognise its struct device "
                    "(a label does not exist at run time)" if device.node else
                    "has neither a `node` nor a `compatible`, and the board has a device tree: the helper cannot "
                    "recognise its struct device (dev_name() of a device-tree device is not the board file's name)")
            found.append(error(
                "emit-helper-device", f"helper device `{device.name}` {what}",
                board.source.value(device.pointer + ("/node" if device.node else "/name")), device.pointer,
                hint="give the node as a /path, or add the node's `compatible`"))
            continue
        for kind in device.kinds:
            row = rows.get((device.name, kind))
            if row is None:
                continue
            chain: list[str] = []
            for name in row.delivery.regions:
                area = _area(board, layout, name, device.pointer, found)
                if area is None:
                    continue
                for a in area:
                    areas.setdefault(a.ident, a)
                    if a.ident not in chain:
                        chain.append(a.ident)
            routes.append(Route(device.name, kind, by, key, tuple(chain), where(board, device.pointer, origin)))
    same: dict[str, str] = {}  # compatible -> the first device routed by it
    for r in routes:
        if r.by == "compatible":
            other = same.setdefault(r.key, r.device)
            if other != r.device:
                dev = board.device(r.device)
                assert dev is not None
                found.append(error(
                    "emit-helper-device",
                    f"helper devices `{other}` and `{r.device}` share the compatible `{r.key}`: the "
                    "helper cannot tell them apart",
                    board.source.value(dev.pointer + "/compatible"), dev.pointer,
                    hint="give their nodes as /paths"))

    # A device with no device-tree node is a board-file platform device: nothing but code gives
    # it an area, so BOARD_attach() does, by dev_name(), with the first region of its chain when
    # that is a platform CMA area. (A node's device gets its area from memory-region.)
    attaches: list[Attach] = []
    platform = {r.region: r for r in reservations}
    for device in board.devices:
        if device.uses == "helper" or device.node is not None:
            continue
        first = next((r.delivery.regions[0] for r in layout.map
                      if r.device == device.name and r.delivery.regions), None)
        if first in platform and platform[first].kind == "cma":
            attaches.append(Attach(device.name, "name", device.name, first, platform[first].ident))

    if version < (3, 17) and (reservations or routes):
        found.append(error(
            "emit-version",
            f"platform C is written for kernels 3.17 and later (mm/cma.c); this board is {board.kernel.version_text}",
            board.source.value("/kernel/version"), "/kernel/version"))
    order = {a.ident: i for i, a in enumerate(sorted(areas.values(), key=_area_order(board)))}
    result = PlatformC(
        board=board.name,
        origin=origin.replace("\\", "/").rsplit("/", 1)[-1],
        prefix=prefix_of(board),
        header=header,
        version=board.kernel.version_text,
        arch=board.kernel.arch,
        reservations=tuple(reservations),
        areas=tuple(sorted(areas.values(), key=lambda a: order[a.ident])),
        routes=tuple(routes),
        attaches=tuple(attaches),
        api=api,
        max_chain=max((len(r.areas) for r in routes), default=1),
    )
    return result, found


def _area_order(board: Board):  # type: ignore[no-untyped-def]
    names = [r.name for r in board.regions]

    def key(a: Area) -> tuple[int, int]:
        if a.via == "pages":
            return (2, 0)
        if a.via == "default":
            return (1, 0)
        return (0, names.index(a.region))

    return key


def _identity(board: Board, name: str, node: str | None, compatible: str | None) -> tuple[str, str]:
    if board.devicetree is None and node is None:
        return "name", name
    if node is not None and node.startswith("/"):
        return "path", node
    if compatible:
        return "compatible", compatible
    return "compatible", ""


def _area(board: Board, layout: Layout, name: str, pointer: str, found: list[Diagnostic]) -> list[Area] | None:
    if name == SYSTEM:
        return [Area("default", "", "default"), Area(PAGES, "", "pages")]
    region = board.region(name)
    if region is None:
        return None
    placed = layout.placement(name)
    if region.kind != "cma" or placed is None or placed.kind != "cma":
        found.append(error(
            "emit-helper-region",
            f"the helper reaches its areas with cma_alloc(), but `{name}` is not a CMA area "
            f"({'a coherent pool' if region.no_map else 'a plain reservation'})",
            board.source.value(pointer), pointer,
            hint="map helper devices to reusable regions only"))
        return None
    if region.via[0] == "devicetree":
        return [Area(c_ident(name), name, "devicetree", "/reserved-memory/" + node_name(region))]
    if region.via[0] == "platform":
        return [Area(c_ident(name), name, "platform")]
    return [Area("default", "", "default")]  # the cmdline default area


def _reservation(board: Board, region: Region, origin: str, found: list[Diagnostic]) -> Reservation | None:
    version = board.kernel.version
    kind = "cma" if region.kind == "cma" else "plain"
    if kind == "plain" and region.start is None and version < (5, 10):
        found.append(error(
            "emit-version",
            f"dynamic non-CMA platform region `{region.name}`: dtgen writes memblock_phys_alloc_range(), "
            f"covered from 5.10; this board is {board.kernel.version_text}",
            board.source.value(region.pointer), region.pointer, hint="give it a fixed `start`"))
        return None
    if kind == "plain" and region.reusable:
        return None
    windows: list[tuple[int, int]] = []
    if region.start is None:
        windows = [(w.start, w.end) for w in board.placement_windows(region)] or [(0, 0)]
    return Reservation(
        region=region.name,
        ident=c_ident(region.name),
        source=where(board, region.pointer, origin),
        description=region.description,
        kind=kind,
        size=region.size,
        start=region.start,
        windows=tuple(windows),
        alignment=region.alignment or 0,
        no_map=region.no_map,
    )
