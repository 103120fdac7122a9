"""Security: what a hostile board file, source tree or template directory can make dtgen do.

- YAML tags: no tag constructs an object, in any position, in the board or an include; each is a
  diagnostic at its line:col, and the payload never runs (marker files stay absent).
- No shell: a static walk of dtgen/ finds every process call and proves it is given an argument
  list; `dtgen import` of files and directories named with shell metacharacters (and names that
  look like options) runs nothing and is not read as an option by cpp or dtc.
- Paths: includes stay in the include root through symlinks, `..`, odd names, directories and
  FIFOs; user templates cannot include files outside their directory; a board id cannot name a
  path.
- Escaping, property-based: hypothesis text in every free-text field of a board, then every
  output checked in its own language (dtc and cpp for the device tree, a C lexer for the C,
  an XML and an HTML parser for the map and report, JSON and YAML loaders for the layout).

Covered elsewhere and not repeated here: the filters themselves (test_emit.py
test_filters_contain_hostile_text), one fixed hostile string through the C and DTS
(test_hostile_board_text_stays_in_comments_and_strings), names escaped in the map
(test_map.py), `..` and absolute includes and two python tags (tests/corpus/bad/).

Known findings are strict xfails naming the fix: each turns into a failure (XPASS) once dtgen is
fixed, so that its marker is removed with the fix.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dtgen.cli import main
from tests.support import realtools

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dtgen"


def _process(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C"}
    return subprocess.run([sys.executable, "-m", "dtgen", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _invoke(cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    """The CLI in-process, run from `cwd` (paths in messages stay as given)."""
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(here)


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


MINIMAL = """\
board: min
kernel:
  arch: arm64
  version: "6.12"
memory:
  banks:
    - name: dram
      base: 0x40000000
      size: 1G
regions:
  - name: pool
    size: 16M
    reusable: true
devices:
  - name: codec
    kinds: [frames]
map:
  - match: codec/frames
    regions: [pool]
