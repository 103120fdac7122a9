"""Real-tool harness: prove generated outputs with the tools a kernel developer uses, on Debian's
`linux-source-6.12` tree unpacked at test time (nothing from the kernel is kept in the repository).

What it drives, and where each piece of the kernel's own build it copies comes from (6.12 tree):
- cpp: `gcc -E` with `dtc_cpp_flags` from scripts/Makefile.dtbs (`-nostdinc -I
  scripts/dtc/include-prefixes -undef -D__DTS__ -x assembler-with-cpp`).
- dtc and fdtoverlay: the kernel's own scripts/dtc/dtc and scripts/dtc/fdtoverlay (DTC 1.7.0),
  built by `make prepare` (CONFIG_DTC=y), as `make dtbs` uses them; Debian's dtc 1.6.1 warns
  differently (38 `interrupt_provider` warnings on exynos4412-odroidu3 that 1.7.0 does not give),
  so it can be chosen with `binary=` but is not the default. Flags: DTC_FLAGS of
  scripts/Makefile.dtbs at W=1 (see `DTC_W1_FLAGS`), `-b 0`, `-i <dts dir> -i include-prefixes`.
- dt-mk-schema / dt-validate (PyPI dtschema): `make dtbs_check` (Documentation/devicetree/
  bindings/Makefile and scripts/Makefile.dtbs: `dt-mk-schema -j <every binding .yaml>`, then
  `dt-validate -m -p processed-schema.json x.dtb`, whose `-p` is now spelled `-s`).
- the platform C: a built-in object in a scratch directory of the tree, configured with a real
  defconfig that enables CMA, cross-compiled with `W=1 KCFLAGS=-Werror`.

Expensive steps (unpack, defconfig + prepare per architecture, dt-mk-schema) run once and are
cached in `$DTGEN_TEST_CACHE`, else `<repo>/.cache/realtools`, keyed by what they depend on, under
file locks (several test modules, several processes, with or without pytest-xdist). A tool that is
missing skips the test with the reason, and fails it under CI=true (CI installs every tool:
`bash scripts/test` as root).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

KERNEL_TARBALL = Path(os.environ.get("DTGEN_KERNEL_TARBALL", "/usr/src/linux-source-6.12.tar.xz"))
KERNEL_PACKAGE = "linux-source-6.12"

# scripts/Makefile.dtbs (6.12), as `make W=1 dtbs` builds a .dtb: `DTC_FLAGS += -Wno-unique_unit_address`
# always, then with KBUILD_EXTRA_WARN containing 1 `-Wunique_unit_address_if_enabled` instead of the
# `-Wno-unit_address_vs_reg -Wno-avoid_unnecessary_addr_size -Wno-alias_paths
# -Wno-graph_child_address -Wno-simple_bus_reg` that W=0 adds. `-@` is added for base dtbs that
# overlays apply to (`overlay_symbols=True` here).
DTC_W1_FLAGS: tuple[str, ...] = ("-Wno-unique_unit_address", "-Wunique_unit_address_if_enabled")
# scripts/Makefile.dtbs: `dtc_cpp_flags` (less the -Wp,-MMD dependency file) and `-x assembler-with-cpp`.
CPP_FLAGS: tuple[str, ...] = ("-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp")

# Architecture -> (CROSS_COMPILE, defconfig enabling CONFIG_CMA and CONFIG_DMA_CMA in 6.12).
# arm: exynos_defconfig sets both explicitly; multi_v7_defconfig gets them too (selected), but builds
# a larger configuration. arm64: defconfig.
ARCHES: dict[str, tuple[str, str]] = {
    "arm64": ("aarch64-linux-gnu-", "defconfig"),
    "arm": ("arm-linux-gnueabihf-", "exynos_defconfig"),
}
SCRATCH_DIR = "drivers/dtgen_check"  # where compile_builtin() puts C files, inside the kernel tree

# Time limits, in seconds, for each kind of subprocess (cold, on 2 cores).
T_UNPACK = 900
T_PREPARE = 1200
T_MK_SCHEMA = 1200
T_VALIDATE = 900
T_COMPILE = 600
T_DTC = 120
T_QUICK = 60

# Properties and nodes that differ between two builds of the same tree (phandle numbering, the
# overlay and symbol bookkeeping dtc adds): ignored when comparing.
PHANDLE_PROPS = frozenset({"phandle", "linux,phandle"})
BOOKKEEPING_NODES = ("/__symbols__", "/__fixups__", "/__local_fixups__")


# --------------------------------------------------------------------------------------------
# Skipping, failing, running


def need(tool_or_reason: str) -> str:
    """A tool's path: beside this interpreter (a venv that is not activated), else on PATH.
    Missing, or given a reason (any text with a space) instead of a tool name, the test skips
    locally and fails under CI=true."""
    if not any(c.isspace() for c in tool_or_reason):
        found = _find_tool(tool_or_reason)
        if found is not None:
            return found
        reason = f"{tool_or_reason} is not installed (CI installs it: bash scripts/test as root)"
    else:
        reason = tool_or_reason
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _find_tool(name: str) -> str | None:
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


class ToolError(RuntimeError):
    """A real tool failed (non-zero exit or time limit); the message carries its output."""


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # What the caller's environment could slip into kbuild (KBUILD_EXTRA_WARN is W=, say).
    drop = {"ARCH", "CROSS_COMPILE", "KCFLAGS", "KCPPFLAGS", "KAFLAGS", "LLVM", "LLVM_IAS", "O", "W", "V", "C",
            "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GNUMAKEFLAGS"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("KBUILD_")}
    env["LC_ALL"] = "C"
    env.update(extra or {})
    return env


def _run(
    args: Sequence[str | Path],
    *,
    timeout: float,
    cwd: Path | None = None,
    check: bool = True,
    stdout_to: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an argument list (never a shell string) under a time limit; raise ToolError on failure."""
    argv = [str(a) for a in args]
    try:
        if stdout_to is not None:
            with open(stdout_to, "w") as out:
                done = subprocess.run(
                    argv, check=False, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.PIPE, text=True, timeout=timeout,
                )
        else:
            done = subprocess.run(
                argv, check=False, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=timeout,
            )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from e
    if check and done.returncode != 0:
        raise ToolError(
            f"exit {done.returncode}: {' '.join(argv)}\n{_tail(done.stdout or '')}{_tail(done.stderr or '')}"
        )
    return done


