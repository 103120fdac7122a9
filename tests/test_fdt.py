"""Reading device tree blobs (dtgen/trees/fdt.py).

The blobs come from a small writer in this file, written from the Devicetree Specification v0.4,
chapter 5 (nothing from dtgen writes them; dtc checks the writer), from dtc itself, and from
damaging either. Both readers are checked: the Python one (`read_python`) and libfdt's walk
(`read()` with DTGEN_FDT=libfdt, and `_read_libfdt`). On what was written they must give exactly
what was written; on a damaged blob a Blob or an `FdtError`, never another exception.

The libfdt path of the damage tests runs in a child process: pylibfdt is C, and a crash there
must fail a test with the blob that caused it, not end the pytest run.

pylibfdt itself has defects these tests found (`LIBFDT_*` below): it crashes on a property name
offset outside the strings block and raises SystemError on a name that is not UTF-8, and its walk
accepts duplicate properties and a second root. So `read()` runs the Python reader's checks on
every blob before libfdt sees it, and the tests of `read()` with libfdt expect what the Python
reader says; `known_pylibfdt_defect` excuses only the raw `_read_libfdt` crashes, on blobs that
have their trigger.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtgen.trees import fdt
from dtgen.trees.fdt import Blob, FdtError, FdtNode
from tests.support import realtools

try:
    import libfdt
except ImportError:  # pragma: no cover - pylibfdt is a test dependency; CI has it
    libfdt = None

# --------------------------------------------------------------------------------------------
# A device tree blob writer, from the Devicetree Specification v0.4, chapter 5

SPEC_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
HEADER_BYTES = 40  # 5.2: ten big-endian u32
# 5.2's field order: the index of each header field (its byte offset is 4 * index).
HEADER_FIELDS = (
    "magic", "totalsize", "off_dt_struct", "off_dt_strings", "off_mem_rsvmap", "version",
    "last_comp_version", "boot_cpuid_phys", "size_dt_strings", "size_dt_struct",
)

# Structure tokens, abstractly: ("begin", name), ("prop", name, value), ("end",), ("nop",), and
# ("raw", u32) for a token number of the caller's choosing.
Token = tuple


@dataclass
class Node:
    name: str
    props: list[tuple[str, bytes]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def tokens_of(node: Node) -> list[Token]:
    """A node and its subtree as structure tokens (5.4.1), properties before subnodes."""
    out: list[Token] = [("begin", node.name)]
    out += [("prop", name, value) for name, value in node.props]
    for child in node.children:
        out += tokens_of(child)
    out.append(("end",))
    return out


def write_fdt(
    tokens: Sequence[Token],
    reserved: Sequence[tuple[int, int]] = (),
    *,
    nops_at: frozenset[int] = frozenset(),
    version: int = 17,
    last_comp_version: int = 16,
    boot_cpuid_phys: int = 0,
    end_token: bool = True,
) -> bytes:
    """A blob laid out as dtc lays it out: header, memory reservation block, structure block,
    strings block (last, unpadded: the blob ends where the strings end). An FDT_NOP goes before
    the i-th token for each i in `nops_at` (i may be the index of the closing FDT_END)."""
    strings = bytearray()
    offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in offsets:
            offsets[name] = len(strings)
            strings.extend(name.encode("utf-8") + b"\0")
        return offsets[name]

    structure = bytearray()
    every = list(tokens) + ([("fdt_end",)] if end_token else [])
    for index, token in enumerate(every):
        if index in nops_at:
            structure += struct.pack(">I", FDT_NOP)
        kind = token[0]
        if kind == "begin":  # 5.4.1: FDT_BEGIN_NODE, the unit name NUL-terminated, padded to 4
            structure += struct.pack(">I", FDT_BEGIN_NODE) + _pad4(token[1].encode("utf-8") + b"\0")
        elif kind == "end":
            structure += struct.pack(">I", FDT_END_NODE)
        elif kind == "prop":  # FDT_PROP, u32 len, u32 nameoff, the value padded to 4
            name, value = token[1], token[2]
            structure += struct.pack(">III", FDT_PROP, len(value), name_offset(name)) + _pad4(value)
        elif kind == "nop":
            structure += struct.pack(">I", FDT_NOP)
        elif kind == "fdt_end":
            structure += struct.pack(">I", FDT_END)
        elif kind == "raw":
            structure += struct.pack(">I", token[1])
        else:
            raise ValueError(token)
    # 5.3: (u64 address, u64 size) pairs ending with (0, 0), 8-byte aligned (40 is).
    rsvmap = b"".join(struct.pack(">QQ", a, s) for a, s in reserved) + struct.pack(">QQ", 0, 0)
    off_rsvmap = HEADER_BYTES
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings)
    header = struct.pack(
        ">10I", SPEC_MAGIC, total, off_struct, off_strings, off_rsvmap, version, last_comp_version,
        boot_cpuid_phys, len(strings), len(structure),
    )
    return header + rsvmap + bytes(structure) + bytes(strings)


def header(blob: bytes, name: str) -> int:
    return int(struct.unpack_from(">I", blob, 4 * HEADER_FIELDS.index(name))[0])


def with_header(blob: bytes, **fields: int) -> bytes:
    """The blob with header fields replaced: with_header(blob, version=15)."""
    data = bytearray(blob)
    for name, value in fields.items():
        struct.pack_into(">I", data, 4 * HEADER_FIELDS.index(name), value)
    return bytes(data)


def expected_nodes(root: Node) -> tuple[FdtNode, ...]:
    """What a reader should give for the tree: depth first, in order, with full paths."""
    out: list[FdtNode] = []

    def walk(node: Node, path: str) -> None:
        out.append(FdtNode(path, tuple(node.props)))
        for child in node.children:
            walk(child, path.rstrip("/") + "/" + child.name)

    walk(root, "/")
    return tuple(out)


def chain(depth: int) -> Node:
    """A root with nested descendants down to depth `depth` (the root is at depth 0)."""
    node: Node | None = None
    for level in range(depth, 0, -1):
        node = Node("n", [("d", struct.pack(">I", level))], [node] if node else [])
    return Node("", [], [node] if node else [])


SMALL_TREE = Node(
    "",
    [("compatible", b"dtgen,test\0"), ("#address-cells", b"\0\0\0\2")],
    [
        Node("a@1", [("empty", b"")], [Node("b", [("odd", b"12345")])]),
        Node("c"),
    ],
)

# --------------------------------------------------------------------------------------------
# Readers


@contextmanager
def forced(which: str | None) -> Iterator[None]:
    """DTGEN_FDT set to `which`, or unset (None)."""
    with mock.patch.dict(os.environ):
        os.environ.pop("DTGEN_FDT", None)
        if which is not None:
            os.environ["DTGEN_FDT"] = which
        yield


def read_libfdt(data: bytes) -> Blob:
    with forced("libfdt"):
        return fdt.read(data)


def need_libfdt() -> None:
    if libfdt is None:
        realtools.need("pylibfdt (module libfdt) is not installed: pip install -e '.[test]'")


@dataclass(frozen=True)
class Reader:
    name: str  # "python" or "libfdt"
    read: Callable[[bytes], Blob]


@pytest.fixture(scope="module", params=["python", "libfdt"])
def reader(request: pytest.FixtureRequest) -> Reader:
    """Each reader in turn: read_python, and read() with DTGEN_FDT=libfdt."""
    if request.param == "python":
        return Reader("python", fdt.read_python)
    need_libfdt()
    return Reader("libfdt", read_libfdt)


# The libfdt path runs in a child process: pylibfdt is C, and a crash there must fail a test with
# the blob that caused it, not end the pytest run. One child serves many reads (a fork per read
# would cost most of the damage tests' time) and is started again after a crash.
_WORKER_CODE = r"""
import os, pickle, struct, sys, traceback
os.environ["DTGEN_FDT"] = "libfdt"
from dtgen.trees import fdt
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    data = inp.read(struct.unpack(">I", head)[0])
    try:
        result = ("blob", fdt.read(data))
    except fdt.FdtError as e:
        result = ("FdtError", (e.message, e.offset))
    except BaseException:
        result = ("exception", traceback.format_exc())
    payload = pickle.dumps(result)
    out.write(struct.pack(">I", len(payload)) + payload)
    out.flush()
