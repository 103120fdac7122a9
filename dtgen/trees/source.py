"""Reading a board's device tree for `dtgen import`: source through the C preprocessor and dtc as
a kernel build does it, a `.dtb` directly, and small standalone fragments through pydevicetree.

Real board trees use cpp, `/include/`, `/bits/`, labels on properties and nested arithmetic;
only dtc reads all of that, in milliseconds. So a `.dts` goes through
  cpp -nostdinc -I <include dirs> -undef -D__DTS__ -x assembler-with-cpp   (scripts/Makefile.lib)
  dtc -@ -I dts -O dtb -b 0 -i <source dir> -i <include dirs>
and a second dtc run with `-T -T` (source annotations) says where each node and property came
from, so that findings point at the `.dts` line, not at the blob. The tools run with argument
lists, never through a shell. Their messages become dtgen diagnostics: dtc and cpp already report
at the original `file:line.col` through cpp's line markers.

pydevicetree reads what dtc cannot take on its own: a fragment that is not a whole tree (no
`/dts-v1/`, references to nodes defined elsewhere, like the kernel's
exynos-mfc-reserved-memory.dtsi). It is also the fallback when dtc is not installed. It is slow
(seconds for a 60 KB board tree) and reads no cpp output, so anything beyond it is a clear
finding, never a traceback.

Apart from the CLI, this is the one module that touches the file system: cpp and dtc read the
includes and write into a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace

from dtgen.trees import fdt
from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.model import DtNode, DtProperty, DtTree

TOOL_TIMEOUT = 120  # seconds; a board tree takes milliseconds, a runaway #include loop does not


@dataclass(frozen=True)
class Tools:
    cpp: tuple[str, ...] | None  # the preprocessor command (`cpp`, or `gcc -E`)
    dtc: str | None


def find_tools() -> Tools:
    """cpp and dtc from $CPP/$DTC or the PATH. The kernel runs `$(HOSTCC) -E`: `cpp` is the same
    preprocessor without the compiler driver."""
    cpp: tuple[str, ...] | None = None
    if os.environ.get("CPP"):
        cpp = (os.environ["CPP"],)
    elif shutil.which("cpp"):
        cpp = (shutil.which("cpp") or "cpp",)
    else:
        for cc in ("gcc", "cc", "clang"):
            if shutil.which(cc):
                cpp = (shutil.which(cc) or cc, "-E")
                break
    dtc = os.environ.get("DTC") or shutil.which("dtc")
    return Tools(cpp, dtc)


@dataclass(frozen=True)
class KernelTree:
    """What a kernel source tree around the input tells: the kernel's own include prefixes
    (`scripts/dtc/include-prefixes`: dt-bindings, arm, arm64, ...), its architecture from
    `arch/<arch>/boot/dts/` and its version from the top Makefile."""

    root: str
    include: str
    arch: str | None
    version: str | None


def kernel_tree_of(path: str) -> KernelTree | None:
    here = os.path.dirname(os.path.abspath(path))
    parts = here.split(os.sep)
    for i in range(len(parts), 0, -1):
        root = os.sep.join(parts[:i]) or os.sep
        include = os.path.join(root, "scripts", "dtc", "include-prefixes")
        if os.path.isdir(include):
            rest = parts[i:]
            arch = rest[1] if len(rest) >= 4 and rest[0] == "arch" and rest[2:4] == ["boot", "dts"] else None
            return KernelTree(root, include, arch, _makefile_version(os.path.join(root, "Makefile")))
    return None


def _makefile_version(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return None
    found = dict(re.findall(r"^(VERSION|PATCHLEVEL) = (\d+)$", head, re.M))
    if "VERSION" in found and "PATCHLEVEL" in found:
        return f"{found['VERSION']}.{found['PATCHLEVEL']}"
    return None


# ---- the entry point ---------------------------------------------------------------------------


def read_tree(path: str, data: bytes, include_dirs: tuple[str, ...], tools: Tools) -> tuple[DtTree | None, list[Diagnostic]]:
    """The tree in `data` (the bytes of `path`): a DTB, a whole `.dts` (cpp + dtc), or a
    fragment (pydevicetree). A tree that cannot be read is unreadable input (exit 2), like a
    YAML syntax error: nothing else can be said about it."""
    tree, found = _read_tree(path, data, include_dirs, tools)
    return tree, [replace(d, unreadable=True) for d in found]


def _read_tree(path: str, data: bytes, include_dirs: tuple[str, ...], tools: Tools) -> tuple[DtTree | None, list[Diagnostic]]:
    if fdt.is_blob(data) or (data[:1] == b"\xd0" and len(data) < 4):
        return from_blob(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [error("dtb-format", f"neither a device tree blob (it does not start with d00dfeed) nor "
                            f"device-tree source (byte {data[e.start]:#04x} at offset {e.start} is not UTF-8)",
                            Span(path), hint="give a .dts (with -I for its include directories) or a .dtb")]
    if "\0" in text:
        return None, [error("dtb-format", "neither a device tree blob (it does not start with d00dfeed) nor "
                            "device-tree source (it holds NUL bytes)", Span(path))]
    if not _is_whole_tree(text) and not _whole_after_cpp(path, text, include_dirs, tools):
        return from_fragment(path, text, tools, include_dirs)
    if tools.dtc is None:
        tree, found = from_fragment(path, text, tools, include_dirs)
        return tree, [_fallback_note(d) for d in found]
    return from_source(path, include_dirs, tools)


def _is_whole_tree(text: str) -> bool:
    """dtc reads only files that start with `/dts-v1/;` (after comments and cpp lines)."""
    return re.search(r"^\s*/dts-v1/\s*;", _strip_comments(text), re.M) is not None


def _whole_after_cpp(path: str, text: str, include_dirs: tuple[str, ...], tools: Tools) -> bool:
    """A top file without `/dts-v1/` is still a whole tree when an #include brings it in
    (qcom-apq8064-asus-nexus7-flo.dts includes qcom-apq8064-v2.0.dtsi, which has it): decide
    by what cpp makes of it, with the same include paths a whole tree is read with. A file
    cpp rejects is not decided here; the fragment path reports cpp's message."""
    if tools.cpp is None or not re.search(r"^\s*#\s*include", text, re.M):
        return False
    done, problem = _run([*tools.cpp, *_cpp_flags(path, include_dirs), "-P", _operand(path)], "cpp", path)
    return problem is None and done is not None and done.returncode == 0 and _is_whole_tree(done.stdout)


