"""`dtgen boot`: the board's memory plan as a tree QEMU's `virt` machine boots (pure part).

The tree the kernel boots is QEMU's own `virt` tree (dumped with `-machine dumpdtb=`, decompiled
by dtc), changed in three places:
- the banks: when QEMU loads a tree it removes its memory nodes and writes one with all of its
  RAM (hw/arm/boot.c arm_load_dtb(); found by booting: memory nodes of our own did not survive).
  So the banks go in /chosen `linux,usable-memory-range`, which the kernel applies after the
  memory nodes (drivers/of/fdt.c early_init_dt_check_for_usable_mem_range(): RAM is capped to
  the first range and the second is added, MAX_USABLE_RANGES = 2): at most two banks, and RAM
  outside them is not memory at all, as on the board;
- /chosen loses `kaslr-seed` and `rng-seed`: QEMU fills them with random bytes, and a boot that
  depends on them is not the same boot twice;
- the board's emitted `.dtsi`, as `dtgen emit` writes it, with an empty stand-in for every node
  it refers to (`&label`, `&{/path}`) that QEMU's tree lacks, so that it compiles as in the board
  tree. Stand-ins have no `compatible`: no driver binds to them.
The kernel command line is the console QEMU's `virt` has (PL011 at 0x9000000; bare `earlycon`
starts too late on ACPI-enabled kernels and the reservation lines are lost) and the board's `cma=`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace

from dtgen.early_boot import ASSUMED_PGDAT_BYTES
from dtgen.model import Board, DeviceTree, ImageFacts, Occupied
from dtgen.units import fmt_addr, fmt_range, fmt_size

VIRT_RAM_BASE = 0x40000000  # hw/arm/virt.c: VIRT_MEM starts at 1 GiB on arm and aarch64
VIRT_CELLS = 2  # the virt tree's root #address-cells and #size-cells, on both
MAX_BANKS = 2  # drivers/of/fdt.c MAX_USABLE_RANGES
KERNEL_ROOM = 4 * (1 << 20)  # QEMU puts the kernel 32 KiB (ARM32) or 2 MiB (arm64) into RAM
CONSOLE = ("console=ttyAMA0", "earlycon=pl011,0x9000000", "panic=-1")
MiB = 1 << 20
# Errors that predict what the kernel does with a sound tree: booting shows whether it does.
PREDICTIONS = frozenset({"zone-straddle"})


@dataclass(frozen=True)
class Machine:
    """How QEMU runs a board of one architecture."""

    arch: str
    qemu: str  # the system emulator's name
    cpu: str

    def argv(self, ram_mib: int) -> list[str]:
        # -nic none: Debian installs QEMU without its network ROMs (--no-install-recommends).
        return [self.qemu, "-M", "virt", "-cpu", self.cpu, "-smp", "1", "-m", f"{ram_mib}M",
                "-display", "none", "-monitor", "none", "-serial", "stdio", "-nic", "none", "-no-reboot"]


MACHINES = {
    "arm64": Machine("arm64", "qemu-system-aarch64", "cortex-a57"),
    # cortex-a15 has LPAE, so RAM above 4 GiB and LPAE kernels work.
    "arm": Machine("arm", "qemu-system-arm", "cortex-a15"),
}


def image_arch(head: bytes) -> str | None:
    """The architecture a kernel image is built for, from its header: arm64 `Image` has the magic
    "ARM\\x64" at offset 56 (Documentation/arch/arm64/booting.rst); an ARM32 `zImage` has
    0x016f2818 at offset 0x24 (arch/arm/boot/compressed/head.S)."""
    if head[56:60] == b"ARMd":
        return "arm64"
    if head[0x24:0x28] == bytes.fromhex("18286f01"):
        return "arm"
    return None


def _arm64_text_end(head: bytes, text: int, image_size: int) -> int:
    """Where the block-mapped kernel alias [_text, __init_begin) ends, at most: an EFI-stub Image
    is a PE file whose `.data` section starts at __initdata_begin (arch/arm64/kernel/efi-header.S),
    just past __init_begin. Without the stub, the whole image."""
    if len(head) < 0x40 or head[:2] != b"MZ":
        return text + image_size
    pe = struct.unpack_from("<I", head, 0x3C)[0]
    if pe + 24 > len(head) or head[pe:pe + 4] != b"PE\0\0":
        return text + image_size
    count, optional = struct.unpack_from("<H", head, pe + 6)[0], struct.unpack_from("<H", head, pe + 20)[0]
    table = pe + 24 + optional
    for i in range(count):
        at = table + 40 * i
        if at + 16 > len(head):
            break
        if head[at:at + 8].rstrip(b"\0") == b".data":
            return text + int(struct.unpack_from("<I", head, at + 12)[0])
    return text + image_size


def arm64_image(head: bytes) -> tuple[int, int, int]:
    """(where QEMU puts the Image, image_size, end of the kernel alias) from the Image header
    (Documentation/arch/arm64/booting.rst: text_offset at 8, image_size at 16). QEMU loads an Image
    with text_offset 0 2 MiB into RAM (hw/arm/boot.c), where the kernel runs in place."""
    text_offset, image_size = struct.unpack_from("<QQ", head, 8)
    text = VIRT_RAM_BASE + (text_offset or 2 * MiB)
    return text, image_size, _arm64_text_end(head, text, image_size)


def dtb_address(board: Board, ram_mib: int, initrd_bytes: int = 0) -> int:
    """Where QEMU puts the tree (hw/arm/boot.c): the initrd at min(RAM / 2, 128 MiB) into RAM, the
    tree after it, 2 MiB aligned on arm64 and 4 KiB aligned on ARM32."""
    initrd = VIRT_RAM_BASE + min(ram_mib * MiB // 2, 128 * MiB)
    align = 2 * MiB if board.kernel.arch == "arm64" else 4096
    return -(-(initrd + initrd_bytes) // align) * align


def with_qemu_facts(board: Board, head: bytes, ram_mib: int, dtb_bytes: int, tree_bytes: int) -> Board:
    """The board as QEMU boots it: the memory the kernel reserves for its image and tree first
    (`memory.occupied`), and the image facts arm64's early allocations depend on."""
    occupied = list(board.occupied)
    dtb = dtb_address(board, ram_mib)
    occupied.append(Occupied("the device tree QEMU loads", dtb, -(-dtb_bytes // 4096) * 4096, "/memory"))
    image = board.image
    if board.kernel.arch == "arm64":
        text, size, text_end = arm64_image(head)
        occupied.append(Occupied("the kernel image", text, size, "/memory"))
        image = ImageFacts(text, text_end, tree_bytes, ASSUMED_PGDAT_BYTES, True)
    return replace(board, occupied=tuple(occupied), image=image)


def ram_needed(board: Board) -> tuple[int, str]:
    """QEMU's `-m` in MiB for the board's banks, or (0, why) when `virt` cannot provide them."""
    low = min(b.base for b in board.banks)
    high = max(b.end for b in board.banks)
    if low < VIRT_RAM_BASE:
        return 0, (f"bank at {fmt_addr(low)} is below {fmt_addr(VIRT_RAM_BASE)}, where QEMU's virt machine "
                   "starts its RAM: give the board banks at or above it to boot it here")
    if len(board.banks) > MAX_BANKS:
        return 0, (f"the board has {len(board.banks)} banks; the kernel takes at most {MAX_BANKS} from "
                   "linux,usable-memory-range, the one way to give it banks under QEMU's virt machine")
    if not any(b.base <= VIRT_RAM_BASE + KERNEL_ROOM <= b.end for b in board.banks):
        return 0, (f"no bank covers {fmt_range(VIRT_RAM_BASE, VIRT_RAM_BASE + KERNEL_ROOM)}, where QEMU "
                   "loads the kernel")
    return -(-(high - VIRT_RAM_BASE) // MiB), ""


def for_virt(board: Board) -> Board:
    """The board as QEMU's tree takes it: the virt root has 2 address and 2 size cells, and the
    board's own base tree is not the one booted."""
    return replace(board, devicetree=DeviceTree(None, (), VIRT_CELLS, VIRT_CELLS))


_REF = re.compile(r"&\{(/[^}]*)\}|&([A-Za-z_][A-Za-z0-9_]*)")
_LABEL_DEF = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*):", re.M)


def _cells(value: int) -> str:
    return f"{value >> 32:#x} {value & 0xFFFFFFFF:#x}"


def _stand_ins(fragment: str, base_source: str) -> str:
    """Empty nodes for every `&label` and `&{/path}` the fragment uses that neither it nor QEMU's
    tree defines."""
    defined = set(_LABEL_DEF.findall(base_source)) | set(_LABEL_DEF.findall(fragment))
    labels: list[str] = []
    paths: list[str] = []
    for path, label in _REF.findall(fragment):
        if label and label not in defined and label not in labels:
            labels.append(label)
        elif path and path not in paths:
            paths.append(path)
    out: list[str] = []
    if labels:
        out.append("/ {\n\tdtgen-stand-ins {")
        out += [f"\t\t{label}: {label.replace('_', '-')} {{ }};" for label in labels]
        out.append("\t};\n};")
    for path in paths:
        parts = [p for p in path.split("/") if p]
        opening = "".join("\t" * (i + 1) + part + " {\n" for i, part in enumerate(parts))
        closing = "".join("\t" * i + "};\n" for i in range(len(parts), 0, -1))
        out.append("/ {\n" + opening + closing + "};")
    return "\n".join(out)


_SEEDS = re.compile(r"^\t\t(?:kaslr-seed|rng-seed) = .*;\n", re.M)


def unflattened_bytes(board: Board, dtb: bytes) -> int:
    """The unflattened tree's allocation for the blob QEMU boots: it adds /chosen/bootargs."""
    from dtgen.trees import fdt
    from dtgen.early_boot import struct_sizes, unflattened_size

    nodes = [(n.path, [name for name, _ in n.props]) for n in fdt.read_python(dtb).nodes]
    for path, props in nodes:
        if path == "/chosen" and "bootargs" not in props:
            props.append("bootargs")
    return unflattened_size(nodes, *struct_sizes(board))


def tree_source(board: Board, qemu_source: str, fragment: str, ram_mib: int) -> str:
    """The DTS to compile: QEMU's decompiled tree, the board's banks, stand-ins, the fragment."""
    base = _SEEDS.sub("", qemu_source)
    banks = sorted(board.banks, key=lambda b: b.base)
    memory = ""
    if [(b.base, b.size) for b in banks] != [(VIRT_RAM_BASE, ram_mib * MiB)]:
        ranges = ", ".join(f"<{_cells(b.base)} {_cells(b.size)}>" for b in banks)
        memory = ("/ {\n\tchosen {\n"
                  "\t\t/* the board's banks: QEMU rewrites /memory with all of its RAM */\n"
                  f"\t\tlinux,usable-memory-range = {ranges};\n"
                  "\t};\n};\n")
    fragment_body = fragment.replace("/dts-v1/;", "")
    return "\n".join([base.rstrip(), memory, _stand_ins(fragment_body, base), fragment_body])


def kernel_command_line(board_cmdline: str, extra: tuple[str, ...] = ()) -> str:
    """The console arguments, the board's own command line (its `cma=`), then the caller's."""
    return " ".join([*CONSOLE, *board_cmdline.split(), *extra])


def describe_ram(ram_mib: int) -> str:
    return f"{fmt_size(ram_mib * MiB)} at {fmt_addr(VIRT_RAM_BASE)}"