"""


class LibfdtChild:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def read(self, data: bytes) -> tuple[str, object]:
        """("blob", Blob), ("FdtError", (message, offset)), ("exception", traceback text) or
        ("signal", signal name): what read() with DTGEN_FDT=libfdt did with the data."""
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, cwd=realtools.ROOT,
            )
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(struct.pack(">I", len(data)) + data)
            process.stdin.flush()
        except BrokenPipeError:
            pass
        head = process.stdout.read(4)
        if len(head) == 4:
            return pickle.loads(process.stdout.read(struct.unpack(">I", head)[0]))  # type: ignore[no-any-return]
        self.process = None
        for pipe in (process.stdin, process.stdout):
            try:
                pipe.close()
            except BrokenPipeError:
                pass
        code = process.wait(timeout=60)
        if code < 0:
            return ("signal", signal.Signals(-code).name)
        return ("exception", f"the libfdt child exited with status {code}")

    def close(self) -> None:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=60)
            self.process = None


LIBFDT_CHILD = LibfdtChild()


@pytest.fixture(scope="module", autouse=True)
def _stop_libfdt_child() -> Iterator[None]:
    yield
    LIBFDT_CHILD.close()


def outcome(reader: Reader, data: bytes) -> tuple[str, object]:
    """What reader.read(data) does: the Python reader in this process (an exception other than
    FdtError propagates, with its traceback), the libfdt path in the child."""
    if reader.name == "python":
        try:
            return ("blob", reader.read(data))
        except FdtError as e:
            return ("FdtError", (e.message, e.offset))
    return LIBFDT_CHILD.read(data)


def prop_names_libfdt_reaches(data: bytes) -> list[bytes | None]:
    """The name of every FDT_PROP on the token chain libfdt follows from the start of the
    structure block (fdt_next_tag: 4-byte alignment relative to the block), as raw bytes, or
    None where nameoff names no NUL-terminated string inside the strings block (where
    fdt_string() returns NULL). A superset of the properties libfdt can reach."""
    total = min(header(data, "totalsize"), len(data))
    off_struct, off_strings = header(data, "off_dt_struct"), header(data, "off_dt_strings")
    end = off_struct + header(data, "size_dt_struct") if header(data, "version") >= 17 else total
    end = min(end, total)
    strings = data[off_strings : min(off_strings + header(data, "size_dt_strings"), total)]
    names: list[bytes | None] = []
    pos = off_struct
    while pos + 4 <= end:
        token = struct.unpack_from(">I", data, pos)[0]
        if token == FDT_BEGIN_NODE:
            nul = data.find(b"\0", pos + 4, end)
            if nul < 0:
                break
            pos = off_struct + ((nul + 1 - off_struct + 3) & ~3)
        elif token == FDT_PROP:
            if pos + 12 > end:
                break
            length, nameoff = struct.unpack_from(">II", data, pos + 4)
            nul = strings.find(b"\0", nameoff) if nameoff < len(strings) else -1
            names.append(None if nul < 0 else bytes(strings[nameoff:nul]))
            pos = off_struct + ((pos + 12 + length - off_struct + 3) & ~3)
        elif token in (FDT_END_NODE, FDT_NOP):
            pos += 4
        else:
            break
    return names


def _utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Defects of pylibfdt's own walk (what read() guards against by checking first).
LIBFDT_SEGFAULT = (
    "pylibfdt crashes (SIGSEGV) on a property whose nameoff is outside the strings block: its "
    "fdt_get_property_by_offset typemap passes fdt_string()'s NULL to PyUnicode_FromString"
)
LIBFDT_SYSTEMERROR = (
    "a property name that is not UTF-8 makes pylibfdt raise SystemError (from a swallowed UnicodeDecodeError)"
)
LIBFDT_LENIENT = "libfdt's walk alone accepts what read_python refuses (duplicate properties, a second root)"
LIBFDT_RESERVATIONS = "libfdt, dtc and the kernel end the reservation list at the first entry of size 0"


def known_pylibfdt_defect(data: bytes, result: tuple[str, object]) -> bool:
    """Whether a crash of the libfdt path is one of the two known pylibfdt defects (see
    test_property_name_outside_the_strings_block and test_property_name_not_utf8), on a blob
    that has what triggers it."""
    kind, detail = result
    if kind == "signal" and detail == "SIGSEGV":
        return None in prop_names_libfdt_reaches(data)
    if kind == "exception" and "SystemError" in str(detail) and "UnicodeDecodeError" in str(detail):
        return any(n is not None and not _utf8(n) for n in prop_names_libfdt_reaches(data))
    return False


def assert_blob_or_fdterror(reader: Reader, data: bytes) -> tuple[str, object]:
    result = outcome(reader, data)
    kind, detail = result
    if kind == "FdtError":
        message, offset = detail  # type: ignore[misc]
        assert message and isinstance(message, str)
        assert 0 <= offset <= len(data), (offset, len(data), data.hex())
    elif kind == "blob":
        assert isinstance(detail, Blob) and detail.nodes and detail.nodes[0].path == "/", detail
    elif not (reader.name == "libfdt" and known_pylibfdt_defect(data, result)):
        pytest.fail(f"{reader.name} reader: {kind} {detail}\non the blob {data.hex()}", pytrace=False)
    return result


# --------------------------------------------------------------------------------------------
# Random trees

# Node names: node-name characters of the specification (2.2.1), lower case, with an optional
# hexadecimal unit address.
NODE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789,._+-"
# Property names: the property-name characters of 2.2.4.
PROP_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+?#-"
MAX_TREE_DEPTH = 5

node_names = st.builds(
    lambda base, unit: base if unit is None else f"{base}@{unit:x}",
    st.text(NODE_CHARS, min_size=1, max_size=10),
    st.none() | st.integers(0, 2**64 - 1),
)
properties = st.lists(
    st.tuples(st.text(PROP_CHARS, min_size=1, max_size=16), st.binary(max_size=64)),
    max_size=5,
    unique_by=lambda p: p[0],
)
u64 = st.integers(0, 2**64 - 1)
# Any entry but the (0, 0) terminator, as the specification allows...
reservations = st.lists(st.tuples(u64, u64).filter(lambda r: r != (0, 0)), max_size=4)
# ... and entries of a non-zero size, which libfdt and dtc read the same way (LIBFDT_RESERVATIONS).
sized_reservations = st.lists(st.tuples(u64, st.integers(1, 2**64 - 1)), max_size=4)


@st.composite
def subtrees(draw: st.DrawFn, name: str = "", depth: int = 0) -> Node:
    props = draw(properties)
    names = draw(st.lists(node_names, max_size=3 - depth // 2, unique=True)) if depth < MAX_TREE_DEPTH else []
    return Node(name, props, [draw(subtrees(child, depth + 1)) for child in names])


trees = subtrees()
# Where to put FDT_NOPs: before any token but the root's FDT_BEGIN_NODE (libfdt and dtc want the
# structure block to start with it). Indexes past the last token are not used.
nop_positions = st.frozensets(st.integers(1, 60), max_size=6)


def _pseudo_random_tree(rng: random.Random, name: str = "", depth: int = 0) -> Node:
    props = [(f"p{i}-{rng.randrange(10**rng.randrange(1, 6))}", rng.randbytes(rng.randrange(65))) for i in range(rng.randrange(6))]
    count = rng.randrange(4 - depth // 2) if depth < MAX_TREE_DEPTH else 0
    return Node(name, props, [_pseudo_random_tree(rng, f"n{i}@{rng.randrange(2**32):x}", depth + 1) for i in range(count)])


def _base_blobs() -> list[bytes]:
    """What the damage tests start from: fixed, varied blobs (drawing a whole random tree per
    example would cost most of their time; the trees' variety is the tests above)."""
    blobs = [
        write_fdt(tokens_of(SMALL_TREE), [(0x1000, 0x2000)]),
        write_fdt(tokens_of(Node(""))),
        write_fdt(tokens_of(chain(8)), [(1, 1)], nops_at=frozenset({2, 5})),
    ]
    for seed in range(12):
        rng = random.Random(seed)
        reserved = [(rng.randrange(2**64), rng.randrange(1, 2**64)) for _ in range(rng.randrange(4))]
        nops = frozenset(rng.randrange(1, 40) for _ in range(rng.randrange(4)))
        blobs.append(write_fdt(tokens_of(_pseudo_random_tree(rng)), reserved, nops_at=nops))
    return blobs


BASE_BLOBS = _base_blobs()
base_blobs = st.sampled_from(BASE_BLOBS)


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAMAGE_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# What was written is what is read


@SETTINGS
@given(tree=trees, reserved=reservations, nops=nop_positions, cpuid=st.integers(0, 2**32 - 1))
def test_python_reader_reads_what_was_written(tree: Node, reserved: list[tuple[int, int]], nops: frozenset[int], cpuid: int) -> None:
    blob = write_fdt(tokens_of(tree), reserved, nops_at=nops, boot_cpuid_phys=cpuid)
    assert fdt.is_blob(blob)
    # The list ends at the first entry of size 0, as libfdt, dtc and the kernel read it.
    kept = tuple(reserved[: next((i for i, (_, size) in enumerate(reserved) if size == 0), len(reserved))])
    assert fdt.read_python(blob) == Blob(expected_nodes(tree), kept, 17)
    with forced("python"):
        assert fdt.read(blob) == Blob(expected_nodes(tree), kept, 17)


@SETTINGS
@given(tree=trees, reserved=sized_reservations, nops=nop_positions)
def test_libfdt_reads_what_was_written(tree: Node, reserved: list[tuple[int, int]], nops: frozenset[int]) -> None:
    need_libfdt()
    blob = write_fdt(tokens_of(tree), reserved, nops_at=nops)
    expected = Blob(expected_nodes(tree), tuple(reserved), 17)
    assert fdt._read_libfdt(libfdt, blob) == expected
    assert read_libfdt(blob) == expected
    with forced(None):  # the default: libfdt, as it is importable
        assert fdt.read(blob) == expected


@pytest.mark.parametrize("name", ["nodes.dtb", "nops.dtb"])
def test_writer_agrees_with_dtc(tmp_path: Path, name: str) -> None:
    """The writer, checked by another implementation: dtc reads its blob and writes it again
    (without the NOPs), and both blobs read the same."""
    dtc = realtools.need("dtc")
    nops = frozenset({1, 3, 5, 6}) if name == "nops.dtb" else frozenset()
    blob = write_fdt(tokens_of(SMALL_TREE), [(0x1000, 0x2000), (2**64 - 4096, 4096)], nops_at=nops)
    (tmp_path / name).write_bytes(blob)
    done = subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dtb", "-o", str(tmp_path / "again.dtb"), str(tmp_path / name)],
                          capture_output=True, text=True, timeout=realtools.T_DTC)
    assert done.returncode == 0, done.stderr
    again = (tmp_path / "again.dtb").read_bytes()
    expected = Blob(expected_nodes(SMALL_TREE), ((0x1000, 0x2000), (2**64 - 4096, 4096)), 17)
    assert fdt.read_python(again) == expected
    assert fdt.read_python(blob) == expected
    # Without NOPs the writer lays a blob out as dtc does, byte for byte.
    if not nops:
        assert again == blob