def _cpp_flags(path: str, include_dirs: tuple[str, ...]) -> list[str]:
    """The kernel's dtc_cpp_flags (scripts/Makefile.lib). `#include "x.dtsi"` searches the
    including file's own folder first without being told."""
    return ["-nostdinc", *_each("-I", include_dirs), "-undef", "-D__DTS__", "-x", "assembler-with-cpp"]


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _fallback_note(d: Diagnostic) -> Diagnostic:
    hint = "install dtc (Debian: apt install device-tree-compiler); pydevicetree, used without it, reads only small trees"
    return Diagnostic(d.severity, d.rule, d.message, d.span, d.pointer, d.hint or hint, d.unreadable)


# ---- a DTB -----------------------------------------------------------------------------------


def from_blob(path: str, data: bytes, reader: str = "dtb") -> tuple[DtTree | None, list[Diagnostic]]:
    try:
        blob = fdt.read(data)
    except fdt.FdtError as e:
        where = f" (byte {e.offset})" if e.offset else ""
        return None, [error("dtb-format", f"{e.message}{where}", Span(path),
                            hint="a .dtb written by dtc, or the .dts it came from")]
    labels = _symbols(blob)
    nodes = tuple(
        DtNode(n.path, tuple(DtProperty(k, v) for k, v in n.props), labels.get(n.path, ()))
        for n in blob.nodes
        if not _bookkeeping(n.path)
    )
    return DtTree(path, nodes, blob.reserved, reader), []


def _bookkeeping(path: str) -> bool:
    """Nodes `dtc -@` adds for overlays: not part of the board."""
    return path.split("/")[1:2] in (["__symbols__"], ["__fixups__"], ["__local_fixups__"])


