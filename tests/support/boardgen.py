"""Random boards that QEMU's `virt` machine can boot, for the proving ground (tests/test_boot_kernels.py,
bench/bench_boot.py): every board is booted on a real kernel and each region must land where
`dtgen resolve` says.

A board is drawn from a seed: one to three banks inside virt's RAM (from 0x40000000; regions above
4 GiB on arm64 when the RAM reaches there, ARM32 LPAE up to 3 GiB so that lowmem and highmem
both exist), then up to six regions: static carve-outs (`no-map`, plain, or CMA), dynamic pools
with and without `alloc-ranges` (some starting or ending at a static region, which decides
__reserved_mem_alloc_in_range()'s direction), `no-map` coherent pools, CMA pools, and the default
area as a `linux,cma-default` node, from `cma=`, or from the kernel's Kconfig.

What the generator keeps clear of, and why:
- at most two banks: QEMU gives the kernel its banks through /chosen linux,usable-memory-range,
  which holds two (`dtgen boot`);
- the lowest 256 MiB of RAM: QEMU loads the kernel at 0x40200000 (arm64) or 0x40008000 (ARM32,
  after decompression) and the tree at 0x48000000; `dtgen boot` reserves the arm64 image and the
  tree (`memory.occupied`), not the ARM32 image, whose size the zImage does not tell;
- ARM32's lowmem/highmem boundary for CMA: an area across it is an error dtgen reports
  (zone-straddle), proved by a hand-written board, not by random ones;
- sizes: CMA sizes and static CMA starts are multiples of 4 MiB, the largest CMA minimum
  alignment of the three kernels; at most four CMA nodes (Debian's kernels have 8 CMA slots).
Every generated board passes `dtgen validate` and places without error, or is drawn again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MiB, GiB = 1 << 20, 1 << 30
RAM_BASE = 0x40000000
KEEP_CLEAR = 256 * MiB
ARM32_LOWMEM_END = RAM_BASE + 768 * MiB  # VMSPLIT_3G with the default 240 MiB vmalloc area


@dataclass(frozen=True)
class Generated:
    name: str
    text: str  # the board file
    ram_mib: int


def _hex(value: int) -> str:
    return f"{value:#x}"


def _size(value: int) -> str:
    return f"{value // MiB}M" if value % MiB == 0 else _hex(value)


def board(seed: int, arch: str) -> Generated:
    rng = random.Random(f"{arch}-{seed}")
    name = f"rand-{arch}-{seed}"
    if arch == "arm64":
        ram = rng.choice([1, 2, 2, 3, 4, 5]) * GiB
    else:
        ram = rng.choice([1, 2, 2, 3]) * GiB
    end = RAM_BASE + ram
    # Banks: the RAM, sometimes split in two with a hole (a bank boundary on a 256 MiB step).
    cuts = sorted(rng.sample(range(1, ram // (256 * MiB)), k=min(rng.choice([0, 0, 1]), ram // (256 * MiB) - 1)))
    edges = [RAM_BASE, *(RAM_BASE + c * 256 * MiB for c in cuts), end]
    banks: list[tuple[int, int]] = []
    for i in range(len(edges) - 1):
        start, stop = edges[i], edges[i + 1]
        if i and rng.random() < 0.4:
            start += rng.choice([16, 32, 64]) * MiB  # a hole before this bank
        banks.append((start, stop - start))
    low = RAM_BASE + KEEP_CLEAR
    regions: list[str] = []
    statics: list[tuple[int, int]] = []
    cma_nodes = 0
    default = rng.choice(["kconfig", "kconfig", "node", "cmdline"])

    def in_bank(start: int, size: int) -> bool:
        return any(b <= start and start + size <= b + s for b, s in banks)

    def free(start: int, size: int) -> bool:
        return all(start + size <= s or e <= start for s, e in statics)

    for i in range(rng.randint(1, 6)):
        kind = rng.choice(["static", "static", "dynamic", "ranged", "ranged", "touching"])
        flavour = rng.choice(["nomap", "cma", "cma", "plain"])
        if flavour == "cma" and cma_nodes >= 3:
            flavour = "nomap"
        size = rng.choice([1, 2, 4, 8, 16, 32]) * MiB if flavour != "cma" else rng.choice([4, 8, 16, 32]) * MiB
        flags = {"nomap": "no_map: true", "cma": "reusable: true", "plain": ""}[flavour]
        entry = f"name: r{i}, size: {_size(size)}"
        if kind == "static":
            step = 4 * MiB if flavour == "cma" else 1 * MiB
            for _ in range(50):
                start = low + rng.randrange(0, (end - low - size) // step) * step
                if in_bank(start, size) and free(start, size) and not _straddles(arch, flavour, start, size):
                    break
            else:
                continue
            statics.append((start, start + size))
            entry += f", start: {_hex(start)}"
        elif kind in ("ranged", "touching"):
            window = rng.choice([128, 256, 512]) * MiB
            if kind == "touching" and statics:
                anchor = rng.choice(statics)
                # Start at a static region's end (bottom-up on 6.5-6.12.12), or end at its start.
                start = anchor[1] if rng.random() < 0.5 else max(low, anchor[0] - window)
            else:
                start = low + rng.randrange(0, max(1, (end - low - window) // (64 * MiB))) * 64 * MiB
            window = min(window, end - start)
            if arch == "arm" and flavour == "cma" and start < ARM32_LOWMEM_END:
                window = min(window, ARM32_LOWMEM_END - start)  # keep the CMA area in lowmem
            if window < 2 * size:
                continue
            entry += f", alloc_ranges: [{{start: {_hex(start)}, size: {_size(window)}}}]"
        if rng.random() < 0.3 and "start" not in entry:
            entry += f", alignment: {rng.choice(['64K', '1M', '2M', '4M'])}"
        if flags:
            entry += f", {flags}"
        cma_nodes += flavour == "cma"
        regions.append("  - {" + entry + "}")
    if default == "node":
        size = rng.choice([16, 32, 64]) * MiB
        window = "" if arch == "arm64" and rng.random() < 0.5 else (
            f", alloc_ranges: [{{start: {_hex(low)}, size: {_size(min(512 * MiB, (ARM32_LOWMEM_END if arch == 'arm' else end) - low))}}}]")
        regions.append(f"  - {{name: linux_cma, node_name: linux-cma, size: {_size(size)}, reusable: true, default: true{window}}}")
    elif default == "cmdline":
        size = rng.choice([16, 24, 32, 48, 64]) * MiB
        regions.append(f"  - {{name: cmdline_cma, size: {_size(size)}, reusable: true, default: true, via: cmdline}}")
    bank_text = "\n".join(f"    - {{name: bank{i}, base: {_hex(b)}, size: {_size(s)}}}" for i, (b, s) in enumerate(banks))
    text = f"""# Generated by tests/support/boardgen.py, seed {seed}: a random board for QEMU's virt machine.