@settings(max_examples=30, deadline=None)
@given(tree=trees, reserved=sized_reservations)
def test_random_trees_survive_dtc(tree: Node, reserved: list[tuple[int, int]]) -> None:
    dtc = realtools.need("dtc")
    blob = write_fdt(tokens_of(tree), reserved)
    done = subprocess.run([dtc, "-q", "-f", "-I", "dtb", "-O", "dtb"], input=blob, capture_output=True, timeout=realtools.T_DTC)
    assert done.returncode == 0, done.stderr.decode()
    assert fdt.read_python(done.stdout) == fdt.read_python(blob) == Blob(expected_nodes(tree), tuple(reserved), 17)


def test_version_16_needs_no_structure_size(reader: Reader) -> None:
    """size_dt_struct is a version 17 field: a version 16 blob's structure block runs to the end."""
    blob = with_header(write_fdt(tokens_of(SMALL_TREE), [(4096, 8192)]), version=16, size_dt_struct=0)
    assert reader.read(blob) == Blob(expected_nodes(SMALL_TREE), ((4096, 8192),), 16)


def test_nesting_up_to_max_depth(reader: Reader) -> None:
    deepest = fdt.MAX_DEPTH - 1
    got = reader.read(write_fdt(tokens_of(chain(deepest))))
    assert got == Blob(expected_nodes(chain(deepest)), (), 17)
    assert got.nodes[-1].path == "/n" * deepest