def _symbols(blob: fdt.Blob) -> dict[str, tuple[str, ...]]:
    """Labels by node path, from /__symbols__ (label = path), in the order dtc wrote them."""
    out: dict[str, list[str]] = {}
    for node in blob.nodes:
        if node.path == "/__symbols__":
            for label, value in node.props:
                target = value.rstrip(b"\0").decode("ascii", "replace")
                out.setdefault(target, []).append(label)
    return {k: tuple(v) for k, v in out.items()}


# ---- source through cpp and dtc ----------------------------------------------------------------


def from_source(path: str, include_dirs: tuple[str, ...], tools: Tools) -> tuple[DtTree | None, list[Diagnostic]]:
    tree, found, _ = compile_source(path, include_dirs, tools)
    return tree, found


def compile_source(path: str, include_dirs: tuple[str, ...], tools: Tools, annotate: bool = True) \
        -> tuple[DtTree | None, list[Diagnostic], tuple[str, ...]]:
    """The tree, its findings, and every file cpp and dtc read for it (their dependency
    outputs: -MD and -d), which is what a cache of the result must be keyed by. `annotate`:
    also the second dtc run that places nodes and properties in the source (import's comments
    need it; the base-tree checks point into the board file instead)."""
    assert tools.dtc is not None
    deps: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dtgen-import-") as scratch:
        pre = os.path.join(scratch, "board.dts.pre")
        if tools.cpp is None:
            if re.search(r"^\s*#\s*(include|define|if)", _read_text(path), re.M):
                return None, [error("import-tool", "the source uses the C preprocessor (#include, #define), and no "
                                    "cpp or gcc is installed", Span(path), hint="install cpp (Debian: apt install cpp)")], ()
            pre = _operand(path)
        else:
            cpp_deps = os.path.join(scratch, "cpp.d")
            argv = [*tools.cpp, *_cpp_flags(path, include_dirs), "-MD", "-MF", cpp_deps, "-MT", "x", "-o", pre,
                    _operand(path)]
            done, problem = _run(argv, "cpp", path)
            if problem is not None:
                return None, [problem], ()
            assert done is not None
            if done.returncode != 0:
                return None, cpp_messages(done.stderr, path) or [_tool_failed("cpp", done, path)], ()
            deps += _depfile(cpp_deps)
        out = os.path.join(scratch, "board.dtb")
        dtc_deps = os.path.join(scratch, "dtc.d")
        common = ["-q", "-I", "dts", "-b", "0", *_each("-i", (os.path.dirname(path) or ".", *include_dirs))]
        # The blob and the annotated source come from two dtc runs over the same input: run them
        # side by side.
        argvs = [[tools.dtc, *common, "-@", "-d", dtc_deps, "-O", "dtb", "-o", out, pre]]
        if annotate:
            argvs.append([tools.dtc, *common, "-T", "-T", "-O", "dts", pre])
        runs = _run_all(argvs, "dtc", path)
        if isinstance(runs, Diagnostic):
            return None, [runs], ()
        done, annotated = runs[0], (runs[1] if annotate else None)
        if done.returncode != 0:
            return None, dtc_messages(done.stderr, path) or [_tool_failed("dtc", done, path)], ()
        deps += [d for d in _depfile(dtc_deps) if not d.startswith(scratch)]
        with open(out, "rb") as f:
            blob = f.read()
    if tools.cpp is None:
        deps.append(path)
    read = tuple(sorted(set(deps)))
    tree, found = from_blob(path, blob, reader="dtc")
    if tree is None or annotated is None or annotated.returncode != 0:
        return tree, found, read
    nodes, props = _in_characters(*dtc_annotations(annotated.stdout))
    placed = tuple(
        DtNode(n.path, tuple(DtProperty(p.name, p.value, props.get((n.path, p.name))) for p in n.props),
               n.labels, nodes.get(n.path))
        for n in tree.nodes
    )
    return DtTree(tree.source, placed, tree.memreserve, tree.reader), found, read


