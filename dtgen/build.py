"""A schema-checked tree becomes the frozen model. Sizes are parsed and range-checked here, where
each value's position is still at hand; nothing after this stage sees YAML."""

from __future__ import annotations

from typing import Callable, Mapping, TypeVar

from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.mapping import PatternError, parse_cma_map, split_pattern
from dtgen.model import (
    Alloc,
    Bank,
    Board,
    Buffer,
    Churn,
    ConfigValue,
    Device,
    DeviceTree,
    DmaWindow,
    Free,
    Kernel,
    Occupied,
    Pin,
    Range,
    Region,
    Rule,
    Scenario,
    SourceMap,
    Step,
)
from dtgen.units import U64_LIMIT, fmt_addr, fmt_size, parse_size
from dtgen.yamlsrc import Value, YMap, YSeq

T = TypeVar("T")


def source_map(tree: YMap, file: str) -> SourceMap:
    places: dict[str, tuple[Span, Span]] = {"": (tree.span, tree.span)}
    todo: list[tuple[str, Value]] = [("", tree)]
    while todo:
        pointer, node = todo.pop()
        if isinstance(node, YMap):
            for key, value in node.items():
                child = f"{pointer}/{_escape(key)}"
                places[child] = (node.key_spans[key], node.value_spans[key])
                todo.append((child, value))
        elif isinstance(node, YSeq):
            for index, value in enumerate(node):
                child = f"{pointer}/{index}"
                places[child] = (node.item_spans[index], node.item_spans[index])
                todo.append((child, value))
    return SourceMap(file, places)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _as_written(value: object) -> str:
    # An unquoted YAML number has lost its spelling; hex is how an address is read.
    return f"{value:#x}" if isinstance(value, int) else str(value)


class _Builder:
    def __init__(self, tree: YMap, file: str) -> None:
        self.tree = tree
        self.source = source_map(tree, file)
        self.problems: list[Diagnostic] = []

    def size(self, node: YMap, key: str, pointer: str, what: str, positive: bool = True) -> int:
        value = parse_size(node[key])
        here = f"{pointer}/{key}"
        span = self.source.value(here)
        if value is None:  # the schema refused it already; keep going with a harmless value
            return 0
        if value < 0 or (positive and value == 0):
            self.problems.append(
                error("size-value", f"{what} must be {'greater than zero' if positive else 'zero or more'}; got {node[key]}", span, here)
            )
        elif value >= U64_LIMIT:
            self.problems.append(
                error("size-value", f"{what} {_as_written(node[key])} does not fit in 64 bits", span, here)
            )
        return value

    def extent(self, start: int, size: int, pointer: str, what: str) -> None:
        if 0 <= start < U64_LIMIT and 0 < size < U64_LIMIT and start + size > U64_LIMIT:
            self.problems.append(
                error(
                    "size-value",
                    f"{what} ({fmt_size(size)} at {fmt_addr(start)}) ends past the 64-bit address space",
                    self.source.value(pointer),
                    pointer,
                )
            )

    def items(self, key: str, make: Callable[[YMap, str], T], parent: YMap | None = None, prefix: str = "") -> tuple[T, ...]:
        node = (parent if parent is not None else self.tree).get(key)
        if not isinstance(node, YSeq):
            return ()
        return tuple(make(item, f"{prefix}/{key}/{i}") for i, item in enumerate(node) if isinstance(item, YMap))


def build(tree: YMap, file: str, kconfig: Mapping[str, ConfigValue]) -> tuple[Board, list[Diagnostic]]:
    b = _Builder(tree, file)
    kernel = _kernel(b, tree["kernel"], kconfig)
    memory = tree["memory"]
    banks = b.items("banks", lambda n, p: _bank(b, n, p), memory, "/memory")
    occupied = b.items("occupied", lambda n, p: _occupied(b, n, p), memory, "/memory")
    regions = b.items("regions", lambda n, p: _region(b, n, p))
    devices = b.items("devices", lambda n, p: _device(b, n, p))
    rules = _rules(b, tree)
    scenarios = b.items("scenarios", lambda n, p: _scenario(b, n, p))
    board = Board(
        name=tree["board"],
        description=tree.get("description", ""),
        kernel=kernel,
        devicetree=_devicetree(tree.get("devicetree"), kernel),
        banks=banks,
        occupied=occupied,
        regions=regions,
        devices=devices,
        rules=rules,
        scenarios=scenarios,
        source=b.source,
        checks=tuple(sorted((str(k), str(v)) for k, v in (tree.get("checks") or {}).items())),
    )
    return board, b.problems


