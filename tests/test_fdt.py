"""Reading device tree blobs (dtgen/fdt.py).

The blobs come from a small writer in this file, written from the Devicetree Specification v0.4,
chapter 5 (nothing from dtgen writes them), from dtc, and from damaging either. Both readers are
checked: the Python one (`read_python`) and libfdt's walk (`read` with DTGEN_FDT=libfdt), which
must agree with each other and with what was written, and must refuse a damaged blob with
`FdtError` only, never with another exception.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtgen import fdt
from dtgen.fdt import Blob, FdtError, FdtNode
from tests import realtools

try:
    import libfdt
except ImportError:  # pragma: no cover - pylibfdt is a test dependency; CI has it
    libfdt = None

# --------------------------------------------------------------------------------------------
# A device tree blob writer, from the Devicetree Specification v0.4, chapter 5

SPEC_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
HEADER_BYTES = 40  # 5.2: ten big-endian u32
# 5.2 field order; the index of each field in the header (its byte offset is 4 * index).
(H_MAGIC, H_TOTALSIZE, H_OFF_STRUCT, H_OFF_STRINGS, H_OFF_RSVMAP, H_VERSION, H_LAST_COMP,
 H_BOOT_CPUID, H_SIZE_STRINGS, H_SIZE_STRUCT) = range(10)

# Structure tokens, abstractly: ("begin", name), ("prop", name, value), ("end",), ("nop",).
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
    strings block. An FDT_NOP goes before the i-th token for each i in `nops_at` (i may be the
    index of the closing FDT_END)."""
    strings = bytearray()
    offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in offsets:
            offsets[name] = len(strings)
            strings.extend(name.encode("ascii") + b"\0")
        return offsets[name]

    structure = bytearray()
    every = list(tokens) + ([("fdt_end",)] if end_token else [])
    for index, token in enumerate(every):
        if index in nops_at:
            structure += struct.pack(">I", FDT_NOP)
        kind = token[0]
        if kind == "begin":  # 5.4.1: FDT_BEGIN_NODE, the unit name NUL-terminated, padded to 4
            structure += struct.pack(">I", FDT_BEGIN_NODE) + _pad4(token[1].encode("ascii") + b"\0")
        elif kind == "end":
            structure += struct.pack(">I", FDT_END_NODE)
        elif kind == "prop":  # FDT_PROP, u32 len, u32 nameoff, the value padded to 4
            name, value = token[1], token[2]
            structure += struct.pack(">III", FDT_PROP, len(value), name_offset(name)) + _pad4(value)
        elif kind == "nop":
            structure += struct.pack(">I", FDT_NOP)
        elif kind == "fdt_end":
            structure += struct.pack(">I", FDT_END)
        elif kind == "raw":  # a token number of the caller's choosing
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


def header_field(blob: bytes, index: int) -> int:
    return int(struct.unpack_from(">I", blob, 4 * index)[0])


def with_header(blob: bytes, **fields: int) -> bytes:
    """The blob with header fields replaced: with_header(b, H_VERSION=15)."""
    data = bytearray(blob)
    for name, value in fields.items():
        struct.pack_into(">I", data, 4 * globals()[name], value)
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
    """A root with `depth` nested descendants: the deepest node is at depth `depth`."""
    node = Node("n", [("d", struct.pack(">I", depth))])
    for level in range(depth - 1, 0, -1):
        node = Node("n", [("d", struct.pack(">I", level))], [node])
    return Node("", [], [node]) if depth else Node("")


# --------------------------------------------------------------------------------------------
# Readers


@contextmanager
def forced(which: str) -> Iterator[None]:
    with mock.patch.dict(os.environ, {"DTGEN_FDT": which}):
        yield


def read_forced_libfdt(data: bytes) -> Blob:
    with forced("libfdt"):
        return fdt.read(data)


def need_libfdt() -> None:
    if libfdt is None:
        realtools.need("pylibfdt (module libfdt) is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module", params=["python", "libfdt"])
def reader(request: pytest.FixtureRequest) -> Callable[[bytes], Blob]:
    """Each reader in turn: read_python, and read() with DTGEN_FDT=libfdt."""
    if request.param == "python":
        return fdt.read_python
    need_libfdt()
    return read_forced_libfdt


# --------------------------------------------------------------------------------------------
# Random trees

# Node names: the DT node-name characters (2.2.1), lower case, and an optional hex unit address.
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
reservations = st.lists(
    st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)).filter(lambda r: r != (0, 0)),
    max_size=4,
)


@st.composite
def subtrees(draw: st.DrawFn, name: str = "", depth: int = 0) -> Node:
    props = draw(properties)
    names = draw(st.lists(node_names, max_size=max(0, 3 - depth // 2), unique=True)) if depth < MAX_TREE_DEPTH else []
    return Node(name, props, [draw(subtrees(child, depth + 1)) for child in names])


trees = subtrees()


def nop_positions(first: int = 0) -> st.SearchStrategy[frozenset[int]]:
    """Token indexes to put an FDT_NOP before (most trees have fewer tokens than 60; those past
    the end are simply not used)."""
    return st.frozensets(st.integers(first, 60), max_size=6)


@st.composite
def valid_blobs(draw: st.DrawFn) -> bytes:
    return write_fdt(tokens_of(draw(trees)), draw(reservations), nops_at=draw(nop_positions(first=1)))