def _tail(text: str, lines: int = 60) -> str:
    parts = text.splitlines()
    return "\n".join(parts[-lines:]) + ("\n" if parts else "")


# --------------------------------------------------------------------------------------------
# Cache


def cache_dir() -> Path:
    """The cache root: $DTGEN_TEST_CACHE, else <repo>/.cache/realtools (gitignored)."""
    configured = os.environ.get("DTGEN_TEST_CACHE")
    root = Path(configured) if configured else ROOT / ".cache" / "realtools"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def lock_in(folder: Path, name: str) -> Iterator[None]:
    """An exclusive lock on `folder/name.lock`, shared by every process using that cache (flock:
    released if one dies)."""
    with open(folder / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked(name: str) -> contextlib.AbstractContextManager[None]:
    return lock_in(cache_dir(), name)


def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]


STALE_AFTER = 12 * 3600  # seconds unused after which another key's cache entry is removed


def _used(path: Path) -> Path:
    """Mark a cache entry as in use (its mtime), so that _prune leaves it to whoever uses it."""
    with contextlib.suppress(OSError):
        os.utime(path)
    return path


def _prune(folder: Path, prefix: str, keep: str) -> None:
    """Remove cache entries `prefix*` in folder, other than `keep`, that nobody used for
    STALE_AFTER: a new key replaced them (a new tarball, compiler or dtschema). Not at once: two
    environments sharing one cache (a venv and the system Python with another dtschema, say)
    must not pull each other's entries away mid-run."""
    if not folder.is_dir():
        return
    now = time.time()
    for entry in folder.iterdir():
        if not entry.name.startswith(prefix) or entry.name == keep:
            continue
        try:
            if now - entry.stat().st_mtime < STALE_AFTER:
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


_SCRATCH: Path | None = None


def scratch_dir() -> Path:
    """A fresh directory for outputs when the caller gives none: one per process, removed at exit
    (kept when DTGEN_KEEP_SCRATCH is set, to look at after a failure)."""
    global _SCRATCH
    if _SCRATCH is None:
        parent = cache_dir() / "scratch"
        parent.mkdir(exist_ok=True)
        _prune(parent, "", keep="")  # leftovers of processes that were killed
        _SCRATCH = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
        if not os.environ.get("DTGEN_KEEP_SCRATCH"):
            atexit.register(shutil.rmtree, _SCRATCH, True)
    return _SCRATCH


def _out_dir(out_dir: Path | None) -> Path:
    if out_dir is None:
        return Path(tempfile.mkdtemp(dir=scratch_dir()))
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


# --------------------------------------------------------------------------------------------
# The kernel tree


_MEMO: dict[object, object] = {}


