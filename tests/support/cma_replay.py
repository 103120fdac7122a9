"""The CMA debugfs replay of the proving ground (issue 16): random alloc/free sequences run on a
real Linux 6.12 kernel through /sys/kernel/debug/cma/<area>/{alloc,free}, and dtgen's bitmap model
(dtgen/simulate/cma_bitmap.py) must leave the same bitmap as the kernel after every step.

How one run goes:
1. `dtgen boot` places the board tests/boot/replay/virt-arm64-cma-replay.yaml (two reusable DT
   areas; the Kconfig default area `reserved`) on the minimal kernel of tests/support/kernels.py, with
   `--tree` to keep the blob it booted and `--format json` for where dtgen says each area is (and
   where the kernel put it). The areas of the model are dtgen's prediction, not the kernel's.
2. The model of each area starts as dtgen says the kernel leaves it at boot: empty, except the
   default area, from which the DMA atomic pools are taken first (Layout.boot_allocations, granted
   by the same CmaPool the simulator uses).
3. Seeded random sequences are drawn against the model (so that frees can aim at whole, partial and
   several chunks) and written as the script /replay.txt.
4. tests/boot/replay/cma-replay-init.c, compiled against the tree's nolibc and UAPI headers, is
   /init of a newc initramfs written here; the same blob boots again with it (kernels.boot), it
   replays the script and prints every area's bitmap before the first step and the stepped area's
   bitmap, `used` and `maxchunk` after each step, then powers off.
5. The log is parsed and each step replayed on the model: the write's result, the bitmap words,
   `used` and `maxchunk` must be the kernel's. Every difference is reported with the step, the
   sequence and the set bits on both sides.

What debugfs does (mm/cma_debug.c, 6.12), modelled by DebugfsArea:
- `alloc` N: cma_alloc(cma, N, 0, false), order 0, so no alignment; the chunk (first page, N) is
  pushed at the head of the area's list (hlist_add_head); a failed cma_alloc() makes the write
  fail with -ENOMEM (so does N = 0: cma_alloc() returns NULL for no pages).
- `free` N: takes chunks from the head of the list, newest first. A chunk of at most the pages
  still to free is released whole (cma_release(cma, p, n)); a larger one, with order_per_bit 0,
  gives back its first pages (cma_release(cma, p, count); p += count; n -= count) and goes back
  at the head; with order_per_bit > 0 a partial release is refused and the write stops there. An
  empty list ends the write early; the write itself always returns 0.
- `bitmap` is cma->bitmap as a u32 array (debugfs_create_u32_array(), DIV_ROUND_UP(maxno, 32)
  words): on a little-endian kernel word i holds bits 32i..32i+31. `used` is the bitmap's weight
  << order_per_bit, `maxchunk` the longest clear run << order_per_bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dtgen.simulate.cma_bitmap import CmaArea
from tests.support import kernels, realtools
from tests.support.realtools import ToolError, need

ROOT = Path(__file__).resolve().parent.parent.parent
BOARD = ROOT / "tests/boot/replay/virt-arm64-cma-replay.yaml"
INIT_SOURCE = ROOT / "tests/boot/replay/cma-replay-init.c"
CROSS = kernels.ARCHES["arm64"][3]
# kernel/dma/contiguous.c dma_contiguous_reserve_area(): the Kconfig/cma= area is declared with
# cma_declare_contiguous(..., "reserved", ...), its debugfs directory name.
DEFAULT_AREA = "reserved"
ENOMEM = 12
# Part of the UAPI headers' cache key: bump it when uapi_headers() changes.
RECIPE = "1"

SEQUENCES = 24  # the issue asks for at least 20
MIN_STEPS, MAX_STEPS = 10, 40  # per sequence, its closing `free` included
SEED = 16
T_HEADERS = 600  # `make headers`, cold: ~16 s (it builds fixdep and the syscall tables first)
T_REPLAY = 120  # one boot that replays everything: measured ~2 s

_MEMO: dict[object, object] = {}


# --------------------------------------------------------------------------------------------
# The model: an area as its debugfs files drive it


@dataclass
class DebugfsArea:
    """One CMA area driven through /sys/kernel/debug/cma/<name>/ (mm/cma_debug.c, 6.12): dtgen's
    CmaArea for the allocator, and debugfs's own list of the chunks it allocated."""

    name: str
    area: CmaArea
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (first PFN, pages), newest last

    def alloc(self, pages: int) -> int:
        """cma_alloc_write(): 0, or -ENOMEM when cma_alloc() returns NULL."""
        pfn = self.area.alloc(pages, 0) if pages > 0 else None
        if pfn is None:
            return -ENOMEM
        self.chunks.append((pfn, pages))
        return 0

    def free(self, pages: int) -> int:
        """cma_free_write() through cma_free_mem(): always 0."""
        while pages:
            if not self.chunks:
                return 0
            pfn, held = self.chunks.pop()
            if held <= pages:
                self.area.release(pfn, held)
                pages -= held
            elif self.area.order_per_bit == 0:
                # The head of the chunk goes back; the rest stays on the list, at its head.
                self.area.release(pfn, pages)
                self.chunks.append((pfn + pages, held - pages))
                pages = 0
            else:
                self.chunks.append((pfn, held))  # "cannot release partial block"
                break
        return 0

    def apply(self, op: str, pages: int) -> int:
        return self.alloc(pages) if op == "alloc" else self.free(pages)

    def held(self) -> int:
        return sum(pages for _, pages in self.chunks)

    # What the debugfs files say (cma_used_get(), cma_maxchunk_get(), the u32 array).
    def bits(self) -> int:
        """The bitmap as an integer, bit i for bit i of cma->bitmap."""
        area = self.area
        nbits = area.count >> area.order_per_bit
        value = (1 << nbits) - 1
        for pfn, pages in area.free_extents():
            first, length = (pfn - area.base_pfn) >> area.order_per_bit, pages >> area.order_per_bit
            value &= ~(((1 << length) - 1) << first)
        return value

    def words(self) -> tuple[int, ...]:
        nbits = self.area.count >> self.area.order_per_bit
        return words_of(self.bits(), -(-nbits // 32))

    def used(self) -> int:
        return self.area.used_pages()

    def maxchunk(self) -> int:
        return self.area.largest_free()


def words_of(bits: int, count: int) -> tuple[int, ...]:
    return tuple((bits >> (32 * i)) & 0xFFFFFFFF for i in range(count))


def bits_of(words: Iterable[int]) -> int:
    return sum(word << (32 * i) for i, word in enumerate(words))


def set_runs(bits: int) -> list[tuple[int, int]]:
    """[first, end) of every run of set bits, ascending."""
    runs: list[tuple[int, int]] = []
    position = 0
    while bits:
        zeros = (bits & -bits).bit_length() - 1
        bits >>= zeros
        position += zeros
        ones = (~bits & (bits + 1)).bit_length() - 1
        runs.append((position, position + ones))
        bits >>= ones
        position += ones
    return runs


def describe_runs(bits: int, limit: int = 10) -> str:
    runs = set_runs(bits)
    shown = " ".join(f"{a}-{b - 1}" if b - a > 1 else str(a) for a, b in runs[:limit])
    more = f" (+{len(runs) - limit} more runs)" if len(runs) > limit else ""
    return (shown or "none") + more


# --------------------------------------------------------------------------------------------
# Random sequences


@dataclass(frozen=True)
class Step:
    area: str
    op: str  # "alloc" | "free"
    pages: int

    def line(self) -> str:
        return f"{self.area} {self.op} {self.pages}"


@dataclass(frozen=True)
class ReplaySequence:
    seed: int
    area: str
    steps: tuple[Step, ...]


def _alloc_size(rng: random.Random, model: DebugfsArea) -> int:
    """Mostly requests that fit; some that fill the largest free run exactly; some that find
    enough free pages but no run long enough (fragmentation); some too large or empty."""
    count, largest, free = model.area.count, model.maxchunk(), model.area.free_pages()
    r = rng.random()
    if r < 0.40:
        return rng.randint(1, 16)
    if r < 0.65:
        return rng.randint(17, 256)
    if r < 0.80:
        return rng.randint(257, max(257, count // 4))
    if r < 0.87 and largest:
        return largest
    if r < 0.94 and largest < free:
        return rng.randint(largest + 1, free)
    if r < 0.98:
        return rng.randint(count // 4, count)  # often no room left
    return rng.choice((0, count + rng.randint(1, 64)))  # refused at once: no pages, more bits than the map


def _free_size(rng: random.Random, chunks: Sequence[tuple[int, int]]) -> int:
    """The newest chunk whole, its head only, or it and (the head of) the one before."""
    newest = chunks[-1][1]
    r = rng.random()
    if r < 0.4 or (r < 0.7 and newest == 1):
        return newest
    if r < 0.7:
        return rng.randint(1, newest - 1)
    if len(chunks) > 1:
        return newest + rng.randint(1, chunks[-2][1])
    return newest


def random_sequence(seed: int, model: DebugfsArea, min_steps: int = MIN_STEPS, max_steps: int = MAX_STEPS) -> ReplaySequence:
    """min_steps..max_steps steps on one area, drawn against `model` (which they advance); the
    last frees more than the area holds, so that the next sequence finds it as this one did."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for _ in range(rng.randint(min_steps, max_steps) - 1):
        if not model.chunks or rng.random() < 0.55:
            step = Step(model.name, "alloc", _alloc_size(rng, model))
        else:
            step = Step(model.name, "free", _free_size(rng, model.chunks))
        model.apply(step.op, step.pages)
        steps.append(step)
    closing = Step(model.name, "free", model.area.count)  # the list runs out first
    model.apply(closing.op, closing.pages)
    steps.append(closing)
    return ReplaySequence(seed, model.name, tuple(steps))


def random_sequences(models: Mapping[str, DebugfsArea], count: int = SEQUENCES, seed: int = SEED,
                     min_steps: int = MIN_STEPS, max_steps: int = MAX_STEPS) -> list[ReplaySequence]:
    """`count` sequences taking the areas in turn (sorted by name); sequence i has seed
    seed * 1000 + i."""
    names = sorted(models)
    return [random_sequence(seed * 1000 + i, models[names[i % len(names)]], min_steps, max_steps) for i in range(count)]


KINDS = ("alloc", "alloc of the largest free run", "failed alloc: no run long enough",
         "failed alloc: too large or empty", "whole free", "partial free", "free across chunks")


def step_kinds(models: Mapping[str, DebugfsArea], sequences: Iterable[ReplaySequence]) -> dict[str, int]:
    """How many steps of each kind (KINDS) the sequences hold, run on `models` (which they advance)."""
    kinds = dict.fromkeys(KINDS, 0)
    for sequence in sequences:
        for step in sequence.steps:
            model = models[step.area]
            newest = model.chunks[-1][1] if model.chunks else 0
            largest, free = model.maxchunk(), model.area.free_pages()
            if step.op == "free" and model.chunks:
                kinds["partial free" if step.pages < newest else "whole free" if step.pages == newest
                      else "free across chunks"] += 1
            if model.apply(step.op, step.pages) != 0:
                kinds["failed alloc: no run long enough" if 0 < step.pages <= free else "failed alloc: too large or empty"] += 1
            elif step.op == "alloc":
                kinds["alloc of the largest free run" if step.pages == largest else "alloc"] += 1
    return kinds


def script(sequences: Iterable[ReplaySequence]) -> str:
    lines: list[str] = []
    for sequence in sequences:
        lines.append(f"# sequence {sequence.seed} on {sequence.area}")
        lines += [step.line() for step in sequence.steps]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# The init and its initramfs


def uapi_headers() -> Path:
    """The arm64 UAPI headers of the 6.12 tree, as `make headers` leaves them in O=/usr/include
    (what headers_install would copy, without the rsync it needs): nolibc includes <linux/*.h>
    and <asm/unistd.h>, and the cross compiler has no arm64 headers of its own. Cached per tarball
    in the real-tool cache; the tree stays clean (O= is a scratch directory)."""
    key = realtools._key(RECIPE, realtools._tarball_key())
    if ("uapi", key) in _MEMO:
        return _MEMO[("uapi", key)]  # type: ignore[return-value]
    parent = realtools.cache_dir() / "uapi-arm64"
    done = parent / key
    with realtools._locked("uapi-arm64"):
        if not (done / "include").is_dir():
            need("make")
            need("gcc")
            tree = realtools.kernel_tree()
            parent.mkdir(exist_ok=True)
            realtools._prune(parent, "", keep=key)
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=parent))
            try:
                realtools._run(["make", "-C", tree, f"O={partial / 'obj'}", "ARCH=arm64", "-s", "headers"], timeout=T_HEADERS)
                os.rename(partial / "obj" / "usr" / "include", partial / "include")
                shutil.rmtree(partial / "obj")
                os.rename(partial, done)  # done exists only once complete
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    include = realtools._used(done) / "include"
    _MEMO[("uapi", key)] = include
    return include


def build_init(binary: Path) -> Path:
    """tests/boot/replay/cma-replay-init.c as a static arm64 binary on the tree's nolibc, with the
    flags of tools/testing/selftests/nolibc/Makefile (-nostdlib -nostdinc -static, -lgcc), warnings
    as errors. Under a second once the UAPI headers are there."""
    gcc = need(CROSS + "gcc")
    nolibc = realtools.kernel_tree() / "tools" / "include" / "nolibc"
    realtools._run([gcc, "-Os", "-s", "-static", "-nostdlib", "-nostdinc", "-fno-ident", "-fno-asynchronous-unwind-tables",
                    "-fno-stack-protector", "-W", "-Wall", "-Wextra", "-Werror", "-I", nolibc, "-I", uapi_headers(),
                    "-include", "nolibc.h", "-o", binary, INIT_SOURCE, "-lgcc"], timeout=realtools.T_COMPILE)
    return binary


def init_binary() -> Path:
    """The built init, cached beside the kernels (kernels.cache_root(), outside the checkout) per
    tarball, source and cross compiler: a fresh clone with warm caches (CI) then needs neither the
    unpacked tree nor `make headers` for this test."""
    key = realtools._key(RECIPE, realtools._tarball_key(), hashlib.sha256(INIT_SOURCE.read_bytes()).hexdigest(),
                         realtools._tool_version(CROSS + "gcc"))
    root = kernels.cache_root()
    folder = root / f"cma-replay-init-{key}"
    with kernels._locked("cma-replay-init"):
        if not folder.is_dir():
            realtools._prune(root, "cma-replay-init-", keep=folder.name)
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
            try:
                partial.chmod(0o755)  # as kernels._store(): a shared cache stays readable
                build_init(partial / "init")
                os.rename(partial, folder)  # the entry exists only once complete
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    return realtools._used(folder) / "init"


S_IFDIR, S_IFREG, S_IFCHR = 0o040000, 0o100000, 0o020000


@dataclass(frozen=True)
class Entry:
    """One member of a newc archive: a path without the leading slash."""

    path: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def newc(entries: Sequence[Entry]) -> bytes:
    """A cpio archive in the "new ASCII" format the kernel unpacks (init/initramfs.c: magic
    070701, thirteen 8-digit hex fields, the name with its NUL padded to 4 bytes with the 110-byte
    header, the data padded to 4), ended by TRAILER!!!. Every member has its own inode number and
    one link, so the kernel's hard-link detection never joins two of them."""
    out = bytearray()

    def member(ino: int, name: str, mode: int, data: bytes, rdev: tuple[int, int], nlink: int) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % value for value in fields))
        out.extend(encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, entry in enumerate(entries, start=1):
        if entry.path.startswith("/") or not entry.path:
            raise ValueError(f"{entry.path!r}: members are named without a leading slash")
        member(ino, entry.path, entry.mode, entry.data, entry.rdev, 2 if entry.mode & S_IFDIR else 1)
    member(0, "TRAILER!!!", 0, b"", (0, 0), 1)
    return bytes(out)


def initramfs(init: bytes, replay_script: str) -> bytes:
    """/init, /replay.txt, and /dev/console (5, 1): the kernel opens it for init's standard
    streams before /init runs (init/main.c console_on_rootfs()); /proc and /sys to mount on."""
    return newc([
        Entry("dev", S_IFDIR | 0o755),
        Entry("dev/console", S_IFCHR | 0o600, rdev=(5, 1)),
        Entry("proc", S_IFDIR | 0o755),
        Entry("sys", S_IFDIR | 0o755),
        Entry("init", S_IFREG | 0o755, init),
        Entry("replay.txt", S_IFREG | 0o644, replay_script.encode()),
    ])


# --------------------------------------------------------------------------------------------
# The log


@dataclass(frozen=True)
class AreaInfo:
    name: str
    base_pfn: int
    count: int
    order_per_bit: int


@dataclass(frozen=True)
class State:
    step: int
    area: str
    used: int
    maxchunk: int
    words: tuple[int, ...]


@dataclass(frozen=True)
class StepDone:
    index: int
    area: str
    op: str
    pages: int
    ret: int


@dataclass
class Replay:
    areas: dict[str, AreaInfo] = field(default_factory=dict)
    initial: dict[str, State] = field(default_factory=dict)
    steps: list[tuple[StepDone, State | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    began: bool = False
    ended: int | None = None  # the step count the init printed last


_RECORD = re.compile(r"@R (\w+)(?: (.*))?$")
_AREA = re.compile(r"(\S+) base_pfn (\d+) count (\d+) order_per_bit (\d+)$")
_STATE = re.compile(r"(\d+) (\S+) used (\d+) maxchunk (\d+) bitmap ([\d ]*)$")
_STEP = re.compile(r"(\d+) (\S+) (alloc|free) (\d+) ret (-?\d+)$")


def parse_replay(log: str) -> Replay:
    """The init's records (`@R ...` lines; see cma-replay-init.c) in a serial log."""
    replay = Replay()
    pending: StepDone | None = None
    for raw in log.splitlines():
        at = raw.find("@R ")
        if at < 0:
            continue
        found = _RECORD.match(raw[at:].rstrip("\r"))
        if not found:
            replay.errors.append(f"unreadable record: {raw[at:]!r}")
            continue
        kind, rest = found.group(1), found.group(2) or ""
        if kind == "begin":
            replay.began = True
        elif kind == "end":
            replay.ended = int(rest) if rest.isdigit() else -1
        elif kind == "error":
            replay.errors.append(rest)
        elif kind == "area" and (m := _AREA.match(rest)):
            replay.areas[m.group(1)] = AreaInfo(m.group(1), *(int(m.group(i)) for i in (2, 3, 4)))
        elif kind == "step" and (m := _STEP.match(rest)):
            if pending is not None:
                replay.steps.append((pending, None))
            pending = StepDone(int(m.group(1)), m.group(2), m.group(3), int(m.group(4)), int(m.group(5)))
        elif kind == "state" and (m := _STATE.match(rest)):
            state = State(int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)),
                          tuple(int(w) for w in m.group(5).split()))
            if state.step == 0:
                replay.initial[state.area] = state
            elif pending is not None and pending.index == state.step and pending.area == state.area:
                replay.steps.append((pending, state))
                pending = None
            else:
                replay.errors.append(f"a state without its step: {raw[at:][:120]!r}")
        else:
            replay.errors.append(f"unreadable record: {raw[at:][:120]!r}")
    if pending is not None:
        replay.steps.append((pending, None))
    return replay


# --------------------------------------------------------------------------------------------
# Model against kernel


def _state_differences(model: DebugfsArea, state: State) -> list[str]:
    found: list[str] = []
    words = model.words()
    if state.words != words:
        kernel_bits, model_bits = bits_of(state.words), bits_of(words)
        first = ((kernel_bits ^ model_bits) & -(kernel_bits ^ model_bits)).bit_length() - 1
        found.append(f"bitmap differs from bit {first} (page {model.area.base_pfn + first:#x}); "
                     f"kernel set bits: {describe_runs(kernel_bits)}; model: {describe_runs(model_bits)}"
                     + (f"; kernel has {len(state.words)} words, model {len(words)}" if len(state.words) != len(words) else ""))
    if state.used != model.used():
        found.append(f"used: kernel {state.used}, model {model.used()}")
    if state.maxchunk != model.maxchunk():
        found.append(f"maxchunk: kernel {state.maxchunk}, model {model.maxchunk()}")
    return found


def compare(replay: Replay, models: Mapping[str, DebugfsArea], sequences: Sequence[ReplaySequence]) -> list[str]:
    """Every difference between the kernel's replay and the model's (which `models` go through):
    the areas, the bitmaps before the first step, then each step's result and state."""
    found: list[str] = [f"the init said: {error}" for error in replay.errors]
    if not replay.began:
        return [*found, "the init never started (no `@R begin` in the log)"]
    for name, model in sorted(models.items()):
        info = replay.areas.get(name)
        geometry = (model.area.base_pfn, model.area.count, model.area.order_per_bit)
        if info is None:
            found.append(f"{name}: no such area in /sys/kernel/debug/cma (the kernel has {sorted(replay.areas)})")
            continue
        if (info.base_pfn, info.count, info.order_per_bit) != geometry:
            found.append(f"{name}: base_pfn/count/order_per_bit {info.base_pfn:#x}/{info.count}/{info.order_per_bit} "
                         f"in the kernel, {geometry[0]:#x}/{geometry[1]}/{geometry[2]} predicted")
        state = replay.initial.get(name)
        if state is None:
            found.append(f"{name}: no bitmap before the first step")
        else:
            found += [f"before the first step, {name}: {d}" for d in _state_differences(model, state)]
    found += [f"{name}: an area the model does not have" for name in sorted(set(replay.areas) - set(models))]
    expected = [(sequence, step) for sequence in sequences for step in sequence.steps]
    if len(replay.steps) != len(expected) or replay.ended != len(expected):
        found.append(f"{len(expected)} steps in the script, {len(replay.steps)} replayed, the init's end says {replay.ended}")
    for index, ((sequence, step), (done, state)) in enumerate(zip(expected, replay.steps), start=1):
        where = f"step {index} (sequence {sequence.seed}, `{step.line()}`)"
        if (done.index, done.area, done.op, done.pages) != (index, step.area, step.op, step.pages):
            found.append(f"{where}: the init ran step {done.index} `{done.area} {done.op} {done.pages}`")
            break  # the two no longer walk the same script
        model = models.get(step.area)
        if model is None:
            continue
        ret = model.apply(step.op, step.pages)
        if done.ret != ret:
            found.append(f"{where}: the write returned {done.ret} in the kernel, {ret} in the model")
        if state is None:
            found.append(f"{where}: no state printed")
        else:
            found += [f"{where}: {d}" for d in _state_differences(model, state)]
    return found


# --------------------------------------------------------------------------------------------
# One run on a kernel


@dataclass(frozen=True)
class Predicted:
    """`dtgen boot`'s answer for the replay board: the blob it booted, its command line and RAM,
    each CMA area by its debugfs name as (region, start, size), the regions whose placement the
    kernel did not confirm, and the DMA atomic pools dtgen takes from the default area."""

    dtb: Path
    append: str
    ram_mib: int
    areas: dict[str, tuple[str, int, int]]
    misplaced: list[str]
    boot_allocations: tuple[tuple[str, int], ...]
    page_size: int
    max_align_order: int
    seconds: float


def predict(kernel: kernels.Kernel, work: Path, board: Path = BOARD) -> Predicted:
    """`dtgen boot BOARD --tree` on the kernel (the blob, and where dtgen places each area with
    QEMU's image and tree in memory), and the DMA atomic pools of dtgen's own layout of the board
    (they follow the RAM, not those details)."""
    from click.testing import CliRunner

    from dtgen import boot as plan
    from dtgen.cli import main
    from dtgen.kconfig import parse
    from dtgen.load import load
    from dtgen.resolve import resolve
    from dtgen.simulate.pools import cma_alignment_order

    dtb = work / "replay.dtb"
    began = time.perf_counter()
    result = CliRunner().invoke(main, ["boot", str(board), "--kernel", str(kernel.image), "--kconfig", str(kernel.config),
                                       "--qemu", str(kernels.qemu(kernel.arch)), "--tree", str(dtb), "--log",
                                       str(work / "placement.log"), "--format", "json", "--disable", "region-unused",
                                       "--include-root", str(board.parent)])
    seconds = time.perf_counter() - began
    if result.exit_code not in (0, 1) or not dtb.is_file():
        raise ToolError(f"dtgen boot {board.name}: exit {result.exit_code}\n{result.output[-2000:]}")
    # The JSON document alone: click 8.1's CliRunner mixes stderr (findings) into stdout.
    text = result.stdout
    if "{" not in text:
        raise ToolError(f"dtgen boot {board.name}: no JSON report\n{result.output[-2000:]}")
    data = json.JSONDecoder().raw_decode(text, text.index("{"))[0]
    areas: dict[str, tuple[str, int, int]] = {}
    misplaced: list[str] = []
    for row in data["rows"]:
        actual = row.get("actual") or {}
        if row["verdict"] != "matches":
            misplaced.append(f"{row['region']}: {row['verdict']}, predicted {row['predicted']}, kernel {actual}")
        if row.get("predicted"):
            # The Kconfig area's log line has no name; DT areas are named after their node.
            name = actual.get("name") or (DEFAULT_AREA if row["region"] == DEFAULT_AREA else row["region"])
            areas[name] = (row["region"], row["predicted"]["start"], row["predicted"]["size"])
    values, _ = parse(kernel.config.read_text(), str(kernel.config))
    loaded = load(str(board), lambda path: Path(path).read_bytes(), str(board.parent), dict(values))
    if loaded.board is None:
        raise ToolError(f"{board}: does not load: {[d.render() for d in loaded.diagnostics]}")
    layout, _ = resolve(plan.for_virt(loaded.board))
    return Predicted(dtb, data["command_line"], data["ram_mib"], areas, misplaced, layout.boot_allocations,
                     loaded.board.kernel.page_size, cma_alignment_order(loaded.board), seconds)


def initial_models(predicted: Predicted) -> dict[str, DebugfsArea]:
    """Each area as dtgen says user space finds it: where dtgen places it, empty, but for the
    default area, from which the DMA atomic pools are granted first, as the simulator's engine
    does (dtgen/simulate/engine.py _Run)."""
    from dtgen.simulate.pools import CmaPool

    models: dict[str, DebugfsArea] = {}
    for name, (region, start, size) in predicted.areas.items():
        pool = CmaPool(region, start, size, predicted.page_size, predicted.max_align_order)
        if name == DEFAULT_AREA:
            for _what, taken in predicted.boot_allocations:
                pool.request(taken, None)
        models[name] = DebugfsArea(name, pool.area)
    return models


@dataclass
class Outcome:
    sequences: list[ReplaySequence]
    replay: Replay
    disagreements: list[str]
    predicted: Predicted
    log: str
    boot_seconds: float  # the replay boot alone
    build_seconds: float  # the init (cached after the first run: then ~0) and the initramfs

    @property
    def steps(self) -> int:
        return sum(len(s.steps) for s in self.sequences)


def run(kernel: kernels.Kernel, work: Path, count: int = SEQUENCES, seed: int = SEED,
        min_steps: int = MIN_STEPS, max_steps: int = MAX_STEPS,
        models: Callable[[Predicted], dict[str, DebugfsArea]] = initial_models) -> Outcome:
    """The whole replay on `kernel` (the minimal arm64 one: the others have CMA_DEBUGFS off), its
    files in `work`."""
    predicted = predict(kernel, work)
    sequences = random_sequences(models(predicted), count, seed, min_steps, max_steps)
    began = time.perf_counter()
    archive = work / "replay.cpio"
    archive.write_bytes(initramfs(init_binary().read_bytes(), script(sequences)))
    build_seconds = time.perf_counter() - began
    began = time.perf_counter()
    log = kernels.boot(kernel, dtb=predicted.dtb, memory=f"{predicted.ram_mib}M", append=predicted.append,
                       initrd=archive, timeout=T_REPLAY)
    boot_seconds = time.perf_counter() - began
    (work / "replay.log").write_text(log)
    replay = parse_replay(log)
    found = [f"placement: {m}" for m in predicted.misplaced] + compare(replay, models(predicted), sequences)
    return Outcome(sequences, replay, found, predicted, log, boot_seconds, build_seconds)