"""


# ---- YAML tags -------------------------------------------------------------------------------

# Each tag as a YAML node; {m} is a marker file the payload would create, were it constructed.
# python/name and python/module import MODULE, whose import creates its own marker.
MODULE = "dtgen_security_marker_module"
TAGS = {
    "object-apply": '!!python/object/apply:os.system ["touch {m}"]',
    "object-apply-open": '!!python/object/apply:builtins.open ["{m}", "w"]',
    "object-new": '!!python/object/new:os.system ["touch {m}"]',  # a callable that is not a class is called
    "object": "!!python/object:" + MODULE + ".Thing {{a: 1}}",
    "name": "!!python/name:" + MODULE + ".thing",
    "module": "!!python/module:" + MODULE,
    "binary": "!!binary aGVsbG8=",
    "set": "!!set {{a, b}}",
    "omap": "!!omap [a: 1, b: 2]",
    "pairs": "!!pairs [a: 1]",
    "timestamp": "!!timestamp 2001-12-14",
    "local": "!foo bar",
    "verbatim": '!<tag:yaml.org,2002:python/object/apply:os.system> ["touch {m}"]',
}

# Where the tag goes: (text before MINIMAL's first line, text after its last line, file holding the
# tag). The tag's line:col is found in the file by its text.
POSITIONS = {
    "top-level-value": ("", "description: {tag}\n", "board.yaml"),
    "mapping-key": ("", "? {tag}\n: value\n", "board.yaml"),
    "sequence-item": ("", "scenarios:\n  - {tag}\n", "board.yaml"),
    "included-file": ("include: [soc.yaml]\n", "", "soc.yaml"),
}


@pytest.fixture
def marker_module(tmp_path: Path) -> Iterator[Path]:
    """A module on sys.path whose import (by an unsafe loader) writes a marker file."""
    folder = tmp_path / "modules"
    folder.mkdir()
    marker = tmp_path / "MODULE_IMPORTED"
    (folder / f"{MODULE}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nthing = object()\nclass Thing:\n    pass\n")
    sys.path.insert(0, str(folder))
    try:
        yield marker
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(MODULE, None)


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("tag", TAGS)
def test_yaml_tags_are_refused_where_they_stand_and_never_run(
        tmp_path: Path, marker_module: Path, tag: str, position: str) -> None:
    marker = tmp_path / "MARKER"
    node = TAGS[tag].format(m=marker)
    before, after, holder = POSITIONS[position]
    work = tmp_path / "work"
    work.mkdir()
    (work / "board.yaml").write_text(before + MINIMAL + after.format(tag=node))
    if holder == "soc.yaml":
        (work / "soc.yaml").write_text(f"description: {node}\n")
    text = (work / holder).read_text().splitlines()
    line = next(i for i, s in enumerate(text, 1) if node in s)
    where = f"{holder}:{line}:{text[line - 1].index(node) + 1}: error: "
    for command in (["validate"], ["check"], ["emit", "-o", "out"]):
        result = _invoke(work, *command, "--include-root", ".", "board.yaml")
        output = result.stdout + result.stderr
        assert result.exit_code in (1, 2), (command, output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        found = [s for s in output.splitlines() if s.startswith(where)]
        assert found and "[yaml-tag]" in found[0], (command, where, output)
        assert not (work / "out").exists()
    assert not marker.exists() and not marker_module.exists() and MODULE not in sys.modules


def test_yaml_tag_directive_shorthand_is_refused(tmp_path: Path) -> None:
    """A %TAG directive that abbreviates the python/ prefix: the expanded tag is what counts."""
    marker = tmp_path / "MARKER"
    board = tmp_path / "board.yaml"
    board.write_text("%TAG !py! tag:yaml.org,2002:python/object/apply:\n---\n"
                     + MINIMAL + f'description: !py!os.system ["touch {marker}"]\n')
    result = _invoke(tmp_path, "validate", "--include-root", ".", "board.yaml")
    assert result.exit_code == 1
    assert result.stdout.startswith("board.yaml:22:14: error: YAML tag !!python/object/apply:os.system is not allowed")
    assert not marker.exists()


# ---- no shell: every process call in dtgen/ takes an argument list -------------------------------

# Never allowed: each runs its argument through /bin/sh.
SHELL_CALLS = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
               "asyncio.create_subprocess_shell", "commands.getoutput", "commands.getstatusoutput"}
# Allowed only with an argument list as the first argument (or args=).
PROCESS_CALLS = {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
                 "subprocess.Popen"}
_SEQUENCE_TYPES = {"list", "tuple", "Sequence", "MutableSequence", "List", "Tuple"}


@dataclass(frozen=True)
class ProcessCall:
    where: str  # file:line
    name: str  # subprocess.run, ...


class _ShellFinder(ast.NodeVisitor):
    """Process calls of one module and the problems with them. Names are resolved through the
    module's imports (lazy ones inside functions included); a variable passed as the argument
    list must be bound, everywhere in its function, to a list or tuple display or to something
    annotated as a list/tuple/sequence (a parameter `argv: list[str]`, or the items of a
    `list[list[str]]` it loops over)."""

    def __init__(self, tree: ast.Module, shown: str) -> None:
        self.shown = shown
        self.aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        self.calls: list[ProcessCall] = []
        self.problems: list[str] = []
        self.function: ast.FunctionDef | ast.AsyncFunctionDef | None = None
        self.visit(tree)

    def qualname(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.aliases.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func)
        here = f"{self.shown}:{node.lineno}"
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                self.problems.append(f"{here}: {name or 'a call'} with shell={ast.unparse(kw.value)}")
        if name in SHELL_CALLS:
            self.problems.append(f"{here}: {name} runs its argument through the shell")
        elif name in PROCESS_CALLS:
            self.calls.append(ProcessCall(here, name))
            if any(kw.arg is None for kw in node.keywords):
                self.problems.append(f"{here}: {name} with **keywords (which could hold shell=True)")
            args = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
            why = self.not_a_list(args)
            if why:
                self.problems.append(f"{here}: {name}'s first argument {why}")
        self.generic_visit(node)

    def not_a_list(self, arg: ast.expr | None) -> str:
        """Why `arg` is not visibly an argument list ('' when it is)."""
        if arg is None:
            return "is missing"
        if _is_list_display(arg):
            return ""
        if _is_text(arg):
            return f"`{ast.unparse(arg)}` is a string (a command line for a shell), not an argument list"
        if isinstance(arg, ast.Name) and self.function is not None:
            bindings = list(self.bindings(arg.id))
            if bindings and all(bindings):
                return ""
        return f"`{ast.unparse(arg)}` is not visibly an argument list (bind it to a list display or annotate it)"

    def bindings(self, name: str) -> Iterator[bool]:
        """For each binding of `name` in the current function: is it an argument list?"""
        assert self.function is not None
        params = {a.arg: a.annotation for a in (*self.function.args.posonlyargs, *self.function.args.args,
                                                  *self.function.args.kwonlyargs)}
        if name in params:
            yield _is_sequence(params[name], depth=1)
        for node in ast.walk(self.function):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                yield _is_list_display(node.value)
            elif isinstance(node, (ast.AugAssign, ast.NamedExpr)) and _names(node.target, name):
                yield False  # `argv += ...`, `(argv := ...)`: not proved
            elif isinstance(node, ast.withitem) and node.optional_vars is not None and _names(node.optional_vars, name):
                yield False
            elif isinstance(node, ast.Assign) and any(_names(target, name) for target in node.targets):
                yield False  # unpacked from something: not proved
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                yield _is_sequence(node.annotation, depth=1)
            elif isinstance(node, (ast.For, ast.comprehension)):
                yield from self.loop_binding(node.target, node.iter, name, params)

    def loop_binding(self, target: ast.expr, source: ast.expr, name: str, params: dict[str, ast.expr | None]) -> Iterator[bool]:
        """`for name in seq` and `for a, name in zip(x, seq)`: the items of a parameter
        annotated as a sequence of sequences."""
        pairs: list[tuple[ast.expr, ast.expr]] = [(target, source)]
        if isinstance(target, ast.Tuple) and isinstance(source, ast.Call) and self.qualname(source.func) == "zip":
            pairs = list(zip(target.elts, source.args))
        for item, seq in pairs:
            if isinstance(item, ast.Name) and item.id == name:
                yield isinstance(seq, ast.Name) and _is_sequence(params.get(seq.id), depth=2)


def _names(target: ast.expr, name: str) -> bool:
    """Whether an assignment target binds `name` (alone or inside a tuple)."""
    return any(isinstance(t, ast.Name) and t.id == name for t in ast.walk(target))


def _is_list_display(node: ast.expr) -> bool:
    """`[...]`, `(...)`, `[x for ...]`, or a sum of lists such as `[*tools.cpp, "-E"] + rest`."""
    if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
        return True
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and (
        _is_list_display(node.left) or _is_list_display(node.right))


def _is_text(node: ast.expr) -> bool:
    """A string expression: a literal, an f-string, `%`/`+` with a string, `" ".join(...)`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_text(node.left) or _is_text(node.right)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("join", "format") \
        and _is_text(node.func.value)