# --------------------------------------------------------------------------------------------
# Damaged blobs: a Blob or an FdtError, nothing else


@DAMAGE_SETTINGS
@given(blob=base_blobs, data=st.data())
def test_truncated_blob_is_refused(reader: Reader, blob: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(blob) - 1), label="length")
    kind, detail = assert_blob_or_fdterror(reader, blob[:cut])
    assert kind == "FdtError", detail
    message = detail[0]  # type: ignore[index]
    if cut < 4:
        assert message.startswith("not a flattened device tree"), message
    else:
        assert "truncated" in message, message
    # With totalsize saying so, a cut past the header is refused all the same: the strings
    # block, last, no longer fits, whatever else was cut.
    if cut >= HEADER_BYTES:
        kind, detail = assert_blob_or_fdterror(reader, with_header(blob[:cut], totalsize=cut))
        assert kind == "FdtError", detail


def _compare_when_both_read(reader: Reader, data: bytes, result: tuple[str, object]) -> None:
    """On a damaged blob both readers accept, the same Blob."""
    if reader.name != "libfdt" or result[0] != "blob":
        return
    try:
        mine = fdt.read_python(data)
    except FdtError:
        return  # LIBFDT_LENIENT
    theirs = result[1]
    assert isinstance(theirs, Blob)
    assert (mine.nodes, mine.version, mine.reserved) == (theirs.nodes, theirs.version, theirs.reserved), data.hex()