def _tarball_key() -> str:
    if not KERNEL_TARBALL.is_file():
        need(f"{KERNEL_TARBALL} is missing: install Debian's {KERNEL_PACKAGE} (CI does: bash scripts/test as root)")
    st = KERNEL_TARBALL.stat()
    return _key(KERNEL_TARBALL.resolve(), st.st_size, st.st_mtime_ns)


def kernel_tree() -> Path:
    """The unpacked 6.12 source tree (the whole tarball: the C build needs it, and decompression
    dominates, so unpacking part of it saves little), cached per tarball (path, size, mtime)."""
    key = _tarball_key()
    if ("tree", key) in _MEMO:
        return _MEMO[("tree", key)]  # type: ignore[return-value]
    need("tar")
    need("xz")
    parent = cache_dir() / "src"
    done = parent / key
    with _locked("src"):
        if not done.is_dir():
            parent.mkdir(exist_ok=True)
            _prune(parent, "", keep=key)
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=parent))
            try:
                _run(["tar", "-xf", KERNEL_TARBALL, "-C", partial], timeout=T_UNPACK)
                os.rename(partial, done)  # done exists only once complete
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    tops = [p for p in done.iterdir() if p.is_dir() and (p / "Makefile").is_file()]
    if len(tops) != 1:
        raise ToolError(f"{KERNEL_TARBALL}: expected one top directory with a Makefile, found {tops}")
    _used(done)
    _MEMO[("tree", key)] = tops[0]
    return tops[0]


def find_dts(name: str, arch: str) -> Path:
    """A board's .dts (`exynos4412-odroidu3` or `exynos4412-odroidu3.dts`) under
    arch/<arch>/boot/dts, whatever vendor subdirectory it sits in; a path from the kernel tree's
    top (a board file's `devicetree.base` with `base_in: kernel`) as it is."""
    if "/" in name:
        return kernel_tree() / name
    if not name.endswith((".dts", ".dtsi")):
        name += ".dts"
    base = kernel_tree() / "arch" / arch / "boot" / "dts"
    index_key = ("dts-index", base)
    if index_key not in _MEMO:
        index: dict[str, list[Path]] = {}
        for folder, _dirs, files in os.walk(base):
            for file in files:
                if file.endswith((".dts", ".dtsi")):
                    index.setdefault(file, []).append(Path(folder) / file)
        _MEMO[index_key] = index
    found = _MEMO[index_key].get(name, [])  # type: ignore[attr-defined]
    if len(found) != 1:
        raise FileNotFoundError(f"{name}: {len(found)} matches under {base}: {found}")
    return found[0]


# --------------------------------------------------------------------------------------------
# cpp, dtc, fdtoverlay


def preprocess(dts: Path, extra_includes: Iterable[Path] = (), *, out: Path | None = None) -> Path:
    """cpp as the kernel runs it on a .dts/.dtso: `-nostdinc -I <dts dir> [-I extra] -I
    scripts/dtc/include-prefixes -undef -D__DTS__ -x assembler-with-cpp`; returns the .pp file."""
    need("gcc")
    dts = Path(dts).resolve()
    prefixes = kernel_tree() / "scripts" / "dtc" / "include-prefixes"
    target = out or _out_dir(None) / (dts.name + ".pp")
    includes: list[str | Path] = ["-I", dts.parent]
    for extra in extra_includes:
        includes += ["-I", Path(extra).resolve()]
    includes += ["-I", prefixes]
    _run(["gcc", "-E", *CPP_FLAGS[:1], *includes, *CPP_FLAGS[1:], "-o", target, dts], timeout=T_DTC)
    return target


def kernel_dtc() -> tuple[Path, Path]:
    """The kernel's own (dtc, fdtoverlay), built by `make prepare`: the host binaries are the same
    from any architecture's build, so a finished one is reused, else arm64's is built."""
    if "kernel-dtc" not in _MEMO:
        build = _finished_build("arm64", ARCHES["arm64"][1]) or _finished_build("arm", ARCHES["arm"][1])
        build = build or kernel_build("arm64")
        _MEMO["kernel-dtc"] = (build / "scripts" / "dtc" / "dtc", build / "scripts" / "dtc" / "fdtoverlay")
    return _MEMO["kernel-dtc"]  # type: ignore[return-value]


_POSITION = re.compile(r"^.*?(?=(?:Warning|ERROR) \([\w-]+\): )")


def normalise_dtc_messages(stderr: str) -> list[str]:
    """dtc's `Warning (check): /node: message` lines, without their leading file:line.col
    position (which moves with the source) and without `also defined at` continuation lines;
    deduplicated, in order. Other non-empty lines are kept as they are."""
    seen: dict[str, None] = {}
    for line in stderr.splitlines():
        if not line.strip() or line.startswith((" ", "\t")):
            continue
        seen.setdefault(_POSITION.sub("", line, count=1).strip(), None)
    return list(seen)