def _is_sequence(annotation: ast.expr | None, depth: int) -> bool:
    """`list[str]` (depth 1), `list[list[str]]` (depth 2), with tuple/Sequence alike."""
    if not isinstance(annotation, ast.Subscript):
        return False
    head = annotation.value
    head_name = head.attr if isinstance(head, ast.Attribute) else getattr(head, "id", "")
    if head_name not in _SEQUENCE_TYPES:
        return False
    if depth == 1:
        return True
    inner = annotation.slice
    if isinstance(inner, ast.Tuple):
        inner = inner.elts[0]
    return _is_sequence(inner, depth - 1)


def shell_problems(source: str, shown: str) -> tuple[list[ProcessCall], list[str]]:
    finder = _ShellFinder(ast.parse(source), shown)
    return finder.calls, finder.problems


def test_no_module_of_dtgen_runs_a_shell() -> None:
    calls: list[ProcessCall] = []
    problems: list[str] = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    for path in modules:
        found, wrong = shell_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        calls += found
        problems += wrong
    assert not problems, "\n".join(problems)
    # Not vacuous: cpp and dtc are run (trees/source.py: subprocess.run for cpp, Popen for the two
    # dtc runs side by side); each of these calls was proved to take an argument list.
    assert {(c.where.split(":")[0], c.name) for c in calls} >= {
        ("dtgen/trees/source.py", "subprocess.run"), ("dtgen/trees/source.py", "subprocess.Popen")}, calls


@pytest.mark.parametrize(("snippet", "why"), [
    ("import subprocess\nsubprocess.run(['ls'], shell=True)\n", "shell=True"),
    ("import subprocess\ndef f(flag):\n    subprocess.call(['ls'], shell=flag)\n", "shell=flag"),
    ("import os\nos.system('ls')\n", "os.system runs"),
    ("from os import popen\npopen('ls')\n", "os.popen runs"),
    ("import subprocess as sp\nsp.getoutput('ls')\n", "subprocess.getoutput runs"),
    ("import subprocess\nsubprocess.getstatusoutput('ls')\n", "subprocess.getstatusoutput runs"),
    ("import subprocess\ndef f(x):\n    subprocess.run(f'cpp {x}')\n", "is a string"),
    ("from subprocess import check_output as co\ndef f(x):\n    co('dtc ' + x)\n", "is a string"),
    ("import subprocess\ndef f(x):\n    subprocess.Popen(' '.join(x))\n", "is a string"),
    ("import subprocess\ndef f(x):\n    subprocess.run(args='dtc %s' % x)\n", "is a string"),
    ("import subprocess\ndef f(cmd: str):\n    subprocess.run(cmd)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(x):\n    cmd = 'dtc ' + x\n    subprocess.run(cmd)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(x):\n    argv = ['dtc']\n    argv = x\n    subprocess.run(argv)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(cmds: list[str]):\n    for c in cmds:\n        subprocess.run(c)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(opts: dict):\n    subprocess.run(['ls'], **opts)\n", "**keywords"),
    ("import subprocess\ndef f(x):\n    argv = ['dtc']\n    argv += x\n    subprocess.run(argv)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(p):\n    argv, y = p\n    subprocess.run(argv)\n", "not visibly an argument list"),
    ("import subprocess\ndef f(x):\n    subprocess.run(str(x))\n", "not visibly an argument list"),
])
def test_the_shell_check_catches_what_it_should(snippet: str, why: str) -> None:
    _, problems = shell_problems(snippet, "x.py")
    assert len(problems) == 1 and why in problems[0] and re.match(r"x\.py:\d+: ", problems[0]), problems


