"""Reading a flattened device tree (a `.dtb`): nodes in blob order with their raw property bytes,
and the memory reservation block (`/memreserve/`).

Two readers give the same `Blob`: libfdt's own walk through pylibfdt when it is installed, and a
reader of the format written here from the Devicetree Specification (v0.4, chapter 5), for
installs without pylibfdt (PyPI has no wheels for it: it builds from C and needs the Python
headers, which a fresh Debian lacks). `DTGEN_FDT=libfdt|python` forces one; the tests run both
over every board they compile and over damaged blobs.

Either reader refuses a damaged blob with `FdtError` (what is wrong, at which byte), never with
another exception: a truncated download or a file that is not a DTB is user input, not a bug.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

MAGIC = 0xD00DFEED
HEADER = struct.Struct(">10I")
_BEGIN_NODE, _END_NODE, _PROP, _NOP, _END = 1, 2, 3, 4, 9
# Deeper than any real tree (libfdt's FDT_MAX_DEPTH is 32); it bounds the work a hostile blob
# can ask for.
MAX_DEPTH = 64


class FdtError(Exception):
    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class FdtNode:
    path: str
    props: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Blob:
    nodes: tuple[FdtNode, ...]  # depth first, in blob order; the root first
    reserved: tuple[tuple[int, int], ...]  # the memory reservation block: (address, size)
    version: int


def is_blob(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack_from(">I", data, 0)[0] == MAGIC


def read(data: bytes) -> Blob:
    """The blob's tree, by pylibfdt when importable (or DTGEN_FDT=libfdt), else in Python."""
    choice = os.environ.get("DTGEN_FDT", "")
    if choice != "python":
        try:
            import libfdt
        except ImportError:
            if choice == "libfdt":
                raise FdtError("DTGEN_FDT=libfdt, but pylibfdt is not installed") from None
        else:
            # Every blob passes the Python reader's checks before libfdt sees it: pylibfdt
            # 1.7.2 crashes the interpreter (SIGSEGV) on a property name offset outside the
            # strings block, raises SystemError on a name that is not UTF-8, and walks past a
            # duplicate property or a second root (tests/test_fdt.py found these).
            read_python(data)
            try:
                return _read_libfdt(libfdt, data)
            except FdtError as e:
                raise e from None
    return read_python(data)


def _check_header(data: bytes) -> tuple[int, ...]:
    """What both readers check first, so that both name the same problem the same way."""
    if len(data) < 4 or struct.unpack_from(">I", data, 0)[0] != MAGIC:
        head = data[:4].hex() or "empty"
        raise FdtError(f"not a flattened device tree: it does not start with the magic d00dfeed (found {head})")
    if len(data) < HEADER.size:
        raise FdtError(f"truncated device tree blob: {len(data)} bytes, shorter than its 40-byte header")
    fields = HEADER.unpack_from(data, 0)
    _magic, total, off_struct, off_strings, off_rsv, version, last_comp = fields[:7]
    if total > len(data):
        raise FdtError(f"truncated device tree blob: the header says {total} bytes, the file has {len(data)}")
    if version < 16 or last_comp > 17:
        raise FdtError(f"unsupported device tree blob version {version} (last compatible {last_comp}); dtc writes 17")
    for what, offset in (("structure block", off_struct), ("strings block", off_strings), ("reservation block", off_rsv)):
        if offset > total:
            raise FdtError(f"the {what} starts at byte {offset}, past the blob's end ({total})", 8)
    return fields


def read_python(data: bytes) -> Blob:
    _magic, total, off_struct, off_strings, off_rsv, version, _last, _cpu, size_strings, size_struct = _check_header(data)
    data = data[:total]
    if off_strings + size_strings > total:
        raise FdtError(f"the strings block ({size_strings} bytes at {off_strings}) runs past the blob's end ({total})", 32)
    end = off_struct + size_struct if version >= 17 else total
    if end > total:
        raise FdtError(f"the structure block ({size_struct} bytes at {off_struct}) runs past the blob's end ({total})", 36)
    strings = data[off_strings : off_strings + size_strings]
    return Blob(_walk(data, off_struct, end, strings), _reservations(data, off_rsv, total), version)


def _reservations(data: bytes, pos: int, total: int) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    while True:
        if pos + 16 > total:
            raise FdtError("the memory reservation block has no (0, 0) terminator", pos)
        address, size = struct.unpack_from(">QQ", data, pos)
        # The specification ends the block at (0, 0); libfdt, dtc and the kernel
        # (early_init_fdt_scan_reserved_mem) stop at the first entry of size 0. Read it as they do.
        if size == 0:
            return tuple(out)
        out.append((address, size))
        pos += 16


