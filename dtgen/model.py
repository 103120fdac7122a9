"""The data every stage passes on: frozen dataclasses, no dicts from YAML past the loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:
    from dtgen.mapping import RuleIndex

from dtgen.diagnostics import Span

ConfigValue = Union[int, bool, str]


@dataclass(frozen=True)
class SourceMap:
    """Where each value came from, by JSON pointer: (span of the key, span of the value)."""

    file: str
    places: Mapping[str, tuple[Span, Span]] = field(default_factory=dict, compare=False, hash=False)

    def value(self, pointer: str) -> Span:
        """The span of the value at `pointer`, or of the nearest enclosing value we know."""
        while True:
            if pointer in self.places:
                return self.places[pointer][1]
            if not pointer:
                return Span(self.file, 1, 1)
            pointer = pointer.rsplit("/", 1)[0]

    def key(self, pointer: str) -> Span:
        if pointer in self.places:
            return self.places[pointer][0]
        return self.value(pointer)


@dataclass(frozen=True)
class Kernel:
    arch: str
    version: tuple[int, ...]
    page_size: int
    config: tuple[tuple[str, ConfigValue], ...] = ()
    cma_patch: str = "v6"  # the 2010 out-of-tree CMA patch version, for kernels before 3.5

    def cfg(self, name: str, default: ConfigValue) -> ConfigValue:
        for key, value in self.config:
            if key == name:
                return value
        return default

    def enabled(self, name: str, default: bool = False) -> bool:
        value = self.cfg(name, default)
        return value is True or value in ("y", "m", 1)

    def states(self, name: str) -> bool:
        """Whether the board (or --kconfig) gives the option, rather than dtgen assuming it."""
        return any(key == name for key, _ in self.config)

    def number(self, name: str, default: int) -> int:
        """A numeric option, or `default` when it is unset or not a number (y/n are not)."""
        value = self.cfg(name, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    @property
    def version_text(self) -> str:
        return ".".join(str(v) for v in self.version)


@dataclass(frozen=True)
class DeviceTree:
    base: str | None
    include_dirs: tuple[str, ...]
    address_cells: int
    size_cells: int
    base_has_reserved_memory: bool = False
    base_in: str = "board"  # board: relative to the file naming it; kernel: to the kernel source tree


class _Extent:
    """`end` for the frozen records that have a `start` and a `size` (their fields are their own)."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Bank:
    name: str
    base: int
    size: int
    pointer: str

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class Occupied(_Extent):
    name: str
    start: int
    size: int
    pointer: str
    no_map: bool = False  # a no-map node: marked, not reserved, so no-map regions may overlap it


@dataclass(frozen=True)
class Range(_Extent):
    start: int
    size: int


@dataclass(frozen=True)
class Region:
    name: str
    size: int
    pointer: str
    start: int | None = None
    alignment: int | None = None
    bank: str | None = None
    alloc_ranges: tuple[Range, ...] = ()
    reusable: bool = False
    no_map: bool = False
    default: bool = False
    via: tuple[str, ...] = ("devicetree",)
    private_to: tuple[str, ...] = ()
    allocator: str | None = None
    compatible: str | None = None  # None: the default for the kind; "": write none (`compatible: false`)
    node_name: str | None = None
    unit_address: str | None = None  # None: the default (start in hex, or none); "": none (`unit_address: false`)
    properties: tuple[tuple[str, object], ...] = ()
    description: str = ""
    replaces: str | None = None  # a base-tree node (`&label` or `/path`) this region's node replaces

    @property
    def static(self) -> bool:
        return self.start is not None

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + self.size

    @property
    def kind(self) -> str:
        """What the kernel makes of it: `cma`, `coherent` (a shared-dma-pool that is not
        reusable), or `plain` (a reservation no DMA handler claims)."""
        if self.compatible == "":  # `compatible: false`: no handler claims the node
            return "plain"
        if self.reusable and not self.no_map:
            return "cma"
        if self.no_map or self.compatible == "shared-dma-pool":
            return "coherent"
        return "plain"

    @property
    def reserved_by(self) -> str:
        return self.via[0]


@dataclass(frozen=True)
class DmaWindow:
    """One `dma-ranges` entry of the device's bus, as of_dma_get_range() records it in the
    device's bus_dma_region map: CPU addresses [cpu, cpu + size) seen at bus address `bus`."""

    cpu: int
    bus: int
    size: int