def test_the_shell_check_accepts_argument_lists() -> None:
    snippet = (
        "import subprocess\n"
        "def a(x):\n    subprocess.run(['dtc', x], shell=False)\n"
        "def b(argv: list[str]):\n    subprocess.run(argv)\n"
        "def c(argvs: list[list[str]], procs: list[int]):\n"
        "    for argv in argvs:\n        subprocess.Popen(argv)\n"
        "    for p, argv in zip(procs, argvs):\n        pass\n"
        "def d(x):\n    argv = [*x, 'y']\n    subprocess.check_output(argv)\n"
        "def e(x: list[str]):\n    subprocess.run(['cpp', '-E'] + x)\n"
    )
    calls, problems = shell_problems(snippet, "x.py")
    assert problems == [] and len(calls) == 5


# ---- no shell, dynamically: import of hostile names ------------------------------------------------

SOURCE = """\
/dts-v1/;
#include "{header}"
/ {{
	#address-cells = <1>;
	#size-cells = <1>;
	memory@40000000 {{ device_type = "memory"; reg = <0x40000000 0x40000000>; }};
	reserved-memory {{
		#address-cells = <1>;
		#size-cells = <1>;
		ranges;
		pool: pool {{ compatible = "shared-dma-pool"; reusable; size = <POOL_SIZE>; }};
	}};
}};
/include/ "{dtsi}"
"""

META = "$(touch PWNED1) `touch PWNED2` ; touch PWNED3 | touch PWNED4 & x"


def _import_tree(work: Path, name: str, include_dir: str) -> None:
    """A .dts named `name` in `work` whose #include and /include/ are in `include_dir`, with
    names full of shell syntax too."""
    realtools.need("dtc")
    realtools.need("cpp")
    (work / include_dir).mkdir(parents=True)
    header, dtsi = f"h {META}.h", f"d {META}.dtsi"
    (work / include_dir / header).write_text("#define POOL_SIZE 0x1000000\n")
    (work / include_dir / dtsi).write_text("&pool { dtgen-security-included; };\n")
    (work / name).write_text(SOURCE.format(header=header, dtsi=dtsi))


def _imports(work: Path, name: str, include_dir: str) -> None:
    """`dtgen import` of the tree runs no shell, takes no name for an option, and writes nothing
    but the board on standard output."""
    before = _files_under(work)
    done = _process("import", "--arch", "arm", "--kernel", "6.12", "-I", include_dir, "--", name, cwd=work)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    # POOL_SIZE came through cpp's #include, the property through dtc's /include/.
    assert "size: 16M" in done.stdout and "dtgen-security-included: true" in done.stdout, done.stdout
    assert "imported 1 bank, 1 region" in done.stderr
    assert _files_under(work) == before, "a tool wrote into the working directory"


def test_import_of_names_full_of_shell_syntax_runs_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    name, include_dir = f"b {META}.dts", f"inc {META}"
    _import_tree(work, name, include_dir)
    _imports(work, name, include_dir)
    assert not list(tmp_path.rglob("PWNED*"))


@pytest.mark.parametrize("name", ["-o.dts", "--help.dts", "-Wp,-MD,written.d", "-"])
def test_import_of_a_file_named_like_an_option(tmp_path: Path, name: str) -> None:
    """cpp takes no `--`, so a name like `-Wp,-MD,written.d` must reach it as `./-Wp,...`:
    otherwise cpp writes written.d (and `-` reads standard input instead of the file). The
    include directory `-inc` is safe already: it follows -I as a separate argument."""
    work = tmp_path / "work"
    work.mkdir()
    _import_tree(work, name, "-inc")
    _imports(work, name, "-inc")


# ---- paths: includes stay in the include root -------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ (the include root) with sub/ok.yaml, and outside/secret.yaml beside it."""
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text("description: SECRET\n")
    (tmp_path / "root" / "sub" / "ok.yaml").write_text("description: included\n")
    return tmp_path / "root"


def _with_include(root: Path, name: str) -> str:
    """board.yaml including `name` (a YAML double-quoted string); the include's position."""
    (root / "board.yaml").write_text(f"include: [{json.dumps(name)}]\n" + MINIMAL)
    return "board.yaml:1:12: error: "  # inside the quotes