byte_writes = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)
bit_flips = st.lists(st.integers(0, 2**23), min_size=1, max_size=4)


@DAMAGE_SETTINGS
@given(blob=base_blobs, writes=byte_writes, flips=bit_flips, overwrite=st.booleans())
def test_damaged_bytes_give_a_blob_or_fdterror(reader: Reader, blob: bytes, writes: list[tuple[int, int]], flips: list[int], overwrite: bool) -> None:
    """Bytes overwritten with random values, or bits flipped, anywhere in the blob."""
    damaged = bytearray(blob)
    if overwrite:
        for index, value in writes:
            damaged[index % len(blob)] = value
    else:
        for bit in flips:
            bit %= 8 * len(blob)
            damaged[bit // 8] ^= 1 << (bit % 8)
    _compare_when_both_read(reader, bytes(damaged), assert_blob_or_fdterror(reader, bytes(damaged)))


header_values = st.one_of(
    st.integers(0, 1024),  # plausible offsets and sizes, around the real ones
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 1, 15, 16, 17, 18, 2**31, 2**32 - 1]),
)


@DAMAGE_SETTINGS
@given(blob=base_blobs, changes=st.dictionaries(st.sampled_from(HEADER_FIELDS[1:]), header_values, min_size=1, max_size=4))
def test_random_header_fields_give_a_blob_or_fdterror(reader: Reader, blob: bytes, changes: dict[str, int]) -> None:
    damaged = with_header(blob, **changes)
    result = assert_blob_or_fdterror(reader, damaged)
    _compare_when_both_read(reader, damaged, result)
    if changes.get("totalsize", len(blob)) > len(blob):
        assert result[0] == "FdtError" and "truncated" in result[1][0], result  # type: ignore[index]