def _depfile(path: str) -> list[str]:
    """The prerequisites of a make rule as cpp -MD and dtc -d write it (`target: a b \\`,
    spaces in names escaped as `\\ `)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    _, _, rest = text.partition(": ")
    names = re.findall(r"(?:\\ |[^\s])+", rest)
    return [n.replace("\\ ", " ") for n in names]


def _in_characters(nodes: dict[str, Span], props: dict[tuple[str, str], Span]) \
        -> tuple[dict[str, Span], dict[tuple[str, str], Span]]:
    """dtc's byte columns as characters, for the (rare) sources that are not all ASCII."""
    columns = _Columns()
    files = {s.file for s in (*nodes.values(), *props.values())}
    if all(columns.is_ascii(f) for f in files):
        return nodes, props

    def fix(s: Span) -> Span:
        return Span(s.file, s.line, columns.from_bytes(s.file, s.line, s.col))

    return {k: fix(v) for k, v in nodes.items()}, {k: fix(v) for k, v in props.items()}


def _operand(path: str) -> str:
    """A file name as a tool's operand. cpp takes no `--`, so a name that starts with `-` (a
    file called `-Wp,-MD,x.d` makes cpp write x.d; `-` reads standard input) goes as `./-...`."""
    return os.path.join(".", path) if path.startswith("-") else path


def _each(flag: str, values: tuple[str, ...]) -> list[str]:
    return [part for value in values for part in (flag, value)]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _run(argv: list[str], name: str, source: str) -> tuple[subprocess.CompletedProcess[str] | None, Diagnostic | None]:
    env = {**os.environ, "LC_ALL": "C"}  # English messages, which the parsers below read
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TOOL_TIMEOUT,
                              env=env, stdin=subprocess.DEVNULL)
    except OSError as e:
        return None, error("import-tool", f"cannot run {name} ({argv[0]}): {e.strerror or e}", Span(source))
    except subprocess.TimeoutExpired:
        return None, error("import-tool", f"{name} did not finish in {TOOL_TIMEOUT} s", Span(source))
    return done, None


def _run_all(argvs: list[list[str]], name: str, source: str) -> list[subprocess.CompletedProcess[str]] | Diagnostic:
    env = {**os.environ, "LC_ALL": "C"}
    procs: list[subprocess.Popen[str]] = []
    try:
        for argv in argvs:
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                          text=True, errors="replace", env=env))
        out = []
        for proc, argv in zip(procs, argvs):
            stdout, stderr = proc.communicate(timeout=TOOL_TIMEOUT)
            out.append(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr))
        return out
    except OSError as e:
        return error("import-tool", f"cannot run {name} ({argvs[0][0]}): {e.strerror or e}", Span(source))
    except subprocess.TimeoutExpired:
        return error("import-tool", f"{name} did not finish in {TOOL_TIMEOUT} s", Span(source))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _tool_failed(name: str, done: subprocess.CompletedProcess[str], path: str) -> Diagnostic:
    text = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
    return error("dts-syntax", f"{name} failed: {text[:500]}", Span(path))


# cpp: `file:line:col: error: message` (col may be missing), `fatal error:` for a missing include.
_CPP = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>fatal error|error): (?P<msg>.*)$")
# dtc: `Error: file:line.col-col2 message`, `file:line.col-line2.col2: ERROR (check): /path: message`.
_DTC_ERROR = re.compile(r"^Error: (?P<file>.+?):(?P<line>\d+)\.(?P<col>\d+)(?:-[\d.]+)? (?P<msg>.*)$")
_DTC_CHECK = re.compile(r"^(?P<file>.+?):(?P<line>\d+)\.(?P<col>\d+)(?:-[\d.]+)?: ERROR \((?P<check>[\w-]+)\): (?P<msg>.*)$")
_DTC_CHECK_NOPOS = re.compile(r"^ERROR \((?P<check>[\w-]+)\): (?P<msg>.*)$")
_DTC_OPEN = re.compile(r'^FATAL ERROR: Couldn\'t open "(?P<name>[^"]*)": (?P<msg>.*)$')