def _validate(root: Path) -> tuple[int, str]:
    result = _invoke(root, "validate", "--include-root", ".", "--format", "text", "board.yaml")
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize(("setup", "name", "message"), [
    (lambda r: (r / "link.yaml").symlink_to("../outside/secret.yaml"), "link.yaml",
     "cannot read `link.yaml`: it leads outside the include root through a symlink [include-outside-root]"),
    (lambda r: (r / "linkdir").symlink_to("../outside"), "linkdir/secret.yaml",
     "cannot read `linkdir/secret.yaml`: it leads outside the include root through a symlink"),
    (lambda r: ((r / "sub" / "hop.yaml").symlink_to("../../outside/secret.yaml"), (r / "chain.yaml").symlink_to("sub/hop.yaml")),
     "chain.yaml", "cannot read `chain.yaml`: it leads outside the include root through a symlink"),
    (lambda r: (r / "abs.yaml").symlink_to(r.parent / "outside" / "secret.yaml"), "abs.yaml",
     "cannot read `abs.yaml`: it leads outside the include root through a symlink"),
    (lambda r: None, "sub/../../outside/secret.yaml",
     "include `sub/../../outside/secret.yaml` leaves the include root `.` [include-outside-root]"),
    (lambda r: None, "sub/./../sub/../../root/sub/ok.yaml",
     "include `sub/./../sub/../../root/sub/ok.yaml` leaves the include root `.` [include-outside-root]"),
    (lambda r: (r / "loop.yaml").symlink_to("loop.yaml"), "loop.yaml", "cannot read `loop.yaml`: "),
    (lambda r: None, "sub", "cannot read `sub`: is a directory"),
    (lambda r: None, "ctl\x01\x1b[2J\n.yaml", "include `ctl\\x01\\x1b[2J\\n.yaml` has control characters; it names no board file"),
    (lambda r: None, "a/" * 3000 + "x.yaml", "File name too long"),
    (lambda r: None, "b" * 300 + ".yaml", "File name too long"),
], ids=["symlink-file", "symlink-dir", "symlink-chain", "symlink-absolute", "dotdot-in-sub", "out-and-back-in",
        "symlink-loop", "directory", "control-chars", "long-path", "long-name"])
def test_include_cannot_leave_the_root(tree: Path, setup, name: str, message: str) -> None:  # type: ignore[no-untyped-def]
    setup(tree)
    where = _with_include(tree, name)
    code, output = _validate(tree)
    assert code == 1, output
    first = output.splitlines()[0]
    assert first.startswith(where) and message in first, first
    assert "SECRET" not in output


def test_a_symlink_that_stays_in_the_root_is_followed(tree: Path) -> None:
    """The refusals above are about where a link leads, not about links."""
    (tree / "alias.yaml").symlink_to("sub/ok.yaml")
    _with_include(tree, "alias.yaml")
    assert _validate(tree) == (0, "")


@pytest.mark.parametrize("name", ["a\0b.yaml", "sub/ok.yaml\0"])
def test_include_with_a_nul_byte_is_a_diagnostic(tree: Path, name: str) -> None:
    where = _with_include(tree, name)
    code, output = _validate(tree)
    assert code in (1, 2) and output.startswith(where), output


def test_include_of_a_fifo_does_not_hang(tree: Path) -> None:
    os.mkfifo(tree / "fifo.yaml")
    _with_include(tree, "fifo.yaml")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dtgen", "validate", "--include-root", ".", "board.yaml"], cwd=tree,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=10)  # milliseconds of work: 10 s is a hang
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("dtgen validate hung reading an include that is a FIFO")
    assert proc.returncode == 1 and out.startswith("board.yaml:1:12: error: cannot read `fifo.yaml`"), out + err


# ---- paths: user templates stay in their directory ---------------------------------------------


@pytest.mark.parametrize("template", [
    '{% include "../../../../../../../../etc/passwd" %}\n',
    '{% include "/etc/passwd" %}\n',
    '{% extends "/etc/passwd" %}\n',
    '{% import "../../../../../../../../etc/passwd" as p %}\n',
    '{% include "..\\\\..\\\\..\\\\etc\\\\passwd" %}\n',
])
def test_user_templates_cannot_read_outside_the_template_directories(tmp_path: Path, template: str) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cmdline.j2").write_text(template)
    result = _invoke(ROOT, "emit", "tests/emit/boards/arm64-helper.yaml", "-o", str(tmp_path / "out"),
                     "--only", "cmdline", "--templates", str(tmp_path / "t"))
    output = result.stdout + result.stderr
    assert result.exit_code == 2, output
    assert re.search(r"cmdline\.j2:\d+: error: template `.*passwd` not found \[template\]", output), output
    assert "root:" not in output and not (tmp_path / "out").exists()


# ---- paths: file names derive from the board id, which names no path ---------------------------------


def _board_pattern() -> str:
    from dtgen.validate.schema import SCHEMA_PATH

    return str(json.loads(Path(SCHEMA_PATH).read_text())["properties"]["board"]["pattern"])


@settings(max_examples=200, deadline=None)
@given(board=st.from_regex(_board_pattern(), fullmatch=True))
def test_every_board_id_the_schema_allows_is_a_plain_file_name(board: str) -> None:
    for name in (f"{board}-reserved-memory.dtsi", f"{board}-cma.c", f"{board}.report.html"):
        assert os.path.basename(name) == name and "\\" not in name and "\0" not in name
    assert board not in (".", "..") and not board.startswith(("-", "."))