# --------------------------------------------------------------------------------------------
# Specific refusals


@pytest.mark.parametrize(
    "data",
    [b"", b"\xd0", b"\xd0\x0d\xfe", b"\xd0\x0d\xfe\xee" + bytes(60), bytes(64), b"/dts-v1/;\n/ { };\n",
     b"\xed\xfe\x0d\xd0" + write_fdt(tokens_of(SMALL_TREE))[4:]],
    ids=["empty", "1-byte", "3-bytes", "magic+1", "zeros", "dts-text", "little-endian-magic"],
)
def test_wrong_magic(reader: Reader, data: bytes) -> None:
    assert not fdt.is_blob(data)
    with pytest.raises(FdtError) as refused:
        reader.read(data)
    assert refused.value.message.startswith("not a flattened device tree"), refused.value.message
    assert refused.value.offset == 0


@pytest.mark.parametrize("length", [4, 5, 8, 20, 36, 39])
def test_shorter_than_the_header(reader: Reader, length: int) -> None:
    data = write_fdt(tokens_of(SMALL_TREE))[:length]
    assert fdt.is_blob(data)
    with pytest.raises(FdtError) as refused:
        reader.read(data)
    assert "truncated" in refused.value.message and "40-byte header" in refused.value.message, refused.value.message


@pytest.mark.parametrize("version", [0, 1, 2, 15])
def test_versions_before_16_are_refused(reader: Reader, version: int) -> None:
    blob = with_header(write_fdt(tokens_of(SMALL_TREE)), version=version, last_comp_version=min(version, 16))
    with pytest.raises(FdtError) as refused:
        reader.read(blob)
    assert f"version {version} " in refused.value.message, refused.value.message


def test_last_compatible_version_after_17_is_refused(reader: Reader) -> None:
    with pytest.raises(FdtError) as refused:
        reader.read(with_header(write_fdt(tokens_of(SMALL_TREE)), version=18, last_comp_version=18))
    assert "unsupported device tree blob version 18" in refused.value.message, refused.value.message


def test_nesting_deeper_than_max_depth_is_refused(reader: Reader) -> None:
    for depth in (fdt.MAX_DEPTH, fdt.MAX_DEPTH + 1, 4 * fdt.MAX_DEPTH):
        with pytest.raises(FdtError) as refused:
            reader.read(write_fdt(tokens_of(chain(depth))))
        assert f"nested deeper than {fdt.MAX_DEPTH}" in refused.value.message, refused.value.message


def test_block_offsets_past_the_end_are_refused(reader: Reader) -> None:
    blob = write_fdt(tokens_of(SMALL_TREE))
    for name in ("off_dt_struct", "off_dt_strings", "off_mem_rsvmap"):
        with pytest.raises(FdtError) as refused:
            reader.read(with_header(blob, **{name: len(blob) + 4}))
        assert "past the blob's end" in refused.value.message, (name, refused.value.message)


