"""The device-tree content of a board: the `/reserved-memory` children and each device's
`memory-region`, as data the .dtsi and .dtso templates print.

Facts followed (docs/kernel-research.md section 12.1; drivers/of/of_reserved_mem.c):
- `/reserved-memory` needs `#address-cells`/`#size-cells` equal to the root's and an empty
  `ranges`, else the kernel ignores the whole node; the cells here are the board's (the root's).
- `size` is `#size-cells` long; `alignment` is read with `#address-cells` (keep them equal);
  `alloc-ranges` and `reg` are (address, size) pairs.
- A unit address only on static (`reg`) nodes: hex without 0x or leading zeros, the cells joined.
- The node name becomes the CMA area's name, so two dynamic nodes must not share one.
- A device holds one CMA area and one coherent pool: each kind's `memory-region` entry is the
  first region of its chain (what resolve's delivery says the device gets).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from dtgen.diagnostics import Diagnostic, error, warning
from dtgen.model import Board, Layout, Region

SYSTEM = "system"


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str  # cells | string | flag
    cells: tuple[int, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Node:
    region: str
    label: str
    name: str  # with the unit address on static nodes
    props: tuple[Prop, ...]
    source: str  # `file:line` of the region in the board file
    description: str


@dataclass(frozen=True)
class Consumer:
    device: str
    ref: str  # `&label` or `&{/path}`
    labels: tuple[str, ...]
    names: tuple[str, ...]  # memory-region-names, empty when the binding takes none
    source: str


@dataclass(frozen=True)
class Delete:
    ref: str
    region: str
    source: str


@dataclass(frozen=True)
class Fragment:
    board: str
    origin: str  # the board file, as named in generated comments
    address_cells: int
    size_cells: int
    nodes: tuple[Node, ...]
    consumers: tuple[Consumer, ...]
    deletes: tuple[Delete, ...]
    in_base: bool = False  # the base tree has /reserved-memory: the overlay targets it

    @property
    def has_reg(self) -> bool:
        return any(p.name == "reg" for n in self.nodes for p in n.props)

    @property
    def empty(self) -> bool:
        return not self.nodes and not self.consumers


def where(board: Board, pointer: str, origin: str) -> str:
    """`file:line` of a board-file value, with the file relative to the board file's directory
    (the same on every machine and from every working directory)."""
    span = board.source.value(pointer)
    top = posixpath.dirname(origin.replace("\\", "/"))
    name = span.file.replace("\\", "/")
    rel = posixpath.relpath(name, top or ".") if not posixpath.isabs(name) or posixpath.isabs(top) else posixpath.basename(name)
    return f"{rel}:{span.line}"


def node_name(region: Region) -> str:
    base = region.node_name or region.name.replace("_", "-")
    unit = region.unit_address if region.unit_address is not None else (
        f"{region.start:x}" if region.start is not None else "")
    return f"{base}@{unit}" if unit else base


def node_ref(node: str) -> str:
    return node if node.startswith("&") else f"&{{{node}}}"


def in_devicetree(region: Region) -> bool:
    return region.via[0] == "devicetree"


def _cells(value: int, count: int) -> tuple[int, ...] | None:
    if value >> (32 * count):
        return None
    return tuple((value >> (32 * i)) & 0xFFFFFFFF for i in reversed(range(count)))


def fragment(board: Board, layout: Layout, origin: str) -> tuple[Fragment, list[Diagnostic]]:
    found: list[Diagnostic] = []
    ac, sc = layout.address_cells, layout.size_cells

    def cells(region: Region, what: str, values: list[tuple[int, int]]) -> tuple[int, ...]:
        out: list[int] = []
        for value, count in values:
            got = _cells(value, count)
            if got is None:
                found.append(error(
                    "emit-cells",
                    f"`{region.name}`: {what} {value:#x} does not fit in {count} cell{'s' if count > 1 else ''} "
                    f"(#address-cells = {ac}, #size-cells = {sc})",
                    board.source.value(region.pointer), region.pointer,
                    hint="set devicetree.address_cells/size_cells to the base tree's root values"))
                return ()
            out.extend(got)
        return tuple(out)

    nodes: list[Node] = []
    deletes: list[Delete] = []
    seen: dict[str, str] = {}
    for region in board.regions:
        if not in_devicetree(region):
            continue
        name = node_name(region)
        source = where(board, region.pointer, origin)
        if name in seen:
            found.append(error(
                "emit-node-name",
                f"`{region.name}` and `{seen[name]}` both become the node `{name}`"
                + ("; the node name is the CMA area's name, so two dynamic nodes may not share it" if region.start is None else ""),
                board.source.value(region.pointer + "/node_name" if region.node_name else region.pointer + "/name"),
                region.pointer, hint="give one of them another `node_name`"))
            continue
        seen[name] = region.name
        if region.replaces:
            deletes.append(Delete(node_ref(region.replaces), region.name, source))
        props: list[Prop] = []
        compatible = region.compatible if region.compatible is not None else (
            "shared-dma-pool" if region.reusable or region.no_map else None)
        if compatible:
            props.append(Prop("compatible", "string", text=compatible))
        if region.start is not None:
            props.append(Prop("reg", "cells", cells(region, "reg", [(region.start, ac), (region.size, sc)])))
        else:
            props.append(Prop("size", "cells", cells(region, "size", [(region.size, sc)])))
            if region.alignment:
                # The kernel reads `alignment` with #address-cells (docs/kernel-research.md 10.6, 12.1).
                props.append(Prop("alignment", "cells", cells(region, "alignment", [(region.alignment, ac)])))
            ranges = [(w.start, w.size) for w in board.placement_windows(region)]
            if ranges:
                pairs: list[tuple[int, int]] = []
                for start, size in ranges:
                    pairs += [(start, ac), (size, sc)]
                props.append(Prop("alloc-ranges", "cells", cells(region, "alloc-ranges", pairs)))
        if region.reusable:
            props.append(Prop("reusable", "flag"))
        if region.no_map:
            props.append(Prop("no-map", "flag"))
        if region.default:
            props.append(Prop("linux,cma-default", "flag"))
        for key, value in region.properties:
            if value is True:
                props.append(Prop(key, "flag"))
            elif value is False:
                continue
            elif isinstance(value, int):
                props.append(Prop(key, "cells", (value & 0xFFFFFFFF,) if value < 1 << 32 else _cells(value, 2) or ()))
            elif isinstance(value, tuple):
                props.append(Prop(key, "cells", tuple(v & 0xFFFFFFFF for v in value)))
            else:
                props.append(Prop(key, "string", text=str(value)))
        nodes.append(Node(region.name, region.name, name, tuple(props), source, region.description))

    consumers = _consumers(board, layout, origin, found)
    if ac != sc and any(p.name == "alignment" for n in nodes for p in n.props):
        found.append(warning(
            "emit-cells",
            f"#address-cells ({ac}) differs from #size-cells ({sc}): the kernel reads `alignment` with "
            "#address-cells while the binding says #size-cells",
            board.source.value("/devicetree"), "/devicetree"))
    in_base = board.devicetree is not None and board.devicetree.base_has_reserved_memory
    return Fragment(board.name, posixpath.basename(origin), ac, sc, tuple(nodes), tuple(consumers), tuple(deletes),
                    in_base), found


def _consumers(board: Board, layout: Layout, origin: str, found: list[Diagnostic]) -> list[Consumer]:
    rows = {(r.device, r.kind): r for r in layout.map}
    dt_regions = {r.name for r in board.regions if in_devicetree(r)}
    out: list[Consumer] = []
    for device in board.devices:
        if device.node is None or device.uses != "devicetree":
            continue  # no node to write to; helper devices find their areas through the helper
        entries: list[tuple[str, str]] = []  # (kind, region)
        trailing_gap: str | None = None
        for kind in device.kinds:
            row = rows.get((device.name, kind))
            first = row.delivery.regions[0] if row and row.delivery.regions else SYSTEM
            if first not in dt_regions:
                trailing_gap = trailing_gap or kind
                continue
            if trailing_gap is not None:
                found.append(error(
                    "emit-consumer",
                    f"`{device.name}` kind `{trailing_gap}` gets no device-tree region, but a later kind "
                    f"(`{kind}`) does: memory-region entries are positional, so the entries would shift",
                    board.source.value(device.pointer + "/kinds"), device.pointer + "/kinds",
                    hint="list the kinds without a device-tree region last, or map them to one"))
                break
            entries.append((kind, first))
        if not entries:
            continue
        names: tuple[str, ...] = ()
        if isinstance(device.memory_region_names, tuple):
            if len(device.memory_region_names) != len(device.kinds):
                found.append(error(
                    "emit-consumer",
                    f"`{device.name}` has {len(device.kinds)} kinds and {len(device.memory_region_names)} "
                    "memory_region_names: they pair up one to one",
                    board.source.value(device.pointer + "/memory_region_names"), device.pointer + "/memory_region_names"))
                continue
            names = device.memory_region_names[: len(entries)]
        elif device.memory_region_names:
            names = tuple(kind for kind, _ in entries)
        out.append(Consumer(
            device.name, node_ref(device.node), tuple(region for _, region in entries), names,
            where(board, device.pointer, origin)))
    return out