@pytest.mark.parametrize("board", ["../x", "a/b", "/abs", ".hidden", "..", "-o", "a\\\\b", "a\\0b", "A"])
def test_a_board_id_that_would_name_a_path_is_refused(tmp_path: Path, board: str) -> None:
    (tmp_path / "board.yaml").write_text(MINIMAL.replace("board: min", f'board: "{board}"'))
    result = _invoke(tmp_path, "emit", "--include-root", ".", "-o", "out", "board.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith("board.yaml:1:9: error: board: ") and "[schema]" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists() and _files_under(tmp_path) == {"board.yaml"}


@pytest.mark.parametrize("board", ["../x", "a/b", ".hidden", "-o"])
def test_an_imported_board_id_that_would_name_a_path_is_refused(tmp_path: Path, board: str) -> None:
    (tmp_path / "b.dts").write_text(SOURCE.format(header="h.h", dtsi="d.dtsi"))
    result = _invoke(tmp_path, "import", "--arch", "arm", "--kernel", "6.12", "--board", board, "b.dts")
    assert result.exit_code == 2 and f"--board {board!r}: lower case" in result.stderr, result.stderr
    assert _files_under(tmp_path) == {"b.dts"}


# ---- escaping, property-based: hostile text in every free-text field ----------------------------

# An arm32 6.12 board (after tests/emit/boards/arm32-platform.yaml) with every output but the 2010
# ones: a device-tree pool with a string property and memory-region-names (dtsi, dtso), a
# platform region (C), a `cma=` default area (cmdline), an occupied range (map, report, layout).
# @NAME@ marks where text goes.
HOSTILE_BOARD = """\
board: hostile
description: @BOARD@
kernel:
  arch: arm
  version: "6.12"
  config: {CONFIG_HIGHMEM: true, CONFIG_DMA_CMA: true}
devicetree: {address_cells: 1}
memory:
  banks:
    - {name: low, base: 0x40000000, size: 512M, description: @BANK@}
  occupied:
    - {name: @OCCUPIED@, start: 0x40000000, size: 1M, description: @OCCUPIED_DESCRIPTION@}
regions:
  - {name: fw_cma, description: @PLATFORM@, start: 0x5c000000, size: 16M, reusable: true, via: platform}
  - {name: gpu_pool, description: @REGION@, size: 16M, reusable: true, properties: {label: @PROPERTY@}}
  - {name: cma_default, description: @DEFAULT@, size: 32M, reusable: true, default: true, via: cmdline}
devices:
  - {name: gpu, description: @DEVICE@, node: "/soc/gpu@13000000", kinds: [bulk], uses: helper}
  - {name: vpu, description: @DEVICE@, node: "&vpu", kinds: [frames], uses: devicetree, memory_region_names: [@NAMES@]}
map:
  - {match: gpu/bulk, regions: [gpu_pool, fw_cma, system]}
  - {match: vpu/frames, regions: [gpu_pool]}
scenarios:
  - name: one
    description: @SCENARIO@
    steps:
      - alloc: {device: gpu, kind: bulk, size: 1M, as: w}
      - free: w
"""
OUTPUTS = "dtsi,dtso,c,cmdline,layout,report"

# Pieces that mean something in one of the output languages.
NASTY = ["*/", "/*", "//", "??=", "??/", "??'", "\\", '"', "'", "\n#include \"evil.h\"\n", "\n", "\r", "\t", "\\\n",
         "}; /delete-node/ &vpu; / {", "\";\n\tevil = \"", "</text><script>alert(1)</script>", "]]>", "<![CDATA[",
         "<!--", "-->", "&amp;", "&#60;", "{{ 7 * 7 }}", "{% if true %}X{% endif %}", "{# c #}", "\\x41", "%s%n",
         "$(touch PWNED)", "`id`", "\u202e", "\u2028", "\u0085", "\ufeff", "\x1b[2J", "\x7f", "\U0001f600", "\x00"]
texts = st.lists(st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_categories=("Cs",)), max_size=6)),
                 max_size=8).map("".join)
# memory-region-names entries: printable ASCII by the schema.
names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64)


def yaml_string(text: str) -> str:
    """`text` as a YAML double-quoted scalar: what YAML cannot hold raw (controls, line
    separators, the BOM) as escapes."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000) \
                and ch not in "\u2028\u2029\ufeff":
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _check(ok: bool, what: str) -> None:
    """A failure with a short message: pytest's rewritten `assert` would print (and diff) whole
    files at each of hypothesis's shrinking steps."""
    if not ok:
        raise AssertionError(what)