ROOT = [("begin", ""), ("prop", "a", b"1")]
MALFORMED: dict[str, tuple[list[Token], str]] = {
    # name: (structure tokens, what read_python's message says)
    "unclosed-subnode": ([*ROOT, ("begin", "x")], "the structure block ends inside /x"),
    "duplicate-property": ([*ROOT, ("prop", "b", b"2"), ("prop", "a", b"3"), ("end",)], "property `a` appears twice in /"),
    "duplicate-property-in-subnode": ([*ROOT, ("begin", "x"), ("prop", "p", b""), ("prop", "p", b""), ("end",), ("end",)],
                                      "property `p` appears twice in /x"),
    "second-root": ([*ROOT, ("end",), ("begin", ""), ("end",)], "a second root node"),
    "named-root": ([("begin", "x"), ("end",)], "the first node is `x`, not the root"),
    "slash-in-name": ([*ROOT, ("begin", "a/b"), ("end",), ("end",)], "bad node name 'a/b' under /"),
    "empty-subnode-name": ([*ROOT, ("begin", ""), ("end",), ("end",)], "bad node name '' under /"),
    "non-ascii-node-name": ([*ROOT, ("begin", "caf\u00e9"), ("end",), ("end",)], "a node name is not ASCII"),
    "non-ascii-property-name": ([*ROOT, ("prop", "caf\u00e9", b""), ("end",)], "a property name is not ASCII"),
    "unknown-token-after-root": ([*ROOT, ("end",), ("raw", 0x77)], "unknown structure token 0x77"),
    "property-after-root": ([*ROOT, ("end",), ("prop", "z", b"")], "a property outside any node"),
    "end-node-after-root": ([*ROOT, ("end",), ("end",)], "an end-of-node token without a node"),
    "unclosed-root": (tokens_of(SMALL_TREE)[:-1], "the structure block ends inside /"),
}

LIBFDT_REFUSES_TOO = {"unclosed-subnode"}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_structure_is_refused(reader: Reader, request: pytest.FixtureRequest, case: str) -> None:
    tokens, says = MALFORMED[case]
    with pytest.raises(FdtError) as refused:
        reader.read(write_fdt(tokens))
    assert says in refused.value.message, refused.value.message


def test_missing_fdt_end_is_refused(reader: Reader, request: pytest.FixtureRequest) -> None:
    with pytest.raises(FdtError) as refused:
        reader.read(write_fdt(tokens_of(SMALL_TREE), end_token=False))
    assert "ends in the middle of a token" in refused.value.message, refused.value.message


def test_error_offsets_point_at_the_problem() -> None:
    """The offsets read_python gives, where the writer put the problem."""
    blob = write_fdt([("begin", ""), ("raw", 5), ("end",)])
    with pytest.raises(FdtError) as refused:
        fdt.read_python(blob)
    assert refused.value.offset == header(blob, "off_dt_struct") + 8  # the root's token + its empty name
    assert refused.value.message == "unknown structure token 0x5"
    blob = write_fdt(MALFORMED["second-root"][0])
    with pytest.raises(FdtError) as refused:
        fdt.read_python(blob)
    assert refused.value.offset == header(blob, "off_dt_struct") + 8 + 16 + 4  # begin, prop "a" <1>, end


def _bad_name_blob(name: bytes) -> bytes:
    """A root with one property whose name (in the strings block) is replaced by `name`."""
    blob = write_fdt([("begin", ""), ("prop", "pqr", b"v"), ("end",)])
    assert blob.endswith(b"pqr\0")
    return with_header(blob[:-4] + name, totalsize=len(blob) - 4 + len(name), size_dt_strings=len(name))


@pytest.mark.parametrize("nameoff", [4, 5, 1000, 2**32 - 1], ids=["end-of-strings", "past-strings", "far", "max"])
def test_property_name_outside_the_strings_block(reader: Reader, request: pytest.FixtureRequest, nameoff: int) -> None:
    blob = bytearray(write_fdt([("begin", ""), ("prop", "pqr", b"v"), ("end",)]))
    struct.pack_into(">I", blob, header(bytes(blob), "off_dt_struct") + 16, nameoff)  # FDT_PROP's nameoff
    assert header(bytes(blob), "size_dt_strings") == 4
    kind, detail = outcome(reader, bytes(blob))
    assert kind == "FdtError", (kind, detail)
    assert f"name offset ({nameoff}) outside the strings block" in detail[0]  # type: ignore[index]


def test_property_name_not_utf8(reader: Reader, request: pytest.FixtureRequest) -> None:
    blob = _bad_name_blob(b"p\xffr\0")
    kind, detail = outcome(reader, blob)
    assert kind == "FdtError", (kind, detail)
    assert "a property name is not ASCII" in detail[0]  # type: ignore[index]


def test_property_name_without_nul_in_the_strings_block(reader: Reader, request: pytest.FixtureRequest) -> None:
    blob = _bad_name_blob(b"pqrs")
    kind, detail = outcome(reader, blob)
    assert kind == "FdtError", (kind, detail)