board: {name}
kernel:
  arch: {arch}
  version: "6.12.118"
memory:
  banks:
{bank_text}
regions:
{chr(10).join(regions) if regions else '  []'}
"""
    top = max(b + s for b, s in banks)
    return Generated(name, text, (top - RAM_BASE) // MiB)


def _straddles(arch: str, flavour: str, start: int, size: int) -> bool:
    if flavour != "cma":
        return False
    limits = [ARM32_LOWMEM_END] if arch == "arm" else [4 * GiB]
    return any(start < limit < start + size for limit in limits)


def placeable(text: str, kconfig: dict[str, object]) -> bool:
    """The board validates and every region places, with the kernel's configuration."""
    from dtgen.load import load
    from dtgen.resolve import resolve
    from dtgen.validate import Settings, validate

    loaded = load("generated.yaml", lambda _path: text.encode(), ".", kconfig)  # type: ignore[arg-type]
    if loaded.board is None or any(d.severity.value == "error" for d in loaded.diagnostics):
        return False
    if any(d.severity.value == "error" for d in validate(loaded.board, Settings())):
        return False
    _, found = resolve(loaded.board)
    return not any(d.severity.value == "error" for d in found)


def boards(count: int, arch: str, kconfig: dict[str, object], first_seed: int = 0) -> list[Generated]:
    """`count` boards that validate and place, drawn from seeds first_seed, first_seed + 1, ..."""
    out: list[Generated] = []
    seed = first_seed
    while len(out) < count:
        drawn = board(seed, arch)
        if placeable(drawn.text, kconfig):
            out.append(drawn)
        seed += 1
        if seed - first_seed > 50 * count + 100:
            raise RuntimeError(f"boardgen: fewer than {count} placeable boards in {seed - first_seed} seeds")
    return out