@dataclass(frozen=True)
class Device:
    name: str
    kinds: tuple[str, ...]
    pointer: str
    node: str | None = None
    compatible: str | None = None
    dma_mask_bits: int = 32
    uses: str = "devicetree"
    description: str = ""
    # CPU physical address minus the device's bus address (the parent bus's dma-ranges):
    # the device reaches physical [dma_offset, dma_offset + 2^dma_mask_bits).
    dma_offset: int = 0
    # Whether its binding takes memory-region-names: True writes the kinds, a tuple these names.
    memory_region_names: bool | tuple[str, ...] = False
    # Every entry of the bus's dma-ranges, when it has several (stm32mp15's /ahb has three):
    # then these, not dma_offset, say what the device reaches.
    dma_ranges: tuple[DmaWindow, ...] = ()

    @property
    def windows(self) -> tuple[tuple[int, int], ...]:
        """The physical [start, end) spans the device reaches. With a range map, an address is
        reachable where an entry covers it and its bus address fits the mask
        (dma_coherent_ok(): phys_to_dma() + size - 1 <= the mask; an address no entry covers
        translates to DMA_MAPPING_ERROR)."""
        mask_end = 1 << self.dma_mask_bits
        if not self.dma_ranges:
            return ((self.dma_offset, self.dma_offset + mask_end),)
        out = []
        for w in self.dma_ranges:
            end = min(w.cpu + w.size, w.cpu + mask_end - w.bus) if w.bus < mask_end else w.cpu
            if end > w.cpu:
                out.append((w.cpu, end))
        return tuple(sorted(out))

    @property
    def dma_limit(self) -> int:
        return max((end for _, end in self.windows), default=0)

    @property
    def dma_floor(self) -> int:
        return min((start for start, _ in self.windows), default=0)

    def reaches(self, start: int, end: int) -> bool:
        return any(lo <= start and end <= hi for lo, hi in self.windows)

    @property
    def reach_text(self) -> str:
        if self.dma_ranges:
            spans = ", ".join(f"{lo:#x}..{hi - 1:#x}" for lo, hi in self.windows) or "nothing"
            return f"{self.dma_mask_bits}-bit DMA mask through its bus's dma-ranges (physical {spans})"
        if not self.dma_offset:
            return f"{self.dma_mask_bits}-bit DMA mask ({self.dma_limit:#x})"
        return (f"{self.dma_mask_bits}-bit DMA mask at DMA offset {self.dma_offset:#x} "
                f"(physical {self.dma_offset:#x}..{self.dma_limit - 1:#x})")


@dataclass(frozen=True)
class Rule:
    """One map rule; `device`/`kind` are the patterns with a leading `/kind` already resolved."""

    text: str
    device: str
    kind: str
    regions: tuple[str, ...]
    pointer: str
    # Where the pattern text starts: inside a `cma_map` string, rules point into the string.
    span: Span
    regions_span: Span


@dataclass(frozen=True)
class Buffer:
    width: int
    height: int
    format: str
    planes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alloc:
    device: str
    pointer: str
    kind: str | None = None
    size: int | None = None
    buffer: Buffer | None = None
    count: int = 1
    name: str | None = None
    align: int | None = None


@dataclass(frozen=True)
class Free:
    name: str
    pointer: str


@dataclass(frozen=True)
class Pin:
    """Pages of a CMA area made unmovable (a pinned page) from this step on."""

    region: str
    offset: int
    size: int
    pointer: str


Step = Union[Alloc, Free, Pin]


@dataclass(frozen=True)
class Churn:
    device: str
    kind: str
    ops: int
    live_max: int
    pointer: str
    sizes: tuple[int, ...] = ()
    size_range: tuple[int, int] | None = None
    seed: int = 0


@dataclass(frozen=True)
class Scenario:
    name: str
    pointer: str
    exclusive: str | None = None
    expect: str = "fits"
    steps: tuple[Step, ...] = ()
    churn: Churn | None = None
    description: str = ""


@dataclass(frozen=True)
class ImageFacts:
    """What the booted kernel image and tree decide about arm64's early allocations
    (dtgen/early_boot.py): known to `dtgen boot`, assumed otherwise."""

    text: int  # __pa(_text): where the bootloader put the Image
    text_end: int  # __pa(__init_begin): the end of the block-mapped kernel alias
    tree_bytes: int  # the unflattened tree's one allocation
    pgdat_bytes: int  # roundup(sizeof(pg_data_t), 64), with NUMA
    known: bool  # False: assumed, and said so