def test_readers_agree_on_a_reservation_of_size_zero() -> None:
    """Both stop at the first entry of size 0, as libfdt, dtc and the kernel do (the
    specification's terminator is (0, 0))."""
    need_libfdt()
    blob = write_fdt(tokens_of(SMALL_TREE), [(0x3000, 0x20), (0x1000, 0), (0x2000, 0x10)])
    assert fdt.read_python(blob).reserved == ((0x3000, 0x20),)
    assert read_libfdt(blob) == fdt.read_python(blob)


def test_known_defect_filter_needs_the_trigger() -> None:
    """known_pylibfdt_defect excuses a crash only on a blob that has what causes it."""
    good = write_fdt(tokens_of(SMALL_TREE))
    assert prop_names_libfdt_reaches(good) == [b"compatible", b"#address-cells", b"empty", b"odd"]
    assert not known_pylibfdt_defect(good, ("signal", "SIGSEGV"))
    assert not known_pylibfdt_defect(good, ("exception", "SystemError ... UnicodeDecodeError"))
    assert known_pylibfdt_defect(_bad_name_blob(b"pqrs"), ("signal", "SIGSEGV"))
    assert known_pylibfdt_defect(_bad_name_blob(b"p\xffr\0"), ("exception", "UnicodeDecodeError ... SystemError"))
    assert not known_pylibfdt_defect(_bad_name_blob(b"p\xffr\0"), ("signal", "SIGSEGV"))


# --------------------------------------------------------------------------------------------
# A blob from dtc

DTS = """\
/dts-v1/;
/memreserve/ 0x10000000 0x00100000;
/memreserve/ 0x0000000123456780 0x1000;

/ {
	#address-cells = <2>;
	#size-cells = <2>;
	model = "dtgen fdt test";

	memory@40000000 {
		device_type = "memory";
		reg = <0x0 0x40000000 0x0 0x40000000>;
	};

	reserved-memory {
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;

		cma: linux,cma {
			compatible = "shared-dma-pool";
			reusable;
			size = <0x0 0x4000000>;
			linux,cma-default;
		};

		fw_mem: firmware@50000000 {
			reg = <0x0 0x50000000 0x0 0x100000>;
			no-map;
		};
	};

	dev: device@60000000 {
		reg = <0x0 0x60000000 0x0 0x1000>;
		memory-region = <&fw_mem>;
	};
};
"""


def test_dtc_blob(tmp_path: Path) -> None:
    dtc = realtools.need("dtc")
    (tmp_path / "t.dts").write_text(DTS)
    done = subprocess.run([dtc, "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(tmp_path / "t.dtb"), str(tmp_path / "t.dts")],
                          capture_output=True, text=True, timeout=realtools.T_DTC)
    assert done.returncode == 0, done.stderr
    blob = (tmp_path / "t.dtb").read_bytes()

    got = fdt.read_python(blob)
    if libfdt is not None:
        assert fdt._read_libfdt(libfdt, blob) == got
        assert read_libfdt(blob) == got
    with forced("python"):
        assert fdt.read(blob) == got

    assert got.version == 17
    assert got.reserved == ((0x10000000, 0x100000), (0x123456780, 0x1000))
    nodes = {n.path: dict(n.props) for n in got.nodes}
    assert len(nodes) == len(got.nodes)  # no path twice
    assert [p for p in nodes if not p.startswith("/__")] == [
        "/", "/memory@40000000", "/reserved-memory", "/reserved-memory/linux,cma",
        "/reserved-memory/firmware@50000000", "/device@60000000",
    ]
    assert nodes["/"]["model"] == b"dtgen fdt test\0"
    assert nodes["/"]["#address-cells"] == struct.pack(">I", 2)
    assert nodes["/memory@40000000"]["reg"] == struct.pack(">4I", 0, 0x40000000, 0, 0x40000000)
    assert nodes["/memory@40000000"]["device_type"] == b"memory\0"
    cma = nodes["/reserved-memory/linux,cma"]
    assert cma["reusable"] == b"" and cma["linux,cma-default"] == b""
    assert cma["size"] == struct.pack(">2I", 0, 0x4000000)
    assert nodes["/reserved-memory"]["ranges"] == b""
    fw = nodes["/reserved-memory/firmware@50000000"]
    assert fw["reg"] == struct.pack(">4I", 0, 0x50000000, 0, 0x100000)
    assert nodes["/device@60000000"]["memory-region"] == fw["phandle"]  # the reference, resolved
    assert len(fw["phandle"]) == 4 and fw["phandle"] != b"\0\0\0\0"
    # -@: every label, with the path of its node.
    assert nodes["/__symbols__"] == {
        "cma": b"/reserved-memory/linux,cma\0",
        "fw_mem": b"/reserved-memory/firmware@50000000\0",
        "dev": b"/device@60000000\0",
    }