class Emitted:
    """Not a dataclass: hypothesis prints a falsifying example's fixtures, a dataclass field by
    field (whole files)."""

    def __init__(self, files: dict[str, str], dtb: dict[str, realtools.Tree]) -> None:
        self.files = files  # every output of emit, and map.svg
        self.dtb = dtb  # the .dtsi (in a base tree) and the .dtso, through cpp and dtc

    def __repr__(self) -> str:
        return f"Emitted({sorted(self.files)})"


def _emit_hostile(work: Path, text: str, names_text: str, tools: dict[str, str]) -> Emitted:
    board = HOSTILE_BOARD
    # A device-tree string holds no NUL (it ends the string): see the NUL test below.
    for key, value in {"PROPERTY": text.replace("\0", ""), "NAMES": names_text}.items():
        board = board.replace(f"@{key}@", yaml_string(value))
    board = re.sub(r"@[A-Z_]+@", lambda _: yaml_string(text), board)
    work.mkdir()
    (work / "board.yaml").write_text(board, encoding="utf-8")
    out = work / "out"
    result = _invoke(work, "emit", "--include-root", ".", "--only", OUTPUTS, "-o", "out", "board.yaml")
    assert result.exit_code == 0, result.stdout + result.stderr
    drawn = _invoke(work, "map", "--include-root", ".", "-o", "out/map.svg", "board.yaml")
    assert drawn.exit_code == 0, drawn.stderr
    files = {p.name.replace("hostile", "B"): p.read_text(encoding="utf-8") for p in out.iterdir()}
    assert sorted(files) == sorted(["B-cma.c", "B-cma.h", "B-layout.json", "B-layout.yaml", "B.cmdline", "B.dtgen-manifest",
                                    "B-reserved-memory.dtsi", "B-reserved-memory.dtso", "B.report.html", "map.svg"])
    # The fragment as a board .dts includes it, after a base tree defining the label it uses;
    # cpp and dtc as the kernel runs them on .dts and .dtso files.
    (out / "base.dts").write_text("/dts-v1/;\n/ {\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n\tvpu: vpu { };\n};\n"
                                  '#include "hostile-reserved-memory.dtsi"\n')
    dtb = {}
    for key, source in (("base.dts", "base.dts"), ("hostile.dtso", "hostile-reserved-memory.dtso")):
        pre = out / f"{source}.pre"
        done = subprocess.run([tools["cpp"], "-nostdinc", "-I", str(out), *realtools.CPP_FLAGS[1:], "-o", str(pre),
                               str(out / source)], capture_output=True, text=True, timeout=60)
        _check(done.returncode == 0, f"cpp {source}: {done.stderr}")
        dtb[key] = _dtc(tools["dtc"], pre)
    # An overlay is often compiled by dtc alone, without cpp: dtc reads the comments itself.
    dtb["hostile.dtso, dtc only"] = _dtc(tools["dtc"], out / "hostile-reserved-memory.dtso")
    return Emitted(files, dtb)


def _dtc(dtc: str, source: Path) -> realtools.Tree:
    blob = source.with_name(source.name + ".dtb")
    done = subprocess.run([dtc, "-q", "-@", "-I", "dts", "-O", "dtb", "-b", "0", "-o", str(blob), str(source)],
                          capture_output=True, text=True, timeout=60)
    _check(done.returncode == 0, f"dtc {source.name}: {done.stderr}")
    return realtools.decode(blob)


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return {"cpp": realtools.need("cpp"), "dtc": realtools.need("dtc")}


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory, tools: dict[str, str]) -> Emitted:
    return _emit_hostile(tmp_path_factory.mktemp("benign") / "work", "benign text", "benign", tools)


_TRIGRAPHS = {"=": "#", "/": "\\", "'": "^", "(": "[", ")": "]", "!": "|", "<": "{", ">": "}", "-": "~"}
_C_TOKEN = re.compile(r"""
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<directive>^[ \t]*\#)
  | (?P<token>[A-Za-z_0-9]+|\S)
""", re.S | re.M | re.X)


def c_tokens(text: str) -> list[str]:
    """C's translation phases 1-3 (trigraphs, as -trigraphs reads them; line splices; tokens and
    comments), then the tokens with comments dropped and string contents blanked."""
    text = re.sub(r"\?\?([=/'()!<>-])", lambda m: _TRIGRAPHS[m[1]], text)
    text = text.replace("\\\n", "")
    out = []
    for m in _C_TOKEN.finditer(text):
        if m["comment"]:
            continue
        out.append('""' if m["string"] else "''" if m["char"] else (m["directive"] or m["token"]).strip())
    return out


def _shape(tree: realtools.Tree) -> dict[str, list[str]]:
    return {path: sorted(props) for path, props in tree.items()}


