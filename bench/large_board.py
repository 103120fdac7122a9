#!/usr/bin/env python3
"""A large, valid, realistic board file for the large-input benchmark and tests.

`large_board(regions=64, devices=200, rules=500, scenarios=50, seed=0)` returns the YAML text of
an arm64 Linux 6.12 board with exactly that many regions, devices, map rules and scenarios; the
same arguments give the same bytes on every machine and Python version (the only randomness is
the SplitMix64 below, seeded by `seed`). `python3 bench/large_board.py > big.yaml` writes it.

It lives in bench/ because it is first of all the benchmark's input (bench/bench_large.py);
tests/test_large.py puts bench/ on sys.path to prove that what the benchmark measures is a
valid board that resolves, fits and emits, rather than an error path.

The kernel limits the validator enforces shape it:
- at most 64 regions: MAX_RESERVED_REGIONS is 64 on 6.12 and every node (static or dynamic)
  takes a slot (drivers/of/of_reserved_mem.c before 6.13);
- CONFIG_CMA_AREAS is set to the number of CMA areas rounded up to a multiple of 8 (MAX_CMA_AREAS
  = CONFIG_CMA_AREAS since 6.9); one region is `linux,cma-default`, so no Kconfig default area
  takes a slot;
- CONFIG_HUGETLB_PAGE with 4K pages: pageblock order 9, so every CMA area's size and fixed start
  are multiples of 2 MiB;
- devices with a 32-bit DMA mask only map to regions that must lie below 4 GiB (a fixed start
  there, a `bank` or `alloc_ranges` there): `dma-reach`;
- `uses: devicetree` devices get one region per kind (a longer chain is a
  `fallback-undeliverable` warning); fallback chains belong to `uses: helper` devices, whose
  chains name only CMA areas or `system` (`emit-helper-region`) and whose compatibles are unique
  (`emit-helper-device`); every CMA area and coherent pool is offered to some device
  (`region-unused`); no rule is shadowed by an earlier one (`map-shadowed`).

Why the scenarios fit, or fail, by construction (arithmetic, not dtgen's answer):
- every request is budgeted at twice the next power of two of its size: a coherent pool hands
  out a whole naturally aligned block of 2^get_order(size) pages (kernel/dma/coherent.c), and a
  CMA request takes PAGE_ALIGN(size) at an alignment of at most that same power of two
  (mm/cma.c), so the alignment gap before it is smaller than the block;
- one scenario spends at most a quarter of each region it touches, and a churn at most an eighth
  (`live_max` times twice its largest size); scenarios that can run together are one member of
  an exclusive group plus the ungrouped scenarios of the same cluster, so no region is ever more
  than half committed and a first-fit or bitmap allocator always finds room;
- an `expect: fails` scenario asks a coherent pool of P MiB for P + 1 blocks of 1 MiB through a
  `uses: devicetree` device: the total is more than the pool, and a coherent pool has no fallback
  (dma_alloc_from_dev_coherent() does not let a request go elsewhere).

How the pieces hang together: regions (except the default area) are dealt to C clusters, one per
exclusive group; a device belongs to a cluster and maps only to that cluster's regions; a group's
scenarios use only its cluster's devices. Scenarios in one group never run together, and
scenarios of different clusters share no region, so the combinations `dtgen check` runs are small
in number: each ungrouped scenario with the members of its cluster's group, and the scenarios on
the default area with each other.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4 * KiB
CMA_GRANULE = 2 * MiB  # arm64, 4K pages, CONFIG_HUGETLB_PAGE: pageblock order 9
LOW_LIMIT = 4 * GiB  # a 32-bit DMA mask reaches [0, 4 GiB)
MAX_REGIONS = 64  # MAX_RESERVED_REGIONS on 6.12, every node counted

# RAM in four banks, two below 4 GiB (the 32-bit-reachable ones) and two above.
BANKS = (
    ("dram0", 0x4000_0000, 1 * GiB),
    ("dram1", 0x8000_0000, 2 * GiB),
    ("dram2", 0x8_8000_0000, 4 * GiB),
    ("dram3", 0xA_0000_0000, 2 * GiB),
)
# Firmware the kernel must not touch: TF-A at the bottom of dram0, OP-TEE's secure RAM.
OCCUPIED = (
    (0x4000_0000, 2 * MiB, "TF-A BL31 (firmware, /memreserve/)"),
    (0xBE00_0000, 32 * MiB, "OP-TEE secure RAM"),
)
# alloc-ranges windows: one below 4 GiB (in dram1), one above (in dram2).
WINDOW_LOW = (0xA000_0000, 256 * MiB)
WINDOW_HIGH = (0x9_0000_0000, 1 * GiB)

# Region classes, dealt in this order (index 0 of the board is the default CMA area). The mix:
# CMA areas in a bank, in alloc-ranges windows, unconstrained (top-down, above 4 GiB) and fixed;
# coherent pools likewise, some with large alignments, some fixed and private; plain reservations.
CYCLE = (
    "cma_bank", "pool_bank", "cma_win", "pool_free", "cma_free", "pool_align", "pool_fixed", "cma_bank",
    "pool_win", "cma_fixed", "pool_bank", "rsv", "cma_win", "pool_free", "carve", "pool_bank",
)
FIXED_BASE = {  # where each fixed class starts, and the stride between its regions
    "pool_fixed": (0x5000_0000, 16 * MiB),  # dram0
    "carve": (0x5800_0000, 16 * MiB),  # dram0
    "cma_fixed": (0xD000_0000, 64 * MiB),  # dram1
}

# Device families: kinds in the order of their memory-region entries; `helper` drivers call the
# generated C helper and get fallback chains; `names` writes memory-region-names.
FAMILIES = (
    ("vdec", ("left", "right", "fw"), "devicetree", False),
    ("venc", ("src", "bitstream", "fw"), "devicetree", False),
    ("isp", ("raw", "stats", "params"), "devicetree", True),
    ("csi", ("frames", "meta", "embedded"), "devicetree", True),
    ("disp", ("fb", "cursor", "overlay"), "devicetree", False),
    ("gpu", ("bulk", "control", "shader"), "helper", False),
    ("npu", ("weights", "act", "cmd"), "helper", False),
    ("dsp", ("code", "data", "heap"), "helper", False),
    ("jpeg", ("src", "dst", "tables"), "devicetree", False),
    ("g2d", ("src", "dst", "cmd"), "devicetree", False),
    ("wlan", ("fw", "rx", "tx"), "devicetree", False),
)
DMA_BITS = (32, 64, 40, 32, 36)
# Simple devices matched by wildcard rules rather than one rule per kind.
SIMPLE = (("aud", "aud*/*"), ("ipc", "ipc??/*"))
GROUP_NAMES = ("video", "camera", "display", "graphics", "ml", "audio_dsp", "imaging", "modem", "network", "storage")


class SplitMix64:
    """The same stream on every Python version (random.Random's helpers may change)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFF_FFFF_FFFF_FFFF

    def next(self) -> int:
        self.state = (self.state + 0x9E37_79B9_7F4A_7C15) & 0xFFFF_FFFF_FFFF_FFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & 0xFFFF_FFFF_FFFF_FFFF
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & 0xFFFF_FFFF_FFFF_FFFF
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def pick(self, items):  # type: ignore[no-untyped-def]
        return items[self.below(len(items))]


@dataclass
class Region:
    name: str
    cls: str
    size: int
    kind: str  # cma | coherent | plain
    low: bool  # certainly below 4 GiB once placed
    fields: str  # the YAML flow mapping's fields after name and size
    cluster: int = -1
    private_to: str | None = None


@dataclass
class Device:
    name: str
    family: str
    kinds: tuple[str, ...]
    uses: str
    bits: int
    names: bool
    cluster: int
    chains: dict[str, list[str]] = field(default_factory=dict)


def size_text(n: int) -> str:
    for unit, suffix in ((GiB, "G"), (MiB, "M"), (KiB, "K")):
        if n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def cost(size: int) -> int:
    """What a request may take from a pool at worst: its block and the alignment gap before it."""
    return 2 * pow2_at_least(-(-size // PAGE) * PAGE)


# ---- regions -------------------------------------------------------------------------------


def _regions(count: int, rng: SplitMix64) -> list[Region]:
    if not 1 <= count <= MAX_REGIONS:
        raise ValueError(f"regions must be 1..{MAX_REGIONS} (MAX_RESERVED_REGIONS on 6.12), not {count}")
    out = [Region("linux_cma", "default", 128 * MiB, "cma", True, "reusable: true, default: true, bank: dram1")]
    fixed_seen: dict[str, int] = {}
    for index in range(1, count):
        cls = CYCLE[(index - 1) % len(CYCLE)]
        name = f"{cls.replace('_', '')}{index:02d}"
        bank = "dram0" if index % 2 else "dram1"
        if cls == "cma_bank":
            size = CMA_GRANULE * (4 + rng.below(9))  # 8..24 MiB
            out.append(Region(name, cls, size, "cma", True, f"reusable: true, bank: {bank}"))
        elif cls == "cma_win":
            size = CMA_GRANULE * (4 + rng.below(9))
            low = index % 3 != 0
            start, span = WINDOW_LOW if low else WINDOW_HIGH
            ranges = f"{{start: {start:#x}, size: {size_text(span)}}}"
            if not low:  # two windows tried in order: it may land below 4 GiB or above
                ranges = f"{{start: {WINDOW_HIGH[0]:#x}, size: {size_text(WINDOW_HIGH[1])}}}, " \
                         f"{{start: {WINDOW_LOW[0]:#x}, size: {size_text(WINDOW_LOW[1])}}}"
            out.append(Region(name, cls, size, "cma", low, f"reusable: true, alloc_ranges: [{ranges}]"))
        elif cls == "cma_free":
            size = CMA_GRANULE * (8 + rng.below(17))  # 16..48 MiB, top-down above 4 GiB
            out.append(Region(name, cls, size, "cma", False, "reusable: true"))
        elif cls == "cma_fixed":
            base, stride = FIXED_BASE[cls]
            start = base + stride * fixed_seen.setdefault(cls, 0)
            fixed_seen[cls] += 1
            size = 32 * MiB
            out.append(Region(name, cls, size, "cma", True, f"start: {start:#x}, reusable: true"))
        elif cls == "pool_bank":
            size = MiB * (4 + rng.below(13))  # 4..16 MiB
            align = size_text(64 * KiB << rng.below(5))
            out.append(Region(name, cls, size, "coherent", True, f"alignment: {align}, bank: {bank}, no_map: true"))
        elif cls == "pool_win":
            size = MiB * (4 + rng.below(5))
            start, span = WINDOW_LOW
            out.append(Region(name, cls, size, "coherent", True,
                              f"no_map: true, alloc_ranges: [{{start: {start:#x}, size: {size_text(span)}}}]"))
        elif cls == "pool_free":
            size = MiB * (2 + rng.below(15))
            out.append(Region(name, cls, size, "coherent", False, "no_map: true"))
        elif cls == "pool_align":
            size = MiB * (8 + rng.below(9))
            align = size_text(MiB << rng.below(3))
            out.append(Region(name, cls, size, "coherent", False, f"alignment: {align}, no_map: true"))
        elif cls == "pool_fixed":
            base, stride = FIXED_BASE[cls]
            start = base + stride * fixed_seen.setdefault(cls, 0)
            fixed_seen[cls] += 1
            size = MiB * (4 + 4 * rng.below(2))
            out.append(Region(name, cls, size, "coherent", True, f"start: {start:#x}, no_map: true"))
        elif cls == "rsv":
            size = MiB * (1 + rng.below(4))
            out.append(Region(name, cls, size, "plain", False, "alignment: 64K"))
        else:  # carve: a no-map carve-out its driver maps itself (no DMA pool claims it)
            base, stride = FIXED_BASE[cls]
            start = base + stride * fixed_seen.setdefault(cls, 0)
            fixed_seen[cls] += 1
            size = 2 * MiB
            out.append(Region(name, cls, size, "plain", True, f"start: {start:#x}, no_map: true, compatible: false"))
    return out


# ---- devices and map rules -----------------------------------------------------------------


def _kind_counts(detailed: int, exact_rules: int) -> list[int]:
    """Kinds per detailed device so that they add up to the exact rules (one rule per kind)."""
    if detailed == 0:
        return []
    base, extra = divmod(exact_rules, detailed)
    return [base + (1 if i < extra else 0) for i in range(detailed)]


def _devices(count: int, rules: int, clusters: int) -> tuple[list[Device], list[tuple[str, str]]]:
    """Detailed devices (one exact rule per kind) and simple ones (matched by the wildcard rules
    that close the map), with the wildcard rules."""
    wildcards = [(pattern, prefix) for prefix, pattern in SIMPLE] + [("*/*", "")]
    simple_count = min(count // 10, count)
    detailed_count = count - simple_count
    exact = rules - len(wildcards)
    if exact < detailed_count:
        raise ValueError(f"{rules} rules cannot give each of {detailed_count} devices a rule of its own "
                         f"and keep {len(wildcards)} wildcard rules")
    if detailed_count == 0 and exact:
        raise ValueError("exact rules need devices")
    counts = _kind_counts(detailed_count, exact)
    devices: list[Device] = []
    per_family: dict[str, int] = {}
    for i in range(detailed_count):
        family, kinds, uses, names = FAMILIES[i % len(FAMILIES)]
        n = per_family.get(family, 0)
        per_family[family] = n + 1
        wanted = counts[i]
        all_kinds = kinds + tuple(f"buf{k}" for k in range(len(kinds), wanted))
        devices.append(Device(f"{family}{n}", family, all_kinds[:wanted], uses,
                              DMA_BITS[(i // len(FAMILIES) + i) % len(DMA_BITS)], names, i % clusters))
    for j in range(simple_count):
        prefix = SIMPLE[j % len(SIMPLE)][0]
        # ipc devices are named with two digits, as the `ipc??/*` rule expects
        name = f"aud{j // 2}" if prefix == "aud" else f"ipc{j // 2:02d}"
        devices.append(Device(name, prefix, ("dma",), "devicetree", 32, False, -1))
    return devices, wildcards


def _assign(regions: list[Region], devices: list[Device], clusters: int) -> None:
    """Deal regions to clusters, then give every detailed device kind a chain inside its cluster:
    round-robin over the regions it may use, so that every pool is offered to someone."""
    usable = [r for r in regions[1:] if r.kind != "plain"]
    for i, region in enumerate(usable):
        region.cluster = i % clusters
    turn = [0] * clusters
    for device in devices:
        if device.cluster < 0:
            continue
        mine = [r for r in usable if r.cluster == device.cluster]
        if device.uses == "helper" and not any(r.kind == "cma" and (r.low or device.bits > 32) for r in mine):
            device.uses = "devicetree"  # no CMA area it can reach in its cluster: no helper
        if not any(r.low or device.bits > 32 for r in mine):
            device.bits = 64
        for kind in device.kinds:
            eligible = [r for r in mine
                        if (r.low or device.bits > 32)
                        and (device.uses == "devicetree" or r.kind == "cma")
                        and r.private_to in (None, device.name)]
            # Each cluster walks its own regions in turn, so every one comes up.
            primary = eligible[turn[device.cluster] % len(eligible)]
            turn[device.cluster] += 1
            if primary.cls == "pool_fixed" and primary.private_to is None:
                primary.private_to = device.name
            chain = [primary.name]
            if device.uses == "helper":
                second = [r for r in eligible if r.kind == "cma" and r is not primary]
                if second:
                    chain.append(second[0].name)
                if (len(device.chains) + len(device.name)) % 3 == 0:
                    chain.append("system")  # then the default CMA area and the page allocator
            device.chains[kind] = chain
    # A private pool is private only if the one device it went to is all that maps to it.
    for region in regions:
        if region.private_to is not None:
            users = {d.name for d in devices for c in d.chains.values() if region.name in c}
            if users != {region.private_to}:
                region.private_to = None
    unused = [r.name for r in usable if not any(r.name in c for d in devices for c in d.chains.values())]
    if unused:
        # Too few device kinds per cluster for its pools: a pool no one uses is region-unused.
        raise ValueError(f"{len(unused)} pools would be left unused ({', '.join(unused[:3])}, ...): "
                         "ask for more rules or devices, or fewer regions")


# ---- scenarios ----------------------------------------------------------------------------


@dataclass
class Pair:
    device: Device
    kind: str
    region: Region  # the first region of the chain: where every request of a scenario lands


class Budget:
    """What one scenario may still spend of each region (a quarter of it)."""

    def __init__(self, share: int) -> None:
        self.share = share
        self.spent: dict[str, int] = {}

    def room(self, region: Region) -> int:
        return region.size // self.share - self.spent.get(region.name, 0)

    def take(self, region: Region, amount: int) -> None:
        self.spent[region.name] = self.spent.get(region.name, 0) + amount


def _pairs(devices: list[Device], regions: dict[str, Region], cluster: int) -> list[Pair]:
    """Device kinds of a cluster whose requests stay in the cluster (no `system` in the chain)."""
    out = []
    for device in devices:
        if device.cluster != cluster:
            continue
        for kind in device.kinds:
            chain = device.chains[kind]
            if "system" in chain:
                continue
            out.append(Pair(device, kind, regions[chain[0]]))
    return out


def _alloc_by_size(pair: Pair, budget: Budget, rng: SplitMix64, name: str) -> str | None:
    # No `align:` steps: mainline's allocation APIs take none (the align-ignored warning).
    room = budget.room(pair.region)
    size = pow2_at_least(max(PAGE, pair.region.size // 64)) >> rng.below(3)
    size = max(PAGE, size - (PAGE if rng.below(2) else 0))  # not always a power of two
    each = cost(size)
    count = min(1 + rng.below(4), room // each)
    if count < 1:
        return None
    budget.take(pair.region, count * each)
    extra = ""
    # A device with several kinds must say which (scenario-unknown-kind); one kind may be implied.
    kind = f", kind: {pair.kind}" if len(pair.device.kinds) > 1 else ""
    count_text = f", count: {count}" if count > 1 else ""
    return f"      - alloc: {{device: {pair.device.name}{kind}, size: {size_text(size)}{count_text}, as: {name}{extra}}}"


# Frame sizes (bytes) from the README's formulas: NV12 w*h + 2*ceil(w/2)*ceil(h/2);
# XRGB8888 4*w*h; NV12MT planes Y = A(A(w,128)*A(h,32), 8192), UV = A(A(w,128)*A(h/2,32), 8192).
def _align(x: int, a: int) -> int:
    return -(-x // a) * a


def frame_sizes(fmt: str, w: int, h: int) -> tuple[int, ...]:
    if fmt == "NV12":
        return (w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2),)
    if fmt == "XRGB8888":
        return (4 * w * h,)
    if fmt == "NV12MT":
        return (_align(_align(w, 128) * _align(h, 32), 8192), _align(_align(w, 128) * _align(h // 2, 32), 8192))
    raise ValueError(fmt)


DIMS = ((1920, 1080), (1280, 720), (640, 480), (320, 240), (176, 144))


def _alloc_frames(pairs: list[Pair], budget: Budget, rng: SplitMix64, name: str) -> str | None:
    """A buffer allocation: NV12MT split over a codec's two kinds when the cluster has one,
    else a single-buffer format on one kind; the largest frame size whose copies fit."""
    split = [p for p in pairs if p.kind == "left" and "right" in p.device.kinds]
    if split:
        left = split[0]
        right = next(p for p in pairs if p.device is left.device and p.kind == "right")
        for w, h in DIMS:
            y, uv = frame_sizes("NV12MT", w, h)
            if right.region is left.region:
                count = budget.room(left.region) // (cost(y) + cost(uv))
            else:
                count = min(budget.room(right.region) // cost(y), budget.room(left.region) // cost(uv))
            count = min(4, count)
            if count >= 1:
                budget.take(right.region, count * cost(y))
                budget.take(left.region, count * cost(uv))
                return (f"      - alloc: {{device: {left.device.name}, buffer: {{width: {w}, height: {h}, "
                        f"format: NV12MT, planes: [right, left]}}, count: {count}, as: {name}}}")
    pair = pairs[rng.below(len(pairs))]
    fmt = ("NV12", "XRGB8888")[rng.below(2)]
    for w, h in DIMS:
        (size,) = frame_sizes(fmt, w, h)
        count = min(3, budget.room(pair.region) // cost(size))
        if count >= 1:
            budget.take(pair.region, count * cost(size))
            return (f"      - alloc: {{device: {pair.device.name}, kind: {pair.kind}, buffer: {{width: {w}, "
                    f"height: {h}, format: {fmt}}}, count: {count}, as: {name}}}")
    return None


def _steps_scenario(name: str, group: str | None, pairs: list[Pair], rng: SplitMix64, variant: str,
                    description: str) -> list[str]:
    budget = Budget(4)
    lines = [f"  - name: {name}", f"    description: {description}"]
    if group:
        lines.append(f"    exclusive: {group}")
    steps: list[str] = []
    freed: list[str] = []
    if variant == "pinned":
        cma = [p for p in pairs if p.region.kind == "cma"]
        if cma:
            pair = cma[rng.below(len(cma))]
            # An unmovable page 64 KiB below the top of the area: the lowest-address first
            # fit never reaches it while the area is at most half used.
            steps.append(f"      - pin: {{region: {pair.region.name}, offset: {size_text(pair.region.size - 64 * KiB)}, size: 4K}}")
    if variant == "frames":
        line = _alloc_frames(pairs, budget, rng, "frames")
        if line:
            steps.append(line)
            freed.append("frames")
    for n in range(2 + rng.below(3)):
        pair = pairs[rng.below(len(pairs))]
        label = f"buf{n}"
        line = _alloc_by_size(pair, budget, rng, label)
        if line:
            steps.append(line)
            freed.append(label)
    if not steps or not freed:
        pair = pairs[0]
        steps.append(f"      - alloc: {{device: {pair.device.name}, kind: {pair.kind}, size: 4K, as: one}}")
        freed.append("one")
    # Freed in allocation order or in reverse (drivers do both).
    order = freed if rng.below(2) else freed[::-1]
    steps.extend(f"      - free: {label}" for label in order)
    return lines + ["    steps:"] + steps


def _fails_scenario(name: str, group: str, pair: Pair) -> list[str]:
    pool = pair.region
    blocks = pool.size // MiB + 1
    return [
        f"  - name: {name}",
        "    description: >-",
        f"      Documents the limit of `{pool.name}` ({size_text(pool.size)}): {blocks} blocks of 1 MiB",
        f"      through {pair.device.name}/{pair.kind} do not fit, and a coherent pool has no fallback.",
        f"    exclusive: {group}",
        "    expect: fails",
        "    steps:",
        f"      - alloc: {{device: {pair.device.name}, kind: {pair.kind}, size: 1M, count: {blocks}, as: all}}",
        "      - free: all",
    ]


def _churn_scenario(name: str, pair: Pair, rng: SplitMix64, with_steps: bool) -> list[str]:
    live_max = 4 + rng.below(5)
    largest = max(PAGE, pow2_at_least(pair.region.size // (16 * live_max)) // 2)  # live_max * cost <= size / 8
    lines = [f"  - name: {name}",
             f"    description: background {pair.device.name}/{pair.kind} traffic, at most {live_max} buffers alive"]
    if with_steps:
        size = max(PAGE, largest // 2)
        lines += ["    steps:",
                  f"      - alloc: {{device: {pair.device.name}, kind: {pair.kind}, size: {size_text(size)}, as: setup}}",
                  "      - free: setup"]
    ops = 100 * (1 + rng.below(10))  # small: 100..1000 operations
    if rng.below(2):
        sizes = sorted({max(PAGE, largest >> s) for s in range(3)})
        what = f"sizes: [{', '.join(size_text(s) for s in sizes)}]"
    else:
        what = f"range: [4K, {size_text(largest)}]"
    lines.append(f"    churn: {{device: {pair.device.name}, kind: {pair.kind}, {what}, ops: {ops}, "
                 f"live_max: {live_max}, seed: {rng.below(1000)}}}")
    return lines


def _scenarios(count: int, devices: list[Device], regions: list[Region], clusters: int,
               rng: SplitMix64) -> list[list[str]]:
    by_name = {r.name: r for r in regions}
    groups = count // 5
    grouped = 4 * groups
    out: list[list[str]] = []
    variants = ("sized", "frames", "pinned", "limit")
    for cluster in range(clusters):
        if not _pairs(devices, by_name, cluster):
            raise ValueError(f"no device of cluster {cluster} has a region of its own: "
                             f"give at least {clusters} devices a rule each")
    for g in range(groups):
        group = GROUP_NAMES[g] if g < len(GROUP_NAMES) else f"group{g}"
        pairs = _pairs(devices, by_name, g % clusters)
        for variant in variants:
            name = f"{group.replace('_', '-')}-{variant}"
            if variant == "limit":
                # A uses: devicetree device on a coherent pool: the documented overcommit.
                limit = [p for p in pairs if p.device.uses == "devicetree" and p.region.kind == "coherent"]
                if limit and g % 2 == 0:
                    out.append(_fails_scenario(name, group, limit[0]))
                    continue
                variant = "sized"
            out.append(_steps_scenario(name, group, pairs, rng, variant,
                                       f"{variant} buffers of the {group} use case, then freed"))
    ungrouped = count - grouped
    default_users = min(2, ungrouped)
    simple = [d for d in devices if d.cluster < 0]
    for u in range(ungrouped - default_users):
        cluster = u % clusters
        pairs = _pairs(devices, by_name, cluster)
        pair = pairs[rng.below(len(pairs))]
        out.append(_churn_scenario(f"background-{u}", pair, rng, with_steps=u % 3 == 2))
    default = regions[0]
    for u in range(default_users):
        # Simple devices reach the default area through the wildcard rules (`system`, or the
        # region by name); without simple devices, any device of cluster 0 will do.
        device = simple[u % len(simple)] if simple else next(d for d in devices if d.cluster == 0)
        kind = device.kinds[0]
        if not simple:
            pair = _pairs(devices, by_name, 0)[0]
            device, kind, region = pair.device, pair.kind, pair.region
        else:
            region = default
        budget = Budget(8)
        size = pow2_at_least(region.size // 64)
        count_ok = max(1, min(4, budget.room(region) // cost(size)))
        out.append([
            f"  - name: shared-{u}",
            f"    description: {device.name} buffers from the default CMA area",
            "    steps:",
            f"      - alloc: {{device: {device.name}, kind: {kind}, size: {size_text(size)}, count: {count_ok}, as: bufs}}",
            "      - free: bufs",
        ])
    return out


# ---- the board ----------------------------------------------------------------------------


def large_board(regions: int = 64, devices: int = 200, rules: int = 500, scenarios: int = 50, seed: int = 0) -> str:
    """YAML text of a valid board with exactly these counts (see the module docstring)."""
    if devices < 1 or scenarios < 0:
        raise ValueError("at least one device; scenarios >= 0")
    rng = SplitMix64(seed)
    region_list = _regions(regions, rng)
    clusters = max(1, min(scenarios // 5, len([r for r in region_list[1:] if r.kind != "plain"])) or 1)
    if not any(r.kind != "plain" for r in region_list[1:]):
        raise ValueError("too few regions for any cluster (need at least one pool besides the default area)")
    device_list, wildcards = _devices(devices, rules, clusters)
    _assign(region_list, device_list, clusters)
    cma_count = sum(1 for r in region_list if r.kind == "cma")
    cma_areas = max(8, -(-cma_count // 8) * 8)

    out = [
        "# yaml-language-server: $schema=../schemas/board.schema.json",
        f"# Generated by bench/large_board.py: large_board(regions={regions}, devices={devices}, "
        f"rules={rules}, scenarios={scenarios}, seed={seed}).",
        f"board: large-{regions}r-{devices}d-{rules}m-{scenarios}s-{seed}",
        "description: >-",
        "  A large generated arm64 board: four banks, CMA areas and coherent pools in banks, windows,",
        "  fixed and free, carve-outs; codec, camera, display, GPU, NPU and DSP devices with per-kind",
        "  map rules and fallback chains; use cases in exclusive groups and background churn.",
        "kernel:",
        "  arch: arm64",
        '  version: "6.12"',
        "  page_size: 4K",
        "  config:",
        f"    CONFIG_CMA_AREAS: {cma_areas}",
        "    CONFIG_HUGETLB_PAGE: true",
        "    CONFIG_DMA_CMA: true",
        "devicetree: {address_cells: 2, size_cells: 2}",
        "memory:",
        "  banks:",
    ]
    out += [f"    - {{name: {name}, base: {base:#x}, size: {size_text(size)}}}" for name, base, size in BANKS]
    out.append("  occupied:")
    out += [f"    - {{start: {start:#x}, size: {size_text(size)}, description: \"{what}\"}}" for start, size, what in OCCUPIED]
    out.append("regions:")
    for region in region_list:
        private = f", private_to: [{region.private_to}]" if region.private_to else ""
        out.append(f"  - {{name: {region.name}, size: {size_text(region.size)}, {region.fields}{private}}}")
    out.append("devices:")
    for device in device_list:
        fields = [f"name: {device.name}", f'node: "&{device.name}"', f'compatible: "acme,{device.family}-{device.name[len(device.family):]}"',
                  f"kinds: [{', '.join(device.kinds)}]", f"dma_mask_bits: {device.bits}"]
        if device.uses == "helper":
            fields.append("uses: helper")
        if device.names:
            fields.append("memory_region_names: true")
        out.append(f"  - {{{', '.join(fields)}}}")
    out.append("map:")
    for device in device_list:
        for i, kind in enumerate(device.kinds):
            if device.cluster < 0:
                continue
            # The second rule of a device uses the `/kind` form (the previous rule's device).
            match = f"/{kind}" if i == 1 else f"{device.name}/{kind}"
            out.append(f'  - {{match: "{match}", regions: [{", ".join(device.chains[kind])}]}}')
    for pattern, prefix in wildcards:
        target = region_list[0].name if prefix == "aud" else "system"
        out.append(f'  - {{match: "{pattern}", regions: [{target}]}}')
    if scenarios:
        out.append("scenarios:")
        for lines in _scenarios(scenarios, device_list, region_list, clusters, rng):
            out += lines
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=64)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--scenarios", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    sys.stdout.write(large_board(a.regions, a.devices, a.rules, a.scenarios, a.seed))