def _walk(data: bytes, pos: int, end: int, strings: bytes) -> tuple[FdtNode, ...]:
    nodes: list[FdtNode] = []
    # Open nodes: (index in `nodes`, path, properties so far, their names).
    stack: list[tuple[int, str, list[tuple[str, bytes]], set[str]]] = []

    def word(at: int) -> int:
        if at + 4 > end:
            raise FdtError("the structure block ends in the middle of a token", at)
        return int(struct.unpack_from(">I", data, at)[0])

    while True:
        at = pos
        token = word(pos)
        pos += 4
        if token == _BEGIN_NODE:
            nul = data.find(b"\0", pos, end)
            if nul < 0:
                raise FdtError("a node name has no terminating NUL", pos)
            try:
                name = data[pos:nul].decode("ascii")
            except UnicodeDecodeError:
                raise FdtError("a node name is not ASCII", pos) from None
            if not stack and nodes:
                raise FdtError("a second root node after the first one ended", at)
            if not stack and name:
                raise FdtError(f"the first node is `{name}`, not the root", at)
            if stack and (not name or "/" in name):
                raise FdtError(f"bad node name {name!r} under {stack[-1][1]}", pos)
            if len(stack) >= MAX_DEPTH:
                raise FdtError(f"nodes nested deeper than {MAX_DEPTH}", at)
            path = "/" if not stack else stack[-1][1].rstrip("/") + "/" + name
            stack.append((len(nodes), path, [], set()))
            nodes.append(FdtNode(path, ()))
            pos = (nul + 4) & ~3
        elif token == _END_NODE:
            if not stack:
                raise FdtError("an end-of-node token without a node", at)
            index, path, props, _ = stack.pop()
            nodes[index] = FdtNode(path, tuple(props))
        elif token == _PROP:
            if not stack:
                raise FdtError("a property outside any node", at)
            length, name_off = word(pos), word(pos + 4)
            pos += 8
            nul = strings.find(b"\0", name_off) if name_off < len(strings) else -1
            if nul < 0:
                raise FdtError(f"a property name offset ({name_off}) outside the strings block", at + 8)
            try:
                name = strings[name_off:nul].decode("ascii")
            except UnicodeDecodeError:
                raise FdtError("a property name is not ASCII", at + 8) from None
            if pos + length > end:
                raise FdtError(f"property `{name}` ({length} bytes) runs past the structure block", at)
            _, path, props, seen = stack[-1]
            if name in seen:
                raise FdtError(f"property `{name}` appears twice in {path}", at)
            seen.add(name)
            props.append((name, bytes(data[pos : pos + length])))
            pos = (pos + length + 3) & ~3
        elif token == _NOP:
            continue
        elif token == _END:
            if stack:
                raise FdtError(f"the structure block ends inside {stack[-1][1]}", at)
            break
        else:
            raise FdtError(f"unknown structure token {token:#x}", at)
    if not nodes:
        raise FdtError("the blob has no root node", pos)
    return tuple(nodes)


def _read_libfdt(libfdt, data: bytes) -> Blob:  # type: ignore[no-untyped-def]
    """The same walk through libfdt's own accessors (fdt_first_subnode, fdt_get_property_by_offset...)."""
    try:
        fdt = libfdt.Fdt(bytes(data))
        notfound = (libfdt.NOTFOUND,)
        nodes: list[FdtNode] = []
        todo: list[tuple[int, str, int]] = [(0, "/", 0)]
        while todo:
            offset, path, depth = todo.pop()
            if depth >= MAX_DEPTH:
                raise FdtError(f"nodes nested deeper than {MAX_DEPTH}", offset)
            props: list[tuple[str, bytes]] = []
            prop = fdt.first_property_offset(offset, notfound)
            while prop >= 0:
                got = fdt.get_property_by_offset(prop)
                props.append((got.name, bytes(got)))
                prop = fdt.next_property_offset(prop, notfound)
            nodes.append(FdtNode(path, tuple(props)))
            children: list[tuple[int, str, int]] = []
            child = fdt.first_subnode(offset, notfound)
            while child >= 0:
                name = fdt.get_name(child)
                children.append((child, path.rstrip("/") + "/" + name, depth + 1))
                child = fdt.next_subnode(child, notfound)
            todo.extend(reversed(children))
        reserved = tuple(tuple(int(v) for v in fdt.get_mem_rsv(i)) for i in range(fdt.num_mem_rsv()))
        return Blob(tuple(nodes), reserved, HEADER.unpack_from(data, 0)[5])  # type: ignore[arg-type]
    except libfdt.FdtException as e:
        raise FdtError(f"libfdt: {e}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise FdtError(f"libfdt: {e}") from None