@dataclass(frozen=True)
class Board:
    name: str
    kernel: Kernel
    banks: tuple[Bank, ...]
    source: SourceMap
    description: str = ""
    devicetree: DeviceTree | None = None
    occupied: tuple[Occupied, ...] = ()
    regions: tuple[Region, ...] = ()
    devices: tuple[Device, ...] = ()
    rules: tuple[Rule, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    image: ImageFacts | None = None  # not from the board file: `dtgen boot` knows it
    checks: tuple[tuple[str, str], ...] = ()  # the board's own rule settings: (rule id, ignore|warning|error)

    @property
    def address_cells(self) -> int:
        if self.devicetree is not None:
            return self.devicetree.address_cells
        return 2 if self.kernel.arch == "arm64" else 1

    def region(self, name: str) -> Region | None:
        return self._regions_by_name.get(name)

    def device(self, name: str) -> Device | None:
        return self._devices_by_name.get(name)

    # Resolve and simulate look regions and devices up by name for every device kind, and
    # `dtgen size` resolves hundreds of times: a scan per lookup was a tenth of its time on a
    # 64-region, 200-device board. The first of a name wins, as a scan would find it
    # (duplicates are validate's name-unique). cached_property writes the instance __dict__, so
    # it works on a frozen dataclass and is not a field (no effect on ==, hash or replace()).
    @cached_property
    def _regions_by_name(self) -> dict[str, Region]:
        return {r.name: r for r in reversed(self.regions)}

    @cached_property
    def _devices_by_name(self) -> dict[str, Device]:
        return {d.name: d for d in reversed(self.devices)}

    @cached_property
    def rule_index(self) -> "RuleIndex[Rule]":
        """The map rules indexed for first_match() by device (dtgen/mapping.py), made once."""
        from dtgen.mapping import RuleIndex

        return RuleIndex(self.rules)

    def bank(self, name: str) -> Bank | None:
        return next((b for b in self.banks if b.name == name), None)

    def placement_windows(self, region: Region) -> tuple[Range, ...]:
        """Where a region without a fixed start may go: its `alloc_ranges`, else its bank as one
        range (emitted as `alloc-ranges`, or `cma=size@base-end`), else () for anywhere."""
        if region.alloc_ranges:
            return tuple(region.alloc_ranges)
        bank = self.bank(region.bank) if region.bank is not None else None
        return (Range(bank.base, bank.size),) if bank is not None else ()


# ---- resolve: where each region lands, and what each device kind gets ----------------------


@dataclass(frozen=True)
class Placement(_Extent):
    """One reservation made at boot, in the order the kernel makes it.

    `region` is the board's region name; the default area that dma_contiguous_reserve() creates
    from Kconfig has none of its own (`implicit`), and is named `reserved` as the kernel names it.
    """

    region: str
    start: int
    size: int
    alignment: int
    kind: str  # cma | coherent | plain
    no_map: bool
    reserved_by: str  # platform | devicetree | cmdline | kconfig
    method: str  # how it was placed, in words
    step: int  # position in the boot sequence, from 1
    pointer: str
    static: bool = False
    implicit: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """What a device kind really gets: the regions it can reach, in order, and what happens
    when they are full."""

    regions: tuple[str, ...]
    fallback: str  # page-allocator | none | helper-exhausted


@dataclass(frozen=True)
class MapRow:
    device: str
    kind: str
    rule: str  # the pattern text of the rule that matched
    rule_line: int
    chain: tuple[str, ...]
    delivery: Delivery
    pointer: str  # the device kind, for diagnostics


@dataclass(frozen=True)
class ZoneLimit:
    address: int
    what: str


@dataclass(frozen=True)
class EarlyAlloc(_Extent):
    """Memory the kernel takes for itself between the reserved-memory scan and the default CMA
    area (page tables, memmap...): not a region of the board, but it moves the default area."""

    what: str
    start: int
    size: int


@dataclass(frozen=True)
class Layout:
    board: str
    address_cells: int
    size_cells: int
    memory: tuple[tuple[int, int], ...]  # RAM the kernel manages, merged, after lowmem clipping
    placements: tuple[Placement, ...]
    map: tuple[MapRow, ...]
    zones: tuple[ZoneLimit, ...]
    dma_limit: int  # the limit dma_contiguous_reserve() is called with
    notes: tuple[str, ...] = ()
    early: tuple[EarlyAlloc, ...] = ()  # arm64's allocations before the default area
    # What the kernel takes from the default CMA area at boot, before any driver (the DMA
    # atomic pools): (what, bytes), in order.
    boot_allocations: tuple[tuple[str, int], ...] = ()


    def placement(self, region: str) -> Placement | None:
        return next((p for p in self.placements if p.region == region and not p.implicit), None)


# ---- simulate: scenarios run against the placed regions ------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One place a request was tried: a region, or the page allocator (`system`)."""

    region: str
    ok: bool
    address: int | None
    free: int  # bytes free in the region before the attempt
    largest: int  # largest free extent before the attempt, bytes
    note: str = ""
    align: int = 0  # the alignment the allocator applied, bytes


@dataclass(frozen=True)
class Event:
    """One allocation request and what happened to it."""

    scenario: str
    step: int  # the scenario's step number, from 1 (churn: the operation number)
    device: str
    kind: str
    size: int
    align: int  # the alignment the allocator applied, bytes
    label: str  # `frames[3].Y`
    attempts: tuple[Attempt, ...]
    ok: bool
    guaranteed: bool  # False when only the page allocator's luck made it succeed
    churn: bool = False  # `step` counts churn operations

    @property
    def where(self) -> str:
        return f"{'op' if self.churn else 'step'} {self.step}"

    @property
    def address(self) -> int | None:
        return next((a.address for a in self.attempts if a.ok), None)

    @property
    def region(self) -> str | None:
        return next((a.region for a in self.attempts if a.ok), None)


@dataclass(frozen=True)
class Extents:
    """Free space of a region at one moment."""

    free: int
    largest: int
    count: int
    histogram: tuple[tuple[int, int], ...]  # (bucket upper bound in bytes, number of extents)
    # Where the free extents are, (address, size), for the report's picture; only recorded runs
    # (check --explain, --report) keep it.
    free_map: tuple[tuple[int, int], ...] = ()

    @property
    def fragmentation(self) -> float:
        """External fragmentation: 1 - largest free extent / total free (0 when nothing is free)."""
        return 0.0 if self.free == 0 else 1 - self.largest / self.free


@dataclass(frozen=True)
class RegionUse:
    region: str
    allocator: str
    size: int
    peak: int  # high-water mark of bytes in use
    at_failure: Extents | None
    at_end: Extents
    at_peak: Extents | None = None  # when the high-water mark was first reached (recorded runs)


@dataclass(frozen=True)
class Verdict:
    scenarios: tuple[str, ...]  # one scenario, or a combination that can run at once
    order: str  # how concurrent steps were interleaved
    expect: str  # fits | fails
    fits: bool
    failure: Event | None
    requests: int
    not_guaranteed: int  # requests that succeeded only through the page allocator
    regions: tuple[RegionUse, ...]
    events: tuple[Event, ...] = ()  # only when asked for (--explain)

    @property
    def met(self) -> bool:
        return self.fits == (self.expect == "fits")

    @property
    def name(self) -> str:
        return " + ".join(self.scenarios)


# ---- a device tree as `dtgen import` reads it ------------------------------------------------


@dataclass(frozen=True)
class DtProperty:
    name: str
    value: bytes  # the bytes a DTB holds; phandle references are resolved to numbers
    span: Span | None = None  # where the source defined it (None for a DTB)


@dataclass(frozen=True)
class DtNode:
    path: str  # `/reserved-memory/mfc@43000000`; `&mfc` for a fragment's node it does not define
    props: tuple[DtProperty, ...]
    labels: tuple[str, ...] = ()
    span: Span | None = None

    def get(self, name: str) -> bytes | None:
        for prop in self.props:
            if prop.name == name:
                return prop.value
        return None

    def prop(self, name: str) -> DtProperty | None:
        for prop in self.props:
            if prop.name == name:
                return prop
        return None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] or "/"

    @property
    def parent(self) -> str:
        head = self.path.rsplit("/", 1)[0]
        return head or "/"


@dataclass(frozen=True)
class DtTree:
    source: str  # the file the user named
    nodes: tuple[DtNode, ...]  # depth first, the root first
    memreserve: tuple[tuple[int, int], ...] = ()
    reader: str = "dtc"  # dtc | dtb | pydevicetree: said in the written board file

    def node(self, path: str) -> DtNode | None:
        for node in self.nodes:
            if node.path == path:
                return node
        return None