def new_messages(base: Iterable[str], other: Iterable[str]) -> list[str]:
    """The messages of `other` that `base` lacks (set difference, `other`'s order)."""
    known = set(base)
    return [m for m in other if m not in known]


def dtc(
    source: Path,
    *,
    overlay_symbols: bool = False,
    include_dirs: Iterable[Path] = (),
    out: Path | None = None,
    binary: str | Path | None = None,
) -> tuple[Path, list[str]]:
    """Compile a (preprocessed) .dts/.dtso to a blob with the kernel's W=1 flags (`-@` too when
    overlay_symbols); returns (dtb, normalised warnings). Raises ToolError if dtc fails."""
    tool = _chosen(binary) or str(kernel_dtc()[0])
    source = Path(source)
    target = out or _out_dir(None) / (source.name.split(".")[0] + (".dtbo" if _is_plugin(source) else ".dtb"))
    prefixes = kernel_tree() / "scripts" / "dtc" / "include-prefixes"
    incs: list[str | Path] = []
    for folder in [*include_dirs, prefixes]:
        incs += ["-i", folder]
    args: list[str | Path] = [tool, "-I", "dts", "-O", "dtb", "-o", target, "-b", "0", *incs, *DTC_W1_FLAGS]
    if overlay_symbols:
        args.append("-@")
    done = _run([*args, source], timeout=T_DTC)
    return target, normalise_dtc_messages(done.stderr)


def _chosen(binary: str | Path | None) -> str | None:
    """A tool the caller chose: a path as it is, a bare name (Debian's `dtc`, say) looked up."""
    if binary is None:
        return None
    return str(binary) if os.sep in str(binary) else need(str(binary))


def _is_plugin(source: Path) -> bool:
    try:
        return "/plugin/;" in source.read_text(errors="replace")
    except OSError:
        return False


def compile_dts(
    dts: Path,
    *,
    fragments: Sequence[Path | str] = (),
    overlay_symbols: bool = False,
    extra_includes: Iterable[Path] = (),
    out_dir: Path | None = None,
    binary: str | Path | None = None,
) -> tuple[Path, list[str]]:
    """cpp + dtc a board .dts (or an overlay .dtso) as the kernel does, with each fragment (a
    .dtsi path, or its text) appended: a wrapper .dts `#include`s the board, then the fragments.
    Returns (dtb, normalised warnings)."""
    work = _out_dir(out_dir)
    dts = Path(dts).resolve()
    stem = dts.name.rsplit(".", 1)[0]
    source = dts
    if fragments:
        lines = [f'#include "{dts}"']
        for n, fragment in enumerate(fragments):
            if isinstance(fragment, str):
                path = work / f"{stem}.fragment{n}.dtsi"
                path.write_text(fragment)
            else:
                path = Path(fragment).resolve()
            lines.append(f'#include "{path}"')
        source = work / f"{stem}.with-fragments.dts"
        source.write_text("\n".join(lines) + "\n")
    suffix = ".dtbo" if dts.suffix == ".dtso" else ".dtb"
    pp = preprocess(source, [dts.parent, *extra_includes], out=work / f"{stem}.pp")
    return dtc(pp, overlay_symbols=overlay_symbols, include_dirs=[dts.parent], out=work / f"{stem}{suffix}", binary=binary)


def fdtoverlay(base_dtb: Path, overlay_dtbo: Path, *, out: Path | None = None, binary: str | Path | None = None) -> Path:
    """Apply an overlay (compiled with /plugin/) to a base compiled with -@: the kernel's
    scripts/dtc/fdtoverlay by default (what scripts/Makefile.dtbs runs)."""
    tool = _chosen(binary) or str(kernel_dtc()[1])
    target = out or _out_dir(None) / (Path(base_dtb).stem + "+" + Path(overlay_dtbo).stem + ".dtb")
    _run([tool, "-o", target, "-i", base_dtb, overlay_dtbo], timeout=T_DTC)
    return target


# --------------------------------------------------------------------------------------------
# Reading a blob (pure Python: the FDT format is a header, a string table and a token stream)

Tree = dict[str, dict[str, bytes]]

_FDT_MAGIC = 0xD00DFEED
_BEGIN_NODE, _END_NODE, _PROP, _NOP, _END = 1, 2, 3, 4, 9