class _Markup(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.data: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(f"{tag}@{name}" for name, _ in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def _xml_shape(text: str) -> tuple[set[str], set[str], list[str]]:
    root = ET.fromstring(text)  # a stray control character or markup would not parse
    elements = list(root.iter())
    return ({e.tag for e in elements}, {f"{e.tag}@{a}" for e in elements for a in e.attrib},
            [t for e in elements for t in (e.text or "", *e.attrib.values())])


def _xml_safe(text: str) -> bool:
    """XML 1.0 cannot carry these, so they are shown as escapes, not compared."""
    return not re.search(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]", text)


def _first_difference(got: list[str], want: list[str]) -> str:
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"token {i}: {' '.join(got[max(i - 8, 0):i + 8])!r}, benign: {' '.join(want[max(i - 8, 0):i + 8])!r}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=texts, names_text=names)
@example(text="".join(NASTY), names_text='"; evil = "\\" */ /* ??/ </text><script>{{ 7 * 7 }}{% if 1 %}')
@example(text="", names_text=" ")
def test_hostile_text_in_every_free_text_field_changes_no_structure(
        tmp_path_factory: pytest.TempPathFactory, tools: dict[str, str], benign: Emitted, text: str, names_text: str) -> None:
    got = _emit_hostile(tmp_path_factory.mktemp("hostile") / "work", text, names_text, tools)
    prop = text.replace("\0", "")

    # Device tree: the same nodes and properties as the benign board's, and the strings read back
    # byte for byte (descriptions are comments, gone after cpp).
    for source in got.dtb:
        _check(_shape(got.dtb[source]) == _shape(benign.dtb[source]), f"{source}: {_shape(got.dtb[source])}")
    values = {
        "label": got.dtb["base.dts"]["/reserved-memory/gpu-pool"].get("label"),
        **{f"{source} label": next(v for k, v in got.dtb[source].items() if k.endswith("/reserved-memory/gpu-pool")).get("label")
           for source in ("hostile.dtso", "hostile.dtso, dtc only")},
        "memory-region-names": got.dtb["base.dts"]["/vpu"].get("memory-region-names"),
    }
    for what, value in values.items():
        want = (names_text if what == "memory-region-names" else prop).encode() + b"\0"
        _check(value == want, f"{what}: {value!r}, not {want!r}")

    # C: the same tokens as the benign board's (the text is only ever in comments).
    for name in ("B-cma.c", "B-cma.h"):
        tokens, benign_tokens = c_tokens(got.files[name]), c_tokens(benign.files[name])
        _check(tokens == benign_tokens, f"{name}: {_first_difference(tokens, benign_tokens)}")

    # The command line: no board text reaches it; comment lines stay comment lines.
    lines = got.files["B.cmdline"].splitlines()
    _check(all(line.startswith("#") for line in lines[:-1]), f"cmdline: {lines}")
    _check(lines[-1] == benign.files["B.cmdline"].splitlines()[-1], f"cmdline: {lines[-1]!r}")

    # Layout: JSON and YAML read back to the same data, the occupied range's name exactly.
    layout = json.loads(got.files["B-layout.json"])
    _check(layout["occupied"][0]["name"] == text, f"layout.json: {layout['occupied'][0]['name']!r}")
    if "\x85" not in text:  # see test_layout_yaml_keeps_a_next_line_character
        _check(yaml.safe_load(got.files["B-layout.yaml"]) == layout, "layout.yaml reads back to other data than layout.json")

    # SVG and HTML: no element or attribute the benign drawing lacks; the text shown as text.
    tags, attributes, strings = _xml_shape(got.files["map.svg"])
    benign_tags, benign_attributes, _ = _xml_shape(benign.files["map.svg"])
    _check(tags <= benign_tags and attributes <= benign_attributes,
           f"svg: new {tags - benign_tags} {attributes - benign_attributes}")
    _check(not _xml_safe(text) or text in strings, "svg: the occupied range's name is not shown as it is")
    page, benign_page = _Markup(got.files["B.report.html"]), _Markup(benign.files["B.report.html"])
    _check(page.tags <= benign_page.tags and page.attributes <= benign_page.attributes and "script" not in page.tags,
           f"html: new {page.tags - benign_page.tags} {page.attributes - benign_page.attributes}")
    # The board's description, in its own <p> (none when empty).
    _check(not text or not _xml_safe(text) or text in page.data, "html: the description is not shown as it is")


def test_layout_yaml_keeps_a_next_line_character() -> None:
    from dtgen.views.layout import as_yaml

    data = {"occupied": [{"name": "tz\x85firmware"}]}
    assert yaml.safe_load(as_yaml(data)) == data


def test_a_nul_in_a_string_property_is_refused(tmp_path: Path) -> None:
    board = MINIMAL.replace("    reusable: true\n", '    reusable: true\n    properties: {label: "a\\0b"}\n')
    (tmp_path / "board.yaml").write_text(board)
    result = _invoke(tmp_path, "validate", "--include-root", ".", "board.yaml")
    assert result.exit_code == 1 and result.stdout.startswith("board.yaml:14:"), result.stdout