def _kernel(b: _Builder, node: YMap, kconfig: Mapping[str, ConfigValue]) -> Kernel:
    config = dict(node.get("config", {}))
    config.update(kconfig)
    page_size = b.size(node, "page_size", "/kernel", "page_size") if "page_size" in node else 4096
    if page_size not in (4096, 16384, 65536):
        b.problems.append(
            error(
                "size-value",
                f"page_size must be 4K, 16K or 64K; got {fmt_size(page_size)}",
                b.source.value("/kernel/page_size"),
                "/kernel/page_size",
            )
        )
    return Kernel(
        arch=node["arch"],
        version=tuple(int(part) for part in node["version"].split(".")),
        page_size=page_size,
        config=tuple(sorted(config.items())),
        cma_patch=node.get("cma_patch", "v6"),
    )


def _devicetree(node: Value, kernel: Kernel) -> DeviceTree:
    node = node if isinstance(node, YMap) else YMap()
    # arm64 boards use 2 cells; ARM32 ones 1, except LPAE boards such as Keystone (2).
    address = node.get("address_cells", 2 if kernel.arch == "arm64" else 1)
    return DeviceTree(
        base=node.get("base"),
        include_dirs=tuple(node.get("include_dirs", ())),
        address_cells=address,
        size_cells=node.get("size_cells", address),
        base_has_reserved_memory=bool(node.get("base_has_reserved_memory", False)),
        base_in=node.get("base_in", "board"),
    )


def _bank(b: _Builder, n: YMap, p: str) -> Bank:
    bank = Bank(n["name"], b.size(n, "base", p, "bank base", positive=False), b.size(n, "size", p, "bank size"), p)
    b.extent(bank.base, bank.size, p, f"bank `{bank.name}`")
    return bank


def _occupied(b: _Builder, n: YMap, p: str) -> Occupied:
    occ = Occupied(n.get("name", ""), b.size(n, "start", p, "start", positive=False), b.size(n, "size", p, "size"), p,
                   bool(n.get("no_map", False)))
    b.extent(occ.start, occ.size, p, "occupied range")
    return occ


def _region(b: _Builder, n: YMap, p: str) -> Region:
    via = n.get("via", "devicetree")
    private = n.get("private_to", ())
    region = Region(
        name=n["name"],
        size=b.size(n, "size", p, "region size"),
        pointer=p,
        start=b.size(n, "start", p, "region start", positive=False) if "start" in n else None,
        alignment=b.size(n, "alignment", p, "alignment", positive=False) if "alignment" in n else None,
        bank=n.get("bank"),
        alloc_ranges=tuple(
            Range(b.size(r, "start", f"{p}/alloc_ranges/{i}", "alloc range start", positive=False),
                  b.size(r, "size", f"{p}/alloc_ranges/{i}", "alloc range size"))
            for i, r in enumerate(n.get("alloc_ranges", ()))
        ),
        reusable=bool(n.get("reusable", False)),
        no_map=bool(n.get("no_map", False)),
        default=bool(n.get("default", False)),
        via=(via,) if isinstance(via, str) else tuple(via),
        private_to=(private,) if isinstance(private, str) else tuple(private),
        allocator=n.get("allocator"),
        compatible="" if n.get("compatible") is False else n.get("compatible"),
        node_name=n.get("node_name"),
        unit_address="" if n.get("unit_address") is False else n.get("unit_address"),
        properties=tuple(sorted((k, _freeze(v)) for k, v in n.get("properties", {}).items())),
        description=n.get("description", ""),
        replaces=n.get("replaces"),
    )
    if region.start is not None:
        b.extent(region.start, region.size, p, f"region `{region.name}`")
    return region


def _region_names(value: object) -> bool | tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else bool(value)