def decode(dtb: Path | bytes) -> Tree:
    """A flattened tree: {node path: {property name: raw value bytes}}, nodes in blob order."""
    data = Path(dtb).read_bytes() if not isinstance(dtb, (bytes, bytearray)) else bytes(dtb)
    if len(data) < 40:
        raise ValueError("not a device tree blob: too short")
    magic, total, off_struct, off_strings, _rsv, version, _last, _cpu, size_strings, size_struct = struct.unpack_from(
        ">10I", data, 0
    )
    if magic != _FDT_MAGIC:
        raise ValueError(f"not a device tree blob: magic {magic:#x}")
    if version < 17 or total > len(data):
        raise ValueError(f"unsupported or truncated blob: version {version}, size {total} of {len(data)}")
    strings = data[off_strings : off_strings + size_strings]
    end = off_struct + size_struct
    tree: Tree = {}
    stack: list[str] = []
    pos = off_struct
    while pos < end:
        (token,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if token == _BEGIN_NODE:
            nul = data.index(b"\0", pos)
            name = data[pos:nul].decode()
            pos = _align4(nul + 1)
            path = "/" if not stack else (stack[-1].rstrip("/") + "/" + name)
            stack.append(path)
            tree[path] = {}
        elif token == _END_NODE:
            stack.pop()
        elif token == _PROP:
            length, name_off = struct.unpack_from(">II", data, pos)
            pos += 8
            name = strings[name_off : strings.index(b"\0", name_off)].decode()
            tree[stack[-1]][name] = data[pos : pos + length]
            pos = _align4(pos + length)
        elif token == _NOP:
            continue
        elif token == _END:
            break
        else:
            raise ValueError(f"bad token {token:#x} at offset {pos - 4}")
    if stack:
        raise ValueError("truncated structure block")
    return tree


def _align4(n: int) -> int:
    return (n + 3) & ~3


def phandles(tree: Tree) -> dict[int, str]:
    """phandle value -> node path."""
    found: dict[int, str] = {}
    for path, props in tree.items():
        for name in ("phandle", "linux,phandle"):
            if name in props and len(props[name]) == 4:
                found[struct.unpack(">I", props[name])[0]] = path
    return found


def cells(value: bytes) -> list[int]:
    """A property value as big-endian 32-bit cells."""
    return list(struct.unpack(f">{len(value) // 4}I", value[: len(value) // 4 * 4]))


def strings_of(value: bytes) -> list[str]:
    """A string-list property value."""
    return [s.decode(errors="replace") for s in value.split(b"\0")[:-1]] if value else []


def _bookkeeping(path: str) -> bool:
    return any(path == b or path.startswith(b + "/") for b in BOOKKEEPING_NODES)


def reserved_memory_view(tree: Tree) -> dict[str, dict[str, object]]:
    """What dtgen changes, comparable between two builds: every node of the /reserved-memory
    subtree with its properties (phandle values left out), and every other node's memory-region
    (as the referenced nodes' paths) and memory-region-names (as strings). __symbols__,
    __fixups__ and __local_fixups__ are ignored."""
    by_phandle = phandles(tree)
    view: dict[str, dict[str, object]] = {}
    for path, props in tree.items():
        if _bookkeeping(path):
            continue
        if path == "/reserved-memory" or path.startswith("/reserved-memory/"):
            view[path] = {k: v for k, v in props.items() if k not in PHANDLE_PROPS}
            if "memory-region" not in props:
                continue
        if "memory-region" in props or "memory-region-names" in props:
            entry = view.setdefault(path, {})
            if "memory-region" in props:
                entry["memory-region"] = [by_phandle.get(p, f"<unresolved phandle {p:#x}>") for p in cells(props["memory-region"])]
            if "memory-region-names" in props:
                entry["memory-region-names"] = strings_of(props["memory-region-names"])
    return view


# --------------------------------------------------------------------------------------------
# dt-mk-schema and dt-validate


def dtschema_version() -> str:
    """dtschema's version (part of the processed schema's cache key)."""
    if "dtschema" not in _MEMO:
        _MEMO["dtschema"] = _run([need("dt-validate"), "--version"], timeout=T_QUICK).stdout.strip()
    return _MEMO["dtschema"]  # type: ignore[return-value]


def processed_schema() -> Path:
    """The kernel's bindings processed by dt-mk-schema (as `make dt_binding_schemas` does: every
    .yaml under Documentation/devicetree/bindings), cached per kernel tree and dtschema version."""
    mk = need("dt-mk-schema")
    version = dtschema_version()
    tree = kernel_tree()
    key = _key(_tarball_key(), version)
    if ("schema", key) in _MEMO:
        return _MEMO[("schema", key)]  # type: ignore[return-value]
    parent = cache_dir() / "schema"
    done = parent / f"processed-schema-{key}.json"
    with _locked("schema"):
        if not done.is_file():
            parent.mkdir(exist_ok=True)
            _prune(parent, "processed-schema-", keep=done.name)
            bindings = tree / "Documentation" / "devicetree" / "bindings"
            files = sorted(str(p) for p in bindings.rglob("*.yaml") if not p.name.startswith("processed-schema"))
            listing = parent / f".list-{os.getpid()}"
            listing.write_text("\n".join(files) + "\n")
            partial = parent / f".partial-{os.getpid()}.json"
            try:
                done_run = _run([mk, "-j", f"@{listing}"], timeout=T_MK_SCHEMA, stdout_to=partial)
                (parent / "dt-mk-schema.log").write_text(done_run.stderr)
                json.loads(partial.read_text())  # complete and well-formed, or fail here
                os.rename(partial, done)
            finally:
                listing.unlink(missing_ok=True)
                partial.unlink(missing_ok=True)
    _MEMO[("schema", key)] = _used(done)
    return done


@dataclass(frozen=True)
class Finding:
    """One dt-validate diagnostic (from its --json-output)."""

    level: str  # "error" (schema violation) or "warning" (a compatible no schema matches)
    kind: str  # "validation", "unmatched", ...
    node: str
    schema: str
    schema_path: tuple[str, ...]
    property_path: tuple[str, ...]
    message: str

    @property
    def key(self) -> tuple[object, ...]:
        """Identity across builds: not the message, which quotes property values whose phandle
        numbers change when a fragment adds labelled nodes."""
        return (self.level, self.kind, self.node, self.schema, self.schema_path, self.property_path)

    def __str__(self) -> str:
        schema = f" [{self.schema}]" if self.schema else ""
        return f"{self.level}: {self.node}: {self.message}{schema}"


def dt_validate_findings(dtbs: Sequence[Path]) -> dict[Path, list[Finding]]:
    """dt-validate -m (as `make dtbs_check`) on several blobs in one run (loading the processed
    schema takes seconds, so pass many at once); the findings of each. dt-validate exits 0
    whatever it finds and silently skips a path that does not exist, so both are checked here.
    Results are remembered on disk per blob content, schema and dtschema version: a blob
    validated before (a base tree, say) costs nothing."""
    validate = need("dt-validate")
    schema = processed_schema()
    paths = [Path(p).resolve() for p in dtbs]
    blobs: dict[Path, bytes] = {}
    for path in paths:
        blob = path.read_bytes() if path.is_file() else b""
        if blob[:4] != struct.pack(">I", _FDT_MAGIC):
            raise ToolError(f"{path}: not a device tree blob")
        blobs[path] = blob
    if len(blobs) != len(paths):
        raise ValueError("the same blob twice")
    memo_dir = cache_dir() / "validated"
    memo_dir.mkdir(exist_ok=True)
    _prune(memo_dir, "", keep=schema.stem)
    memo_dir = memo_dir / schema.stem
    memo_dir.mkdir(exist_ok=True)
    _used(memo_dir)
    memo = {p: memo_dir / (hashlib.sha256(b).hexdigest() + ".json") for p, b in blobs.items()}
    todo = [p for p in paths if not memo[p].is_file()]
    if todo:
        report = _out_dir(None) / "dt-validate.json"
        done = _run([validate, "-m", "-s", schema, "--json-output", report, *todo], timeout=T_VALIDATE)
        try:
            raw = json.loads(report.read_text())
        except (OSError, ValueError) as e:
            raise ToolError(f"dt-validate wrote no readable --json-output: {e}\n{_tail(done.stderr)}") from e
        fresh: dict[Path, list[dict[str, object]]] = {p: [] for p in todo}
        for item in raw:
            path = Path(str(item.get("file", ""))).resolve()
            if path not in fresh:
                raise ToolError(f"dt-validate reported on an unexpected file: {item}")
            fresh[path].append(item)
        for path, items in fresh.items():
            partial = memo[path].with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(items))
            os.replace(partial, memo[path])
    found: dict[Path, list[Finding]] = {}
    for path in paths:
        found[path] = [
            Finding(
                level=str(item.get("level", "error")),
                kind=str(item.get("type", "")),
                node=str(item.get("node", "")),
                schema=str(item.get("schema", "")),
                schema_path=tuple(str(x) for x in item.get("schema_path", [])),
                property_path=tuple(str(x) for x in item.get("property_path", [])),
                message=str(item.get("message", "")),
            )
            for item in json.loads(memo[path].read_text())
        ]
    return found


def dt_validate(dtb: Path) -> list[str]:
    """dt-validate's findings on one blob (errors and unmatched compatibles), as text."""
    return [str(f) for f in dt_validate_findings([dtb])[Path(dtb).resolve()]]


def dt_validate_new(base_dtb: Path, dtb: Path) -> list[str]:
    """The findings on `dtb` that the base tree alone lacks (both validated in one run)."""
    found = dt_validate_findings([base_dtb, dtb])
    known = {f.key for f in found[Path(base_dtb).resolve()]}
    return [str(f) for f in found[Path(dtb).resolve()] if f.key not in known]


# --------------------------------------------------------------------------------------------
# The kernel build: defconfig + prepare per architecture, and built-in objects


def _tool_version(tool: str) -> str:
    if ("version", tool) not in _MEMO:
        _MEMO[("version", tool)] = _run([need(tool), "--version"], timeout=T_QUICK).stdout.splitlines()[0]
    return _MEMO[("version", tool)]  # type: ignore[return-value]


def _build_key(arch: str, defconfig: str) -> str:
    cross = ARCHES[arch][0]
    return _key(_tarball_key(), kernel_tree(), arch, defconfig, _tool_version(cross + "gcc"), _tool_version("gcc"))


def _build_path(arch: str, defconfig: str, key: str) -> Path:
    return cache_dir() / "build" / f"{arch}-{defconfig}-{key}"


def _finished_build(arch: str, defconfig: str) -> Path | None:
    memo = ("build", arch, defconfig)
    if memo in _MEMO:
        return _MEMO[memo]  # type: ignore[return-value]
    if not (cache_dir() / "build").is_dir() or shutil.which(ARCHES[arch][0] + "gcc") is None:
        return None
    path = _build_path(arch, defconfig, _build_key(arch, defconfig))
    return _used(path) if (path / ".dtgen-complete").is_file() else None


def kernel_build(arch: str, defconfig: str | None = None) -> Path:
    """A build directory (O=) for arch, configured with its defconfig (ARCHES) and `make prepare`d
    with Debian's cross compiler; cached per tree, arch, defconfig and compiler versions. Checks
    that the configuration enables CONFIG_CMA and CONFIG_DMA_CMA."""
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}: one of {sorted(ARCHES)}")
    cross, default = ARCHES[arch]
    defconfig = defconfig or default
    memo = ("build", arch, defconfig)
    if memo in _MEMO:
        return _MEMO[memo]  # type: ignore[return-value]
    for tool in ("make", "gcc", cross + "gcc", "bison", "flex", "bc"):
        need(tool)
    tree = kernel_tree()
    key = _build_key(arch, defconfig)
    build = _build_path(arch, defconfig, key)
    with _locked(f"build-{arch}"):
        if not (build / ".dtgen-complete").is_file():
            _prune(build.parent, f"{arch}-", keep=build.name)
            shutil.rmtree(build, ignore_errors=True)
            build.mkdir(parents=True)
            _run(
                ["make", "-C", tree, f"O={build}", f"ARCH={arch}", f"CROSS_COMPILE={cross}", f"-j{os.cpu_count() or 1}",
                 "-s", defconfig, "prepare"],
                timeout=T_PREPARE,
            )
            config = (build / ".config").read_text()
            for option in ("CONFIG_CMA", "CONFIG_DMA_CMA", "CONFIG_DTC"):
                if f"\n{option}=y\n" not in config:
                    raise ToolError(f"{arch} {defconfig}: {option} is not set to y in {build / '.config'}")
            (build / ".dtgen-complete").write_text(f"{arch} {defconfig} {tree}\n")
    _MEMO[memo] = _used(build)
    return build


def kernel_config(arch: str, defconfig: str | None = None) -> dict[str, str]:
    """The configured build's .config as {CONFIG_X: value} (set options only)."""
    text = (kernel_build(arch, defconfig) / ".config").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if line.startswith("CONFIG_") and "=" in line)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.[ch]$")


def compile_builtin(arch: str, files: Mapping[str, str], *, defconfig: str | None = None) -> tuple[bool, str]:
    """Build each .c of `files` ({file name: text}; .h files go beside them) as a built-in object
    (obj-y) in drivers/dtgen_check/ of the kernel tree, cleaned out before and after, with
    `W=1 KCFLAGS=-Werror`; returns (every object built, make's output)."""
    for name in files:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"{name!r}: a plain .c or .h file name")
    sources = [n for n in files if n.endswith(".c")]
    if not sources:
        raise ValueError("no .c file to build")
    cross = ARCHES[arch][0]
    build = kernel_build(arch, defconfig)
    tree = kernel_tree()
    scratch = tree / SCRATCH_DIR
    objects = [f"{SCRATCH_DIR}/{n[:-2]}.o" for n in sources]
    with _locked("compile"):  # one scratch directory in the shared source tree
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(build / SCRATCH_DIR, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            for name, text in files.items():
                (scratch / name).write_text(text)
            (scratch / "Makefile").write_text(
                "# SPDX-License-Identifier: GPL-2.0\nobj-y += " + " ".join(n[:-2] + ".o" for n in sources) + "\n"
            )
            done = _run(
                ["make", "-C", tree, f"O={build}", f"ARCH={arch}", f"CROSS_COMPILE={cross}", "W=1",
                 "KCFLAGS=-Werror", f"-j{os.cpu_count() or 1}", *objects],
                timeout=T_COMPILE,
                check=False,
            )
            ok = done.returncode == 0 and all((build / o).is_file() for o in objects)
            return ok, done.stdout + done.stderr
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(build / SCRATCH_DIR, ignore_errors=True)


def link_module(arch: str, builtin: Mapping[str, str], module: Mapping[str, str], *,
                defconfig: str | None = None) -> tuple[bool, str]:
    """Whether a modular driver can call built-in code, as the kernel's own modpost decides it.

    Each .c of `builtin` is built as obj-y (as compile_builtin() does, W=1 -Werror); modpost reads
    that object's exports the way it reads vmlinux.o's (the object, copied as vmlinux.o, through
    `modpost -M -o vmlinux.symvers`); then `module`'s files are built as an external module
    (M=, W=1 -Werror) with those symbols (KBUILD_EXTRA_SYMBOLS). modpost fails the build on any
    symbol the module uses that nothing exports. Returns (the .ko was made, the tools' output)."""
    for name in [*builtin, *module]:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"{name!r}: a plain .c or .h file name")
    sources = [n for n in builtin if n.endswith(".c")]
    if len(sources) != 1:
        raise ValueError("one built-in .c file")
    cross = ARCHES[arch][0]
    build = kernel_build(arch, defconfig)
    tree = kernel_tree()
    make: list[str | Path] = ["make", "-C", tree, f"O={build}", f"ARCH={arch}", f"CROSS_COMPILE={cross}"]
    with _locked(f"build-{arch}"):
        if not all((build / "scripts" / f).is_file() for f in ("mod/modpost", "module.lds")):
            _run([*make, "-s", "modules_prepare"], timeout=T_PREPARE)
    log: list[str] = []
    with _locked("compile"):  # one scratch directory in the shared source tree
        scratch = tree / SCRATCH_DIR
        obj = f"{SCRATCH_DIR}/{sources[0][:-2]}.o"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(build / SCRATCH_DIR, ignore_errors=True)
        scratch.mkdir(parents=True)
        work = Path(tempfile.mkdtemp(dir=scratch_dir()))
        try:
            for name, text in builtin.items():
                (scratch / name).write_text(text)
            (scratch / "Makefile").write_text(f"# SPDX-License-Identifier: GPL-2.0\nobj-y += {sources[0][:-2]}.o\n")
            done = _run([*make, "W=1", "KCFLAGS=-Werror", obj], timeout=T_COMPILE, check=False)
            log.append(done.stdout + done.stderr)
            if done.returncode != 0:
                return False, "\n".join(log)
            shutil.copy(build / obj, work / "vmlinux.o")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(build / SCRATCH_DIR, ignore_errors=True)
    try:
        done = _run([build / "scripts" / "mod" / "modpost", "-M", "-o", "vmlinux.symvers", "vmlinux.o"],
                    timeout=T_COMPILE, check=False, cwd=work)
        log.append(done.stdout + done.stderr)
        if done.returncode != 0:
            return False, "\n".join(log)
        moddir = work / "module"
        moddir.mkdir()
        for name, text in module.items():
            (moddir / name).write_text(text)
        objs = " ".join(n[:-2] + ".o" for n in module if n.endswith(".c"))
        (moddir / "Makefile").write_text(f"# SPDX-License-Identifier: GPL-2.0\nobj-m += {objs}\n")
        done = _run([*make, f"M={moddir}", "W=1", "KCFLAGS=-Werror", f"KBUILD_EXTRA_SYMBOLS={work / 'vmlinux.symvers'}",
                     "modules"], timeout=T_COMPILE, check=False)
        log.append(done.stdout + done.stderr)
        made = all((moddir / (n[:-2] + ".ko")).is_file() for n in module if n.endswith(".c"))
        return done.returncode == 0 and made, "\n".join(log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