class _Columns:
    """Tools' columns as the character columns dtgen reports everywhere (YAML positions are
    characters too). gcc counts display columns (a tab runs to the next multiple of 8, a wide
    character takes two); dtc counts bytes. The two agree with characters only on lines of
    ASCII without tabs, which most, not all, kernel sources are."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}

    def _line(self, file: str, line: int) -> str | None:
        if file not in self._files:
            self._files[file] = _read_text(file).split("\n")
        lines = self._files[file]
        return lines[line - 1] if 0 < line <= len(lines) else None

    def is_ascii(self, file: str) -> bool:
        self._line(file, 1)
        return all(line.isascii() for line in self._files[file])

    def from_bytes(self, file: str, line: int, col: int) -> int:
        text = self._line(file, line)
        if text is None or text.isascii():
            return col
        head = text.encode("utf-8")[: max(col - 1, 0)]
        return len(head.decode("utf-8", "ignore")) + 1 + max(col - 1 - len(text.encode("utf-8")), 0)

    def from_display(self, file: str, line: int, col: int) -> int:
        text = self._line(file, line)
        if text is None:
            return col
        import unicodedata

        width = 0
        for i, ch in enumerate(text):
            if width >= col - 1:
                return i + 1
            if ch == "\t":
                width = (width // 8 + 1) * 8
            elif unicodedata.combining(ch):
                pass
            else:
                width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        return len(text) + 1 + max(col - 1 - width, 0)


def cpp_messages(stderr: str, path: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    columns = _Columns()
    for line in stderr.splitlines():
        m = _CPP.match(line)
        if not m:
            continue
        number = int(m["line"])
        span = Span(m["file"], number, columns.from_display(m["file"], number, int(m["col"] or 1)))
        msg = m["msg"]
        missing = re.match(r"(?:no include path in which to search for (?P<a>.+)|(?P<b>.+): No such file or directory)$", msg)
        if missing:
            name = missing["a"] or missing["b"]
            out.append(error("dts-include", f"include `{name}` not found", span,
                             hint="add its directory with -I (a kernel tree's scripts/dtc/include-prefixes is added by itself)"))
        else:
            out.append(error("dts-syntax", f"preprocessor: {msg}", span))
    return out


def dtc_messages(stderr: str, path: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    columns = _Columns()

    def at(m: re.Match[str]) -> Span:
        line = int(m["line"])
        return Span(m["file"], line, columns.from_bytes(m["file"], line, int(m["col"])))

    for line in stderr.splitlines():
        if m := _DTC_ERROR.match(line):
            msg = m["msg"]
            rule = "dts-syntax"
            span = at(m)
            if msg.startswith("Label or path") and msg.endswith("not found"):
                msg = f"reference: {msg}"
            text = columns._line(m["file"], int(m["line"])) or ""
            if msg == "syntax error" and re.search(r"&\{\s*[A-Za-z_][\w]*/", text):
                # dtc 1.7.0 added references to a path below a label; older dtc stops here.
                out.append(error(rule, "syntax error: `&{label/path}` (a path below a label) needs dtc 1.7 or later",
                                 span, hint="install dtc >= 1.7, or point DTC= at a kernel's own scripts/dtc/dtc"))
                continue
            out.append(error(rule, msg, span))
        elif m := _DTC_CHECK.match(line):
            out.append(error("dts-syntax", f"{m['msg']} (dtc check {m['check']})", at(m)))
        elif m := _DTC_CHECK_NOPOS.match(line):
            out.append(error("dts-syntax", f"{m['msg']} (dtc check {m['check']})", Span(path)))
        elif m := _DTC_OPEN.match(line):
            out.append(error("dts-include", f"/include/ `{m['name']}` not found ({m['msg']})", _find_include(path, m["name"]),
                             hint="add its directory with -I"))
    return out


def _find_include(path: str, name: str) -> Span:
    """dtc names a missing /include/ without a position: find the line that asks for it."""
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        col = line.find(f'/include/ "{name}"')
        if col >= 0:
            return Span(path, number, col + 1)
    return Span(path)


# `-T -T` annotations: `name { /* file:49:18-69:4, file2:... */`, `prop = ...; /* file:50:3-50:24 */`.
def _place(text: str) -> Span | None:
    """`file:line:col-line:col` as the span of its start."""
    head, _, _ = text.rpartition("-")
    file, _, rest = head.rpartition(":")
    file, _, line = file.rpartition(":")
    if not (file and line.isdigit() and rest.isdigit()):
        return None
    return Span(file, int(line), int(rest))


def dtc_annotations(text: str) -> tuple[dict[str, Span], dict[tuple[str, str], Span]]:
    """Node and property positions from dtc's `-T -T` output. A node defined in several places
    (a .dtsi, then `&label { ... }` in the board) points at its first definition; a property at
    the definition that won. Read with string operations: a board's annotated source is
    thousands of lines, and this runs on every import."""
    nodes: dict[str, Span] = {}
    props: dict[tuple[str, str], Span] = {}
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.endswith(" */"):
            continue
        cut = line.rfind(" /* ")
        if cut < 0:
            continue
        body, where = line[:cut].rstrip(), line[cut + 4 : -3]
        if body.endswith("{"):
            name = body[:-1].strip().rpartition(": ")[2].strip()
            path = "/" if not stack else stack[-1].rstrip("/") + "/" + name
            stack.append(path)
            span = _place(where.partition(", ")[0])
            if span is not None:
                nodes[path] = span
        elif body == "};":
            if stack:
                stack.pop()
        elif body.endswith(";") and stack:
            name = body[:-1].partition(" = ")[0].strip().rpartition(": ")[2].strip()
            span = _place(where.rpartition(", ")[2])
            if span is not None:
                props[(stack[-1], name)] = span
    return nodes, props


# ---- fragments through pydevicetree --------------------------------------------------------------


def from_fragment(path: str, text: str, tools: Tools, include_dirs: tuple[str, ...] = ()) \
        -> tuple[DtTree | None, list[Diagnostic]]:
    """A tree or fragment read in-process by pydevicetree. cpp directives are expanded first
    (`cpp -P`: pydevicetree reads no line markers); references to nodes the text does not define
    (`&mfc { ... }`) become nodes named `&mfc`."""
    preprocessed = bool(re.search(r"^\s*#\s*(include|define|if)", text, re.M))
    if preprocessed:
        if tools.cpp is None:
            return None, [error("import-tool", "the source uses the C preprocessor, and no cpp or gcc is installed",
                                Span(path), hint="install cpp (Debian: apt install cpp)")]
        with tempfile.TemporaryDirectory(prefix="dtgen-import-") as scratch:
            pre = os.path.join(scratch, "fragment.pre")
            done, problem = _run([*tools.cpp, *_cpp_flags(path, (os.path.dirname(path) or ".", *include_dirs)), "-P",
                                  "-o", pre, _operand(path)], "cpp", path)
            if problem is not None:
                return None, [problem]
            assert done is not None
            if done.returncode != 0:
                return None, cpp_messages(done.stderr, path) or [_tool_failed("cpp", done, path)]
            text = _read_text(pre)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydevicetree calls pyparsing's deprecated names
            from pydevicetree.source.parser import parseElements

            elements = parseElements(text, os.path.dirname(path) or ".", False)
        return _from_elements(path, text, elements), []
    except _Unsupported as e:
        return None, [error("dts-syntax", f"dtgen cannot read this fragment on its own: {e}", Span(path),
                            hint="give the whole board .dts (dtc reads it), or a .dtb")]
    except RecursionError:
        reason = "nesting too deep"
    except Exception as e:  # pydevicetree raises ParseException, TypeError, Exception...: all mean "not for me"
        # pyparsing's exceptions carry the place (relative to the text it was given, which is
        # the file itself unless cpp ran first).
        line, col = getattr(e, "lineno", 0), getattr(e, "col", 0)
        reason = getattr(e, "msg", None) or " ".join(str(e).split())[:300] or type(e).__name__
        span = Span(path, line, col) if isinstance(line, int) and line > 0 and not preprocessed else Span(path)
        return None, [error("dts-syntax", f"pydevicetree cannot read this source: {reason}", span,
                            hint="give the whole board .dts (dtc reads it), or a .dtb")]
    return None, [error("dts-syntax", f"pydevicetree cannot read this source: {reason}", Span(path),
                        hint="give the whole board .dts (dtc reads it), or a .dtb")]


class _Unsupported(Exception):
    pass


@dataclass
class _Merged:
    """One node as the fragment's elements add to it: its properties (pydevicetree's values)
    and its labels, in order."""

    props: dict[str, object] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


def _from_elements(path: str, text: str, elements: list[object]) -> DtTree:
    from pydevicetree.ast import Directive, Node, NodeReference

    merged: dict[str, _Merged] = {}
    order: list[str] = []
    memreserve: list[tuple[int, int]] = []

    def visit(node: object, node_path: str) -> None:
        entry = merged.get(node_path)
        if entry is None:
            entry = merged[node_path] = _Merged()
            order.append(node_path)
        label = getattr(node, "label", None)
        label = getattr(label, "name", label)  # a str in pydevicetree 0.0.13
        if label and label not in entry.labels:
            entry.labels.append(label)
        for prop in getattr(node, "properties", []):
            entry.props[prop.name] = prop.values
        for directive in getattr(node, "directives", []):
            if "delete" in str(getattr(directive, "directive", "")):
                raise _Unsupported("/delete-node/ and /delete-property/")
        for child in getattr(node, "children", []):
            visit(child, _child_path(node_path, child))

    for element in elements:
        if isinstance(element, NodeReference):
            ref = element.reference.to_dts()
            visit(element, ref)
        elif isinstance(element, Node):
            visit(element, "/")
        elif isinstance(element, Directive) and "memreserve" in str(getattr(element, "directive", "")):
            # pydevicetree keeps only the address of `/memreserve/ ADDR SIZE;`: read the text.
            memreserve[:] = _memreserve(text)
    # A label on a node a reference names is the node itself: `&mfc` stays apart only when the
    # fragment does not define `mfc`.
    by_label = {label: p for p in order for label in merged[p].labels}
    for ref in [p for p in order if p.startswith("&") and p[1:] in by_label]:
        target = merged[by_label[ref[1:]]]
        target.props.update(merged.pop(ref).props)
        order.remove(ref)
    phandles: dict[str, int] = {}
    for p in order:
        for label in merged[p].labels:
            phandles.setdefault(label, len(phandles) + 1)
    nodes = []
    for p in order:
        entry = merged[p]
        labels = tuple(entry.labels)
        props = [DtProperty(name, _encode(values, phandles)) for name, values in entry.props.items()]
        if labels and not any(pr.name == "phandle" for pr in props):
            props.append(DtProperty("phandle", phandles[labels[0]].to_bytes(4, "big")))
        nodes.append(DtNode(p, tuple(props), labels, Span(path)))
    nodes.sort(key=lambda n: (n.path.startswith("&"), order.index(n.path)))
    return DtTree(path, tuple(nodes), tuple(memreserve), "pydevicetree")


def _memreserve(text: str) -> list[tuple[int, int]]:
    number = r"(0[xX][0-9a-fA-F]+|\d+)"
    return [(int(a, 0), int(b, 0)) for a, b in re.findall(rf"/memreserve/\s+{number}\s+{number}\s*;", _strip_comments(text))]


def _child_path(parent: str, child: object) -> str:
    name = getattr(child, "name", "")
    address = getattr(child, "address", None)
    if address is not None and address != "":
        name = f"{name}@{address:x}" if isinstance(address, int) else f"{name}@{address}"
    return parent.rstrip("/") + "/" + name


def _encode(values: object, phandles: dict[str, int]) -> bytes:
    """pydevicetree's parsed values as the bytes dtc would write."""
    from pydevicetree.ast import Bytestring, CellArray, StringList

    out = bytearray()
    items = list(values) if values is not None else []  # type: ignore[call-overload]
    if isinstance(values, StringList):
        return b"".join(str(s).encode("utf-8") + b"\0" for s in items)
    if isinstance(values, Bytestring):
        return bytes(int(b) & 0xFF for b in items)
    if isinstance(values, CellArray):
        items = [values]
    for item in items:
        if isinstance(item, StringList) or isinstance(item, str):
            out += b"".join(str(s).encode("utf-8") + b"\0" for s in (item if not isinstance(item, str) else [item]))
        elif isinstance(item, Bytestring):
            out += bytes(int(b) & 0xFF for b in item)
        else:
            for cell in item:
                out += _cell(cell, phandles).to_bytes(4, "big")
    return bytes(out)


def _cell(cell: object, phandles: dict[str, int]) -> int:
    if isinstance(cell, int):
        if not 0 <= cell < 1 << 32:
            raise _Unsupported(f"cell value {cell:#x} does not fit 32 bits")
        return cell
    label = getattr(getattr(cell, "label", None), "name", None)
    if label is None:
        raise _Unsupported(f"reference {cell}")
    if label not in phandles:
        raise _Unsupported(f"reference to `&{label}`, which the source does not define")
    return phandles[label]