def _freeze(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _device(b: _Builder, n: YMap, p: str) -> Device:
    return Device(
        name=n["name"],
        kinds=tuple(n["kinds"]),
        pointer=p,
        node=n.get("node"),
        compatible=n.get("compatible"),
        dma_mask_bits=n.get("dma_mask_bits", 32),
        dma_offset=b.size(n, "dma_offset", p, "dma offset", positive=False) if "dma_offset" in n else 0,
        uses=n.get("uses", "devicetree"),
        description=n.get("description", ""),
        memory_region_names=_region_names(n.get("memory_region_names", False)),
        dma_ranges=tuple(_window(b, w, f"{p}/dma_ranges/{i}") for i, w in enumerate(n.get("dma_ranges", ()))
                         if isinstance(w, YMap)),
    )


def _window(b: _Builder, n: YMap, p: str) -> DmaWindow:
    window = DmaWindow(b.size(n, "cpu", p, "cpu address", positive=False), b.size(n, "bus", p, "bus address", positive=False),
                       b.size(n, "size", p, "window size"))
    b.extent(window.cpu, window.size, p, "dma-ranges window")
    return window


def _rules(b: _Builder, tree: YMap) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    previous: str | None = None
    if "cma_map" in tree:
        text = tree["cma_map"]
        base = b.source.value("/cma_map")
        one_line = "\n" not in text

        def at(offset: int) -> Span:
            return Span(base.file, base.line, base.col + offset) if one_line else base

        try:
            entries = parse_cma_map(text)
        except PatternError as exc:
            b.problems.append(error("map-pattern", f"cma_map: {exc}", at(exc.offset), "/cma_map", exc.hint))
            return ()
        for entry in entries:
            try:
                pattern = split_pattern(entry.pattern, previous)
            except PatternError as exc:
                b.problems.append(
                    error("map-pattern", f"cma_map: {exc}", at(entry.offset + exc.offset), "/cma_map", exc.hint)
                )
                continue
            previous = pattern.device
            rules.append(
                Rule(entry.pattern, pattern.device, pattern.kind, entry.regions, "/cma_map", at(entry.offset), at(entry.regions_offset))
            )
        return tuple(rules)
    for index, node in enumerate(tree.get("map", ())):
        pointer = f"/map/{index}"
        span = b.source.value(f"{pointer}/match")
        try:
            pattern = split_pattern(node["match"], previous)
        except PatternError as exc:
            shifted = Span(span.file, span.line, span.col + exc.offset)
            b.problems.append(error("map-pattern", str(exc), shifted, f"{pointer}/match", exc.hint))
            continue
        previous = pattern.device
        rules.append(
            Rule(node["match"], pattern.device, pattern.kind, tuple(node["regions"]), pointer, span, b.source.value(f"{pointer}/regions"))
        )
    return tuple(rules)


def _scenario(b: _Builder, n: YMap, p: str) -> Scenario:
    steps: list[Step] = []
    for i, step in enumerate(n.get("steps", ())):
        sp = f"{p}/steps/{i}"
        if "free" in step:
            steps.append(Free(step["free"], sp))
            continue
        if "pin" in step:
            pin = step["pin"]
            pp = f"{sp}/pin"
            steps.append(Pin(pin["region"], b.size(pin, "offset", pp, "pin offset", positive=False), b.size(pin, "size", pp, "pin size"), pp))
            continue
        a = step["alloc"]
        ap = f"{sp}/alloc"
        buf = a.get("buffer")
        steps.append(
            Alloc(
                device=a["device"],
                pointer=ap,
                kind=a.get("kind"),
                size=b.size(a, "size", ap, "allocation size") if "size" in a else None,
                buffer=Buffer(buf["width"], buf["height"], buf["format"], tuple(buf.get("planes", ()))) if buf else None,
                count=a.get("count", 1),
                name=a.get("as"),
                align=b.size(a, "align", ap, "alignment", positive=False) if "align" in a else None,
            )
        )
    churn = None
    if "churn" in n:
        c = n["churn"]
        cp = f"{p}/churn"
        sizes = tuple(parse_size(v) or 0 for v in c.get("sizes", ()))
        for i, v in enumerate(sizes):
            if v <= 0:
                b.problems.append(error("size-value", "churn sizes must be greater than zero", b.source.value(f"{cp}/sizes/{i}"), f"{cp}/sizes/{i}"))
        rng = c.get("range")
        size_range = (parse_size(rng[0]) or 0, parse_size(rng[1]) or 0) if rng else None
        if size_range and not 0 < size_range[0] <= size_range[1]:
            b.problems.append(error("size-value", "churn range must be [min, max] with 0 < min <= max", b.source.value(f"{cp}/range"), f"{cp}/range"))
        if not sizes and not size_range:
            b.problems.append(error("schema", "churn needs `sizes` or `range`", b.source.value(cp), cp))
        churn = Churn(c["device"], c["kind"], c["ops"], c["live_max"], cp, sizes, size_range, c.get("seed", 0))
    return Scenario(
        name=n["name"],
        pointer=p,
        exclusive=n.get("exclusive"),
        expect=n.get("expect", "fits"),
        steps=tuple(steps),
        churn=churn,
        description=n.get("description", ""),
    )
