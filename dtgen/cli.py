"""The command line: the only place that reads files, prints, and picks exit codes.

Exit codes: 0 clean (warnings allowed), 1 findings, 2 usage, I/O or unreadable input.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, NoReturn, Sequence, TypeVar

import click

from dtgen import kernel as k
from dtgen import __version__
from dtgen.diagnostics import Diagnostic, Severity, sort_key

if TYPE_CHECKING:
    from dtgen.trees.source import KernelTree
    from dtgen.trees.base import BaseTree
    from dtgen.model import Board, ConfigValue, Layout
    from dtgen.pipeline import Outcome
    from dtgen.validate import Settings

# A command function, through the decorators that add the shared options.
F = TypeVar("F", bound=Callable[..., Any])

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Group(click.Group):
    """Usage errors exit 2 with click's message; anything unexpected is a bug report, not a
    traceback in the user's terminal."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False
        try:
            super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("DTGEN_DEBUG"):
                raise
            click.echo(
                f"dtgen: internal error: {type(exc).__name__}: {exc}\n"
                "  this is a bug in dtgen; rerun with DTGEN_DEBUG=1 for the traceback and report it",
                err=True,
            )
            sys.exit(3)
        sys.exit(EXIT_CLEAN)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dtgen")
def main() -> None:
    """Board memory plans: validate, resolve, simulate, emit."""


def _include_root(board_path: str, explicit: str | None) -> str:
    """The root includes must stay in, in the same frame (relative/absolute) as the board path:
    --include-root, else the top of the git checkout holding the board, else its directory."""
    if explicit is not None:
        root = os.path.abspath(explicit)
    else:
        here = os.path.dirname(os.path.abspath(board_path))
        root = here
        probe = here
        while True:
            if os.path.exists(os.path.join(probe, ".git")):
                root = probe
                break
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
    if os.path.isabs(board_path):
        return root
    return os.path.relpath(root).replace(os.sep, "/")


class _Reader:
    """The loader's file reader for one run: the first file is the board named on the command
    line (the user's choice: a pipe is fine); every later one is an include, which must be a
    regular file inside the include root, also through symlinks."""

    def __init__(self, root: str) -> None:
        self.real_root = os.path.realpath(root)
        self.calls = 0

    def __call__(self, path: str) -> bytes:
        import stat

        from dtgen.yamlsrc import MAX_BYTES

        # The loader checks include paths as written; this refuses a symlink inside the root
        # that leads out of it.
        real = os.path.realpath(path)
        if self.calls and real != self.real_root and not real.startswith(self.real_root.rstrip(os.sep) + os.sep):
            from dtgen.load import OutsideRoot

            raise OutsideRoot(1, "it leads outside the include root through a symlink")
        self.calls += 1
        if os.path.isdir(path):
            raise IsADirectoryError(21, "is a directory")
        # An include must be a regular file: a FIFO or a device would block or never end.
        if self.calls > 1 and not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(22, "not a regular file")
        with open(path, "rb") as f:
            # One byte past the limit is enough for the loader to say the file is too large;
            # reading all of /dev/zero is not.
            return f.read(MAX_BYTES + 1)


def _reader(root: str) -> _Reader:
    return _Reader(root)


@dataclass(frozen=True)
class _Options:
    fmt: str
    warn: tuple[str, ...]
    errors: tuple[str, ...]
    disable: tuple[str, ...]
    werror: bool
    kconfig: str | None
    include_root: str | None
    kernel_tree: str | None = None


def _settings(opts: _Options) -> Settings:
    from dtgen.validate import Settings
    from dtgen.validate.registry import all_rules

    disabled: set[str] = set(opts.disable)
    forced: list[tuple[str, Severity]] = []
    for name in opts.warn:
        if name.startswith("no-"):
            disabled.add(name[3:])
        else:
            forced.append((name, Severity.WARNING))
    forced.extend((name, Severity.ERROR) for name in opts.errors)
    unknown = sorted((disabled | {n for n, _ in forced}) - set(all_rules()))
    if unknown:
        raise click.UsageError(f"unknown rule {', '.join(unknown)}; `dtgen rules` lists them")
    return Settings(frozenset(disabled), tuple(forced), opts.werror)


def _kconfig(path: str | None) -> tuple[dict[str, ConfigValue], list[Diagnostic]]:
    if path is None:
        return {}, []
    from dtgen.kconfig import parse

    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
    except OSError as exc:
        raise click.FileError(path, exc.strerror) from None
    values, problems = parse(text, path)
    return dict(values), problems


def _report(found: Sequence[Diagnostic], fmt: str, files: int) -> None:
    ordered = sorted(found, key=sort_key)
    if fmt == "json":
        click.echo(json.dumps({"diagnostics": [d.as_json() for d in ordered], "files": files}, indent=2, sort_keys=True))
        return
    for d in ordered:
        click.echo(d.render())
    errors = sum(d.severity is Severity.ERROR for d in ordered)
    warnings = len(ordered) - errors
    if ordered:
        click.echo(
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
            f"in {files} file{'s' * (files != 1)}",
            err=True,
        )


def _exit_code(found: Iterable[Diagnostic]) -> int:
    code = EXIT_CLEAN
    for d in found:
        if d.unreadable:
            return EXIT_USAGE
        if d.severity is Severity.ERROR:
            code = EXIT_FINDINGS
    return code


def _common(fn: F, formats: tuple[str, ...] = ("text", "json"), what: str = "Diagnostics as compiler-style text or JSON.") -> F:
    """The options every board command takes; `--format` only where the command has formats."""
    fmt = [click.option("--format", "fmt", type=click.Choice(list(formats)), default="text", show_default=True, help=what)]
    for decorator in reversed(
        (
            *(fmt if formats else []),
            click.option("-W", "warn", multiple=True, metavar="RULE", help="Report RULE as a warning; -W no-RULE disables it."),
            click.option("-E", "errors", multiple=True, metavar="RULE", help="Report RULE as an error."),
            click.option("--disable", multiple=True, metavar="RULE", help="Do not run RULE."),
            click.option("--werror", is_flag=True, help="Treat warnings as errors."),
            click.option("--kconfig", type=click.Path(dir_okay=False), help="Kernel .config whose values override kernel.config."),
            click.option("--include-root", type=click.Path(file_okay=False),
                         help="Directory includes must stay in (default: the git checkout's top)."),
            click.option("--kernel-tree", type=click.Path(file_okay=False), envvar="DTGEN_KERNEL_TREE",
                         help="Kernel source tree for `devicetree.base` with `base_in: kernel` (or $DTGEN_KERNEL_TREE)."),
        )
    ):
        fn = decorator(fn)
    return fn


def _run(file: str, opts: _Options, until: str, predictions: frozenset[str] = frozenset()) -> Outcome:
    """One board through the pipeline (dtgen/pipeline.py) up to `until`: an Outcome."""
    from dtgen import pipeline

    kconfig, kconfig_problems = _kconfig(opts.kconfig)
    shown = file.replace(os.sep, "/")
    root = _include_root(file, opts.include_root)
    return pipeline.run(shown, _reader(root), root, kconfig, _settings(opts), until=until,
                        extra=tuple(kconfig_problems), predictions=predictions,
                        base=lambda board: _read_base(board, opts.kernel_tree))


def _read_base(board: Board, kernel_tree: str | None) -> tuple[BaseTree | None, list[Diagnostic]]:
    """The board's `devicetree.base` through cpp and dtc (dtgen/trees/base_cache.py), with the include
    paths a kernel build gives it: the board's `include_dirs` (relative to the file naming
    them), and the kernel tree's include prefixes when the base is in a kernel tree."""
    import posixpath

    from dtgen.trees import base_cache
    from dtgen.trees import source as sources
    from dtgen.diagnostics import error, warning

    dt = board.devicetree
    assert dt is not None and dt.base  # pipeline.run() asks only for a board that names a base
    base = dt.base
    span = board.source.value("/devicetree/base")
    here = posixpath.dirname(span.file)
    dirs = [posixpath.normpath(posixpath.join(here, d)) for d in dt.include_dirs]
    if dt.base_in == "kernel":
        if not kernel_tree:
            return None, [warning("base-unchecked", f"the base tree {base} is in the kernel source tree, and none was "
                                  "given: labels, cells and reserved memory are not checked against it",
                                  span, "/devicetree/base", hint="give --kernel-tree DIR (or set DTGEN_KERNEL_TREE)")]
        top = os.path.abspath(kernel_tree)
        path = os.path.normpath(os.path.join(top, base))
        if base.startswith("/") or not path.startswith(top + os.sep):
            return None, [error("path-outside-root", f"devicetree.base `{base}` leaves the kernel tree `{kernel_tree}`",
                                span, "/devicetree/base", hint="name it relative to the kernel tree's top")]
    else:
        path = posixpath.normpath(posixpath.join(here, base))
    if not os.path.isfile(path):
        where = (f" in the kernel tree {kernel_tree}" if dt.base_in == "kernel" else
                 "" if path == posixpath.normpath(base) else f" (looked for {path})")
        return None, [error("base-unreadable", f"the base tree {base} does not exist{where}", span, "/devicetree/base",
                            hint="name the board's .dts, relative to this file" if dt.base_in != "kernel" else
                            "name the .dts relative to the kernel tree's top (arch/ARCH/boot/dts/...)")]
    kernel = sources.kernel_tree_of(path)
    if kernel is not None:
        dirs.append(kernel.include)
    tools = sources.find_tools()
    if tools.dtc is None:
        return None, [warning("base-unchecked", f"dtc is not installed: the base tree {base} is not checked", span,
                              "/devicetree/base", hint="install dtc (Debian: apt install device-tree-compiler)")]
    facts, why = base_cache.read(path, base, tuple(dirs), tools)
    if facts is None:
        return None, [error("base-unreadable", f"the base tree {base} cannot be read: {why}", span, "/devicetree/base")]
    return facts, []


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_common
def validate(files: tuple[str, ...], **kw: Any) -> None:
    """Check board files as `dtgen emit` would before writing: the schema and the semantic rules,
    placement, what the emitters refuse, and every scenario but the churns. A board that passes
    is a board `dtgen emit` writes."""
    opts = _Options(**kw)
    found: list[Diagnostic] = []
    boards = _boards_to_check(files, opts)
    for path in boards:
        found.extend(_run(path, opts, "scenarios").diagnostics)
    _report(found, opts.fmt, len(boards))
    sys.exit(_exit_code(found))


_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".cache", ".tox"}


def _boards_to_check(files: Sequence[str], opts: _Options) -> list[str]:
    """The files to validate: each board named, and for a file boards include (an SoC file, with
    no `board:` of its own) the boards under the include root that include it, directly or
    through another include, so that a commit changing only the SoC file re-checks its boards.
    A file nothing includes is validated as it is."""
    out: list[str] = []
    for path in files:
        including = _includers(path, _include_root(path, opts.include_root)) if _is_include_only(path) else []
        for board in including or [path]:
            if board not in out:
                out.append(board)
    return out


def _top_level(path: str) -> dict[str, object] | None:
    """The file's top-level mapping, read plainly (no positions, no checks), or None."""
    import yaml

    from dtgen.yamlsrc import MAX_BYTES

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        loaded = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError, ValueError, RecursionError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _is_include_only(path: str) -> bool:
    data = _top_level(path)
    return data is not None and "board" not in data


@dataclass(frozen=True)
class _YamlFile:
    shown: str
    includes: tuple[str, ...]  # real paths
    board: bool


def _includers(path: str, root: str) -> list[str]:
    """Board files under `root` whose includes reach `path`, directly or through other
    includes, in name order and in the frame (relative or absolute) the path was given in."""
    files: dict[str, _YamlFile] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(n for n in names if n.endswith((".yaml", ".yml"))):
            file = os.path.join(folder, name)
            data = _top_level(file)
            if data is None:
                continue
            listed = data.get("include")
            includes = tuple(os.path.realpath(os.path.join(folder, i)) for i in listed if isinstance(i, str)) \
                if isinstance(listed, list) else ()
            shown = file if os.path.isabs(path) else os.path.relpath(file)
            files[os.path.realpath(file)] = _YamlFile(shown.replace(os.sep, "/"), includes, "board" in data)
    target = os.path.realpath(path)

    def reaches(real: str, seen: frozenset[str]) -> bool:
        entry = files.get(real)
        return entry is not None and any(
            inc == target or (inc not in seen and reaches(inc, seen | {inc})) for inc in entry.includes)

    return sorted(f.shown for real, f in files.items() if f.board and reaches(real, frozenset({real})))


def _resolve_options(fn: F) -> F:
    fn = click.option("--pin", is_flag=True, help="Fix every dynamic region where it landed and resolve again (what emit --pin writes as reg).")(fn)
    return _common(fn, ("text", "json", "yaml"), "The layout as a text table, JSON or YAML (diagnostics go to stderr, or into the JSON).")


def _placed_or_exit(file: str, opts: _Options, until: str = "placed",
                    predictions: frozenset[str] = frozenset()) -> tuple[Board, Layout, list[Diagnostic]]:
    """For commands that need a placed board: run the pipeline to `until`, print the diagnostics
    to stderr, and stop (exit 1, or 2 for unreadable input) when there is no layout to work on
    or a check failed. Errors of the rules in `predictions` (what the kernel will do with a
    sound tree: verify compares with it) still give a layout."""
    outcome = _run(file, opts, until, predictions)
    found = list(outcome.diagnostics)
    for d in sorted(found, key=sort_key):
        click.echo(d.render(), err=True)
    if outcome.layout is None or any(d.severity is Severity.ERROR and d.rule not in predictions for d in found):
        sys.exit(_exit_code(found) or EXIT_FINDINGS)
    assert outcome.board is not None  # a layout is made of a board
    return outcome.board, outcome.layout, found


@main.command()
@click.argument("file", type=click.Path())
@click.option("--explain", metavar="SCENARIO", help="Tell one scenario step by step: what each request got and where.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Also write BOARD.report.html (the map, layout, verdicts, peaks, free space, size suggestions) "
                   "and BOARD.report.json into this directory.")
@_common
def check(file: str, explain: str | None, report_dir: str | None, **kw: Any) -> None:
    """Validate, resolve and run every scenario and every combination that can run at once."""
    opts = _Options(**kw)
    board, layout, found = _placed_or_exit(file, opts)
    from dtgen.views import checks as check_view
    from dtgen.simulate.engine import explain as explain_one
    from dtgen.simulate.engine import simulate
    from dtgen.simulate.size import suggestion, suggestions

    if explain is not None:
        told = explain_one(board, layout, explain)
        if told is None:
            names = ", ".join(s.name for s in board.scenarios) or "none"
            raise click.UsageError(f"no scenario `{explain}` in {file} (scenarios: {names})")
        hint = suggestion(board, layout, told) if not told.fits and told.expect == "fits" else ""
        if opts.fmt == "json":
            click.echo(json.dumps(check_view.verdict_data(told), indent=2, sort_keys=True))
        else:
            click.echo(check_view.story(board, layout, told, hint), nl=False)
        sys.exit(EXIT_CLEAN if told.met else EXIT_FINDINGS)
    verdicts = simulate(board, layout, record=report_dir is not None)
    data = {"diagnostics": [d.as_json() for d in sorted(found, key=sort_key)],
            # Step-by-step events are --explain's; a recorded run for --report has thousands.
            "verdicts": [{k: x for k, x in check_view.verdict_data(v).items() if k != "events"} for v in verdicts]}
    hints = suggestions(board, layout, verdicts)
    if opts.fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(check_view.report(board, layout, verdicts, hints), nl=False)
    if report_dir is not None:
        from dtgen.views.picture import picture
        from dtgen.emit.templating import Renderer
        from dtgen.views.layout import as_data

        html = picture(Renderer(cache_dir=_template_cache()), board, layout, "html", verdicts,
                       {k: v for k, v in hints.items() if v})
        full = {**data, "layout": as_data(board, layout), "suggestions": hints}
        for name, text in ((f"{board.name}.report.html", html),
                           (f"{board.name}.report.json", json.dumps(full, indent=2, sort_keys=True) + "\n")):
            _write_or_print(os.path.join(report_dir, name), text)
            click.echo(f"wrote {os.path.join(report_dir, name)}", err=True)
    sys.exit(EXIT_FINDINGS if any(not v.met for v in verdicts) or _exit_code(found) else EXIT_CLEAN)


@main.command()
@click.argument("file", type=click.Path())
@click.option("--margin", type=click.FloatRange(0, 1000), default=10.0, show_default=True, metavar="PCT",
              help="Headroom added to the joint minimum, in percent.")
@_common
def size(file: str, margin: float, **kw: Any) -> None:
    """The smallest size of each region at which every `expect: fits` scenario still fits."""
    opts = _Options(**kw)
    board, layout, found = _placed_or_exit(file, opts)
    from dtgen.views import checks as check_view
    from dtgen.simulate.size import sizes

    progress = None
    if sys.stderr.isatty() and opts.fmt == "text":
        def progress(done: int, total: int, what: str) -> None:
            bar = "#" * (20 * done // max(total, 1))
            click.echo(f"\r[{bar:<20}] {done}/{total} {what:<30}", err=True, nl=done >= total)
    rows = sizes(board, layout, margin, progress)
    if opts.fmt == "json":
        click.echo(json.dumps([{"region": r.region, "granule": r.granule, "current": r.current, "minimal": r.minimal,
                                "joint": r.joint, "with_margin": r.with_margin} for r in rows], indent=2, sort_keys=True))
    else:
        click.echo(check_view.size_table(rows, margin), nl=False)
    sys.exit(EXIT_FINDINGS if any(r.joint is None for r in rows) else EXIT_CLEAN)


@main.command()
@click.argument("file", type=click.Path())
@_resolve_options
def resolve(file: str, pin: bool, **kw: Any) -> None:
    """Place every region as the kernel would and resolve the device/kind map."""
    opts = _Options(**kw)
    # The layout is shown even when a region cannot be placed: the table says where the others went.
    outcome = _run(file, opts, "validated")
    board, found = outcome.board, list(outcome.diagnostics)
    layout = None
    if board is not None and not any(d.severity is Severity.ERROR for d in found):
        from dtgen.resolve import pin as pin_board
        from dtgen.resolve import resolve as resolve_board

        settings = _settings(opts)
        layout, more = resolve_board(board)
        more = settings.apply(more)
        if pin and not any(d.severity is Severity.ERROR for d in more):
            board = pin_board(board, layout)
            layout, more = resolve_board(board)
            more = settings.apply(more)
        found.extend(more)
    _print_layout(board, layout, found, opts.fmt)
    sys.exit(_exit_code(found))


def _print_layout(board: Board | None, layout: Layout | None, found: list[Diagnostic], fmt: str) -> None:
    from dtgen.views import layout as layout_view

    ordered = sorted(found, key=sort_key)
    if fmt == "json":
        data = layout_view.as_data(board, layout) if board is not None and layout is not None else None
        click.echo(json.dumps({"diagnostics": [d.as_json() for d in ordered], "layout": data}, indent=2, sort_keys=True))
        return
    for d in ordered:
        click.echo(d.render(), err=True)
    if board is None or layout is None:
        return
    if fmt == "yaml":
        click.echo(layout_view.as_yaml(layout_view.as_data(board, layout)), nl=False)
    else:
        click.echo(layout_view.as_text(board, layout), nl=False)


def _outputs(value: str | None) -> tuple[str, ...]:
    from dtgen.emit import OUTPUTS

    if not value:
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if "all" in names:
        if len(names) > 1:
            raise click.BadParameter("`all` stands alone: every output that applies", param_hint="--only")
        return names
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise click.BadParameter(f"unknown output {', '.join(unknown)} (choose from {', '.join(OUTPUTS)})", param_hint="--only")
    return names


@main.command()
@click.argument("file", type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write into (created if missing).")
@click.option("--only", metavar="LIST", help="Comma-separated outputs: dtsi, dtso, c, legacy-c, cmdline, layout, report, "
              "or `all` for every one that applies, the report included (default: all that apply but the report).")
@click.option("--pin", is_flag=True, help="Write every dynamic region where resolve placed it, as a static `reg`.")
@click.option("--templates", "template_dir", type=click.Path(file_okay=False), help="Directory whose templates replace dtgen's, by name.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that differ from what would be generated.")
@functools.partial(_common, formats=())
def emit(file: str, out_dir: str, only: str | None, pin: bool, template_dir: str | None, check: bool, **kw: Any) -> None:
    """Write the board's device-tree fragment and overlay, platform C, command line and layout.

    Nothing is written unless the board passes every check `dtgen validate` runs: the rules,
    placement, what the emitters refuse, and every scenario without churn (long churns are
    `dtgen check`'s job). Each file is written to a temporary name and renamed, so a file is either the old one
    or the complete new one; a run that completes removes the temporaries a killed one left.
    """
    import time

    # Temporaries older than this were left by runs that died; a newer one may be a concurrent
    # emit's, about to be renamed.
    started_ns = time.time_ns()
    opts = _Options(fmt="text", **kw)
    wanted = _outputs(only)
    if template_dir is not None and not os.path.isdir(template_dir):
        raise click.BadParameter(f"{template_dir} is not a directory", param_hint="--templates")
    # Every check `dtgen validate` runs, before anything is written.
    board, layout, found = _placed_or_exit(file, opts, "scenarios")
    if wanted == ("all",):
        from dtgen.emit import applicable

        wanted = tuple(applicable(board, layout))
    from dtgen import pipeline
    from dtgen.emit import emit as emit_board
    from dtgen.emit.templating import TemplateError
    from dtgen.resolve import pin as pin_board
    from dtgen.simulate.engine import simulate

    if pin:
        pinned = pipeline.place(pin_board(board, layout), _settings(opts), origin=file)
        more = [d for d in pinned.diagnostics if d not in found]
        _echo_findings(more)
        if pinned.layout is None or _exit_code(more):
            sys.exit(EXIT_FINDINGS)
        assert pinned.board is not None
        board, layout = pinned.board, pinned.layout
    # The report shows every scenario, churns included, from recorded runs (free-space maps).
    verdicts = simulate(board, layout, record=True) if "report" in wanted else ()
    try:
        files, more = emit_board(board, layout, file, wanted, template_dir, verdicts, template_cache=_template_cache())
    except TemplateError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_USAGE)
    # The builders' findings were the pipeline's already; what is left is about the request.
    more = [d for d in _settings(opts).apply(more) if d not in found]
    _echo_findings(more)
    if _exit_code(more):
        sys.exit(EXIT_FINDINGS)
    # What emit wrote before for this board (its manifest), what applies now, and so what is
    # stale: listed there, no longer produced, still on disk.
    from dtgen.emit import OUTPUTS, applicable, file_names, former_names, manifest_name, manifest_names, manifest_text

    applies = {name for output in applicable(board, layout) for name in file_names(board, output)}
    # Only what emit could ever write for this board is removed, whatever the manifest says.
    ours = {name for output in OUTPUTS for name in file_names(board, output)} | set(former_names(board))
    manifest = os.path.join(out_dir, manifest_name(board))
    previous = _read_or_none(manifest)
    before = manifest_names(previous.decode("utf-8", "replace")) if previous is not None else []
    stale = sorted(n for n in before if n in ours and n not in applies and os.path.lexists(os.path.join(out_dir, n)))
    kept = [n for n in before if n in applies and n not in {f.name for f in files}]
    listed = manifest_text([*kept, *(f.name for f in files)])
    outputs = [*((f.name, f.text) for f in files), (manifest_name(board), listed)]
    if check:
        problems = []
        for name, text in outputs:
            on_disk = _read_or_none(os.path.join(out_dir, name))
            if on_disk is None:
                problems.append(f"{os.path.join(out_dir, name)}: missing: dtgen emit would write it")
            elif on_disk != text.encode("utf-8"):
                problems.append(f"{os.path.join(out_dir, name)}: differs from what dtgen emit would write")
        problems += [f"{os.path.join(out_dir, name)}: no longer generated for this board (its manifest lists it): "
                     "dtgen emit removes it" for name in stale]
        for line in problems:
            click.echo(line)
        if problems:
            click.echo(f"{len(problems)} generated file{'s' * (len(problems) != 1)} out of date; run: "
                       f"dtgen emit {file} -o {out_dir}", err=True)
        sys.exit(EXIT_FINDINGS if problems else EXIT_CLEAN)
    try:
        os.makedirs(out_dir, exist_ok=True)
        renamed = False
        # The manifest goes last: a run killed before it leaves the old one, which still names
        # every file this run might have added or left.
        for name, text in outputs:
            path = os.path.join(out_dir, name)
            data = text.encode("utf-8")
            if _read_or_none(path) == data:
                click.echo(f"unchanged {path}")
                continue
            _write_atomic(path, data)
            renamed = True
            click.echo(f"wrote {path}")
        for name in stale:
            os.remove(os.path.join(out_dir, name))
            click.echo(f"removed {os.path.join(out_dir, name)} (no longer generated for this board)")
        removed = _remove_leftover_temporaries(out_dir, [n for n, _ in outputs], started_ns)
        if renamed or removed or stale:
            _sync_directory(out_dir)
    except OSError as e:
        click.echo(f"{e.filename or out_dir}: error: cannot write: {e.strerror or e} [io-error]", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_CLEAN)


def _echo_findings(found: Sequence[Diagnostic]) -> None:
    for d in sorted(found, key=sort_key):
        click.echo(d.render(), err=True)


def _read_up_to(path: str, shown: str, limit: int) -> bytes:
    """At most limit + 1 bytes of an input file (one more tells the caller it was too big);
    an unreadable file is an I/O error, exit 2."""
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(21, "is a directory")
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError as e:
        click.echo(f"{shown}: error: cannot read: {e.strerror or e} [io-error]", err=True)
        sys.exit(EXIT_USAGE)


def _read_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _save_or_exit(path: str, data: bytes, shown: str | None = None) -> None:
    """Write one output file (its folder made first), or say why not and exit 2."""
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        _write_atomic(path, data)
    except OSError as e:
        click.echo(f"{shown or path}: error: cannot write: {e.strerror or e} [io-error]", err=True)
        sys.exit(EXIT_USAGE)


def _write_atomic(path: str, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`: readers
    and an interrupted run see the old file or the whole new one, never a part."""
    import tempfile

    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _remove_leftover_temporaries(directory: str, names: Sequence[str], older_than_ns: int) -> int:
    """Remove the `.NAME.XXXXXXXX.tmp` files `_write_atomic` leaves when a run is killed between
    mkstemp and rename (they show in `git status` of the kernel tree), for our own output names
    only and only those last written before this run started. Returns how many were removed."""
    import re

    pattern = re.compile("|".join(rf"\.{re.escape(name)}\.[A-Za-z0-9_]+\.tmp" for name in names))
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime_ns < older_than_ns:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass  # gone already (another run cleaned it) or not ours to remove: leave it
    return removed


def _sync_directory(directory: str) -> None:
    """fsync the directory so the renames survive a power cut, not only a killed process: the
    file's own fsync flushes its data, not the directory entry that rename changed (PostgreSQL's
    durable_rename, GLib's G_FILE_SET_CONTENTS_DURABLE do the same). Once per run, not per file.
    Best effort: some platforms (Windows) cannot open a directory, and some filesystems refuse
    to fsync one; the files are then as durable as the filesystem makes them."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


LOG_LIMIT = 64 << 20  # bytes of boot log read; a boot's reservations are in its first lines


@main.command()
@click.argument("file", type=click.Path())
@click.option("--dmesg", "log_path", required=True, type=click.Path(dir_okay=False),
              help="The boot log: dmesg, journalctl -k -b, or a serial console capture.")
@_common
def verify(file: str, log_path: str, **kw: Any) -> None:
    """Compare the resolved layout with what the kernel printed at boot: each region matches,
    moved, is missing, or is unexpected (exit 1 on any difference)."""
    opts = _Options(**kw)
    from dtgen.boot import PREDICTIONS

    # A zone straddle is placed and then refused by the kernel: the log says which happened.
    board, layout, found = _placed_or_exit(file, opts, "placed", PREDICTIONS)
    from dtgen import verify as check_log

    if k.cma_2010(board.kernel):
        raise click.UsageError(f"{file}: the 2010 CMA patch printed no placement lines dtgen reads; verify needs a 3.5+ kernel")
    data = _read_up_to(log_path, log_path, LOG_LIMIT)
    if len(data) > LOG_LIMIT:
        click.echo(f"{log_path}: warning: only the first {LOG_LIMIT >> 20} MiB are read", err=True)
        data = data[:LOG_LIMIT]
    if b"\0" in data[:65536]:
        click.echo(f"{log_path}: error: not a text log (NUL bytes); give dmesg's text output [io-error]", err=True)
        sys.exit(EXIT_USAGE)
    shown = log_path.replace(os.sep, "/")
    report = check_log.compare(board, layout, check_log.parse_log(data.decode("utf-8", errors="replace")), shown)
    if opts.fmt == "json":
        click.echo(json.dumps(check_log.as_data(report), indent=2, sort_keys=True))
    else:
        click.echo(check_log.as_text(report, shown), nl=False)
    sys.exit(EXIT_FINDINGS if report.differs or _exit_code(found) else EXIT_CLEAN)


BOOT_TIMEOUT = 120.0  # seconds; measured boots take 0.4-8 s, an emulated ARM32 kernel the longest


@main.command()
@click.argument("file", type=click.Path())
@click.option("--kernel", "kernel_path", required=True, type=click.Path(dir_okay=False),
              help="The kernel to boot: an arm64 `Image` or an ARM32 `zImage`, for the board's arch.")
@click.option("--qemu", "qemu_path", type=click.Path(dir_okay=False),
              help="The QEMU system emulator (default: qemu-system-aarch64 or qemu-system-arm on the PATH).")
@click.option("-m", "--memory", "memory", metavar="SIZE",
              help="QEMU's RAM from 0x40000000 (default: up to the end of the board's highest bank).")
@click.option("--log", "log_out", type=click.Path(dir_okay=False), help="Write the kernel's serial log to this file.")
@click.option("--tree", "tree_out", type=click.Path(dir_okay=False), help="Write the device tree blob booted to this file.")
@click.option("--append", "extra", multiple=True, metavar="ARG", help="One more kernel argument (repeatable).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=BOOT_TIMEOUT, show_default=True,
              help="Seconds before QEMU is killed.")
@_common
def boot(file: str, kernel_path: str, qemu_path: str | None, memory: str | None, log_out: str | None,
         tree_out: str | None, extra: tuple[str, ...], timeout: float, **kw: Any) -> None:
    """Boot the board's memory plan on a real kernel under QEMU's `virt` machine and compare
    where the kernel put each region with where dtgen says it goes (exit 1 on any difference)."""
    import tempfile

    from dtgen import boot as plan, qemu, verify as check_log
    from dtgen.units import parse_size

    opts = _Options(**kw)
    outcome = _run(file, opts, "validated")
    board, found, shown = outcome.board, list(outcome.diagnostics), file.replace(os.sep, "/")
    if board is None or outcome.failed:
        _echo_findings(found)
        sys.exit(_exit_code(found) or EXIT_FINDINGS)
    if k.cma_2010(board.kernel):
        raise click.UsageError(f"{file}: a 2010 CMA patch kernel does not boot on QEMU's virt machine")
    machine = plan.MACHINES[board.kernel.arch]
    ram_mib, why = plan.ram_needed(board)
    if not ram_mib:
        click.echo(f"{shown}: error: {why} [boot-memory]", err=True)
        sys.exit(EXIT_USAGE)
    if memory is not None:
        asked = parse_size(memory)
        if asked is None or asked <= 0 or asked % (1 << 20):
            raise click.BadParameter(f"{memory!r}: a size in whole MiB, such as 2G", param_hint="-m")
        if asked >> 20 < ram_mib:
            raise click.BadParameter(f"{memory}: the board's banks need {ram_mib} MiB from 0x40000000", param_hint="-m")
        ram_mib = asked >> 20
    head = _read_up_to(kernel_path, kernel_path, 4096)
    if plan.image_arch(head) != board.kernel.arch:
        got = plan.image_arch(head) or "not a kernel image dtgen knows (arm64 Image, ARM32 zImage)"
        click.echo(f"{kernel_path}: error: the board is {board.kernel.arch}, the kernel is {got} [boot-kernel]", err=True)
        sys.exit(EXIT_USAGE)
    from dtgen.emit.cmdline import mainline_cma
    from dtgen.emit import emit as emit_files
    from dtgen.emit.templating import TemplateError
    from dtgen.resolve import resolve as resolve_board

    from dtgen import pipeline

    board = plan.for_virt(board)
    # A zone straddle is a prediction the boot tests: the kernel places the area and then
    # prints that it could not activate it. Other errors leave nothing sound to boot.
    placed = pipeline.place(board, _settings(opts), found, until=pipeline.EMITTABLE, origin=shown,
                            predictions=plan.PREDICTIONS)
    found = list(placed.diagnostics)
    if placed.layout is None or any(d.severity is Severity.ERROR and d.rule not in plan.PREDICTIONS for d in found):
        _echo_findings(found)
        sys.exit(EXIT_FINDINGS)
    layout = placed.layout
    try:
        files, _ = emit_files(board, layout, shown, only=("dtsi",))
    except TemplateError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_USAGE)
    append = plan.kernel_command_line(mainline_cma(board, layout) or "", extra)
    try:
        qemu_bin = qemu.find(machine.qemu, qemu_path)
        dtc_bin = qemu.find("dtc")
        with tempfile.TemporaryDirectory(prefix="dtgen-boot-") as tmp:
            virt = qemu.dump_virt_tree(machine, qemu_bin, ram_mib, tmp)
            virt_source = qemu.dtc(["-q", "-I", "dtb", "-O", "dts"], dtc_bin, virt).decode("utf-8", "replace")
            source = plan.tree_source(board, virt_source, files[0].text, ram_mib)
            blob = qemu.dtc(["-q", "-I", "dts", "-O", "dtb"], dtc_bin, source.encode())
            dtb = os.path.join(tmp, "board.dtb")
            with open(dtb, "wb") as f:
                f.write(blob)
            # What QEMU loads (the image, the tree) is reserved before any region is placed: the
            # prediction is made again with it.
            board = plan.with_qemu_facts(board, head, ram_mib, len(blob), plan.unflattened_bytes(board, blob))
            layout, _ = resolve_board(board)
            done = qemu.boot(machine, qemu_bin, kernel_path, dtb, ram_mib, append, timeout)
    except qemu.ToolFailure as e:
        click.echo(f"dtgen boot: error: {e} [boot-tool]", err=True)
        sys.exit(EXIT_USAGE)
    for path, content in ((log_out, done.output.encode()), (tree_out, blob)):
        if path:
            _save_or_exit(path, content)
    log = check_log.parse_log(done.output)
    if not log.banner:
        state = f"was killed after {timeout:g} s" if done.timed_out else f"exited ({done.exit_code})"
        tail = " | ".join(done.output.strip().splitlines()[-3:]) or "no output"
        click.echo(f"dtgen boot: error: the kernel printed no banner; QEMU {state}: {tail} [boot-no-output]", err=True)
        sys.exit(EXIT_USAGE)
    log_name = (log_out or "serial").replace(os.sep, "/")
    report = check_log.compare(board, layout, log, log_name)
    _echo_findings(found)
    banner = check_log.banner_text(done.output)
    if opts.fmt == "json":
        data = {"kernel": banner, "board_version": board.kernel.version_text, "ram_mib": ram_mib,
                "command_line": append, "seconds": round(done.seconds, 2), "timed_out": done.timed_out,
                **check_log.as_data(report)}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(f"booted: {banner}")
        click.echo(f"  QEMU {machine.qemu} -M virt, {plan.describe_ram(ram_mib)}, {done.seconds:.1f} s; "
                   f"the board says Linux {board.kernel.version_text}")
        click.echo(f"  command line: {append}")
        click.echo(check_log.as_text(report, log_name), nl=False)
    sys.exit(EXIT_FINDINGS if report.differs else EXIT_CLEAN)


MAP_FORMATS = {".svg": "svg", ".html": "html", ".htm": "html", ".txt": "text"}


@main.command("map")
@click.argument("file", type=click.Path())
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write (`-`: standard output); its suffix (.svg, .html, .txt) picks the format.")
@functools.partial(_common, formats=("text", "svg", "html"),
                   what="text (terminals, 100 columns), svg, or html (the SVG with a legend and a table); default: from -o's suffix, else text.")
def map_(file: str, output: str, **kw: Any) -> None:
    """Draw the memory map: every bank, fixed and placed regions, the default CMA area, zone
    limits and device DMA reach."""
    opts = _Options(**kw)
    fmt = opts.fmt
    if click.get_current_context().get_parameter_source("fmt") is click.core.ParameterSource.DEFAULT:
        fmt = MAP_FORMATS.get(os.path.splitext(output)[1].lower(), "text")
    board, layout, found = _placed_or_exit(file, opts)
    from dtgen.views.picture import picture
    from dtgen.emit.templating import Renderer, TemplateError

    try:
        text = picture(Renderer(cache_dir=_template_cache()), board, layout, fmt)
    except TemplateError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_USAGE)
    _write_or_print(output, text)
    if output != "-":
        click.echo(f"wrote {output}")  # as emit says what it wrote
    sys.exit(_exit_code(found))


def _template_cache() -> str | None:
    """Where compiled templates are kept between runs: $XDG_CACHE_HOME/dtgen/jinja2, else
    ~/.cache/dtgen/jinja2; none with DTGEN_NO_CACHE. Decided here, so that emitting stays a
    function of its inputs."""
    if os.environ.get("DTGEN_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dtgen", "jinja2")


def _write_or_print(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    _save_or_exit(output, text.encode("utf-8"))


SOURCE_LIMIT = 64 << 20  # bytes; the largest kernel board blobs and sources are well under 1 MiB


def _bank_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    from dtgen.units import parse_size

    out = []
    for text in values:
        base_text, sep, size_text = text.partition(":")
        base, size = parse_size(base_text.strip()), parse_size(size_text.strip())
        if not sep or base is None or size is None or size <= 0:
            raise click.BadParameter(f"{text!r}: give BASE:SIZE, such as 0x80000000:2G", ctx, param)
        out.append((base, size))
    return tuple(out)


def _import_base(source: str, output: str | None, kernel_tree: KernelTree | None, reader: str) -> tuple[str | None, str]:
    """How the written board names its source as `devicetree.base`: inside a kernel tree,
    from the tree's top (`base_in: kernel`), so the board works wherever the tree is unpacked;
    otherwise relative to the written file. A fragment is no base (dtc cannot compile it alone)."""
    if reader == "pydevicetree":
        return None, "board"
    if kernel_tree is not None:
        return os.path.relpath(os.path.abspath(source), kernel_tree.root).replace(os.sep, "/"), "kernel"
    where = os.path.dirname(os.path.abspath(output)) if output else os.getcwd()
    root = os.path.abspath(_include_root(os.path.join(where, "x.yaml"), None))
    if not os.path.abspath(source).startswith(root + os.sep):
        return None, "outside"  # the board could not name it: a base stays inside the include root
    return os.path.relpath(os.path.abspath(source), where).replace(os.sep, "/"), "board"


@main.command("import")
@click.argument("source", type=click.Path())
@click.option("-I", "--include", "include_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Include directory for cpp and dtc (a kernel tree's scripts/dtc/include-prefixes is added by itself).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Board file to write (default: standard output).")
@click.option("--arch", type=click.Choice(["arm", "arm64"]), help="Kernel architecture (default: from arch/<arch>/boot/dts in the path).")
@click.option("--kernel", "version", metavar="VERSION", help="Kernel version, e.g. 6.12 (default: the kernel tree's Makefile).")
@click.option("--board", "board_name", metavar="NAME", help="Board id (default: the source file's name).")
@click.option("--bank", "banks", multiple=True, metavar="BASE:SIZE", callback=_bank_option,
              help="A RAM bank, replacing the tree's /memory (for trees whose bootloader fills it in).")
def import_(source: str, include_dirs: tuple[str, ...], output: str | None, arch: str | None, version: str | None,
            board_name: str | None, banks: tuple[tuple[int, int], ...]) -> None:
    """Write a board file from an existing device tree (.dts through cpp and dtc, or a .dtb):
    /memory, /memreserve/, /reserved-memory and the memory-region users."""
    import re

    from dtgen.trees import source as sources
    from dtgen.trees.importer import Options, import_tree

    shown = source.replace(os.sep, "/")
    data = _read_up_to(source, shown, SOURCE_LIMIT)
    if len(data) > SOURCE_LIMIT:
        click.echo(f"{shown}: error: larger than {SOURCE_LIMIT >> 20} MiB; not a board device tree [io-error]", err=True)
        sys.exit(EXIT_USAGE)
    kernel_tree = sources.kernel_tree_of(source)
    arch = arch or (kernel_tree.arch if kernel_tree and kernel_tree.arch in ("arm", "arm64") else None)
    version = version or (kernel_tree.version if kernel_tree else None)
    if arch is None:
        raise click.UsageError(f"{shown}: cannot tell the architecture from the path: give --arch arm or --arch arm64")
    if version is None:
        raise click.UsageError(f"{shown}: not inside a kernel tree, so its version is unknown: give --kernel, e.g. --kernel 6.12")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        raise click.UsageError(f"--kernel {version!r}: give a version such as 6.12")
    if kernel_tree is not None and kernel_tree.include not in include_dirs:
        include_dirs = (*include_dirs, kernel_tree.include)
    stem = re.sub(r"\.(dts|dtsi|dtb|dtbo)$", "", os.path.basename(source)).lower()
    board_name = board_name or (re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")[:64] or "board")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", board_name):
        raise click.UsageError(f"--board {board_name!r}: lower case, digits, `-`, `.` and `_`")

    tree, found = sources.read_tree(source, data, include_dirs, sources.find_tools())
    target = output.replace(os.sep, "/") if output else "<stdout>"
    top = os.path.dirname(os.path.abspath(source))

    def relative(path: str) -> str:
        return os.path.relpath(os.path.abspath(path), top).replace(os.sep, "/")

    found = [_shorten(d) for d in found]
    imported = None
    if tree is not None:
        base, base_in = _import_base(source, output, kernel_tree, tree.reader)
        imported, more = import_tree(tree, Options(board_name, arch, version, banks=banks, shown=relative,
                                                   base=base, base_in=base_in))
        found += [_shorten(d) for d in more]
    _echo_findings(found)
    if imported is None:
        sys.exit(_exit_code(found) or EXIT_FINDINGS)
    from dtgen.trees.importer import render

    text = render(imported)
    # The tree's own mistakes (a misaligned CMA area) show as findings on the written file: the
    # board is imported as it is, not silently repaired.
    checked = _validate_text(target, text)
    _echo_findings(checked)
    if output:
        _save_or_exit(output, text.encode("utf-8"), target)
    else:
        click.echo(text, nl=False)
    counts = ", ".join(f"{n} {what}{'s' * (n != 1)}" for n, what in (
        (len(imported.banks), "bank"), (len(imported.regions), "region"), (len(imported.devices), "device")))
    click.echo(f"{target}: imported {counts} from {shown}" + (
        f"; it has {sum(d.severity is Severity.ERROR for d in checked)} error(s) the source tree has too" if _exit_code(checked) else ""),
        err=True)
    sys.exit(max(_exit_code(found), _exit_code(checked)))


def _shorten(d: Diagnostic) -> Diagnostic:
    """Diagnostics name files relative to the working directory when they are below it."""
    from dataclasses import replace

    from dtgen.diagnostics import Span

    name = d.span.file
    if os.path.isabs(name):
        rel = os.path.relpath(name)
        if not rel.startswith(".."):
            return replace(d, span=Span(rel.replace(os.sep, "/"), d.span.line, d.span.col))
    return d


def _validate_text(name: str, text: str) -> list[Diagnostic]:
    from dtgen.load import load
    from dtgen.validate import validate

    def read(path: str) -> bytes:
        if path != name:
            raise FileNotFoundError(2, "an imported board has no includes")
        return text.encode("utf-8")

    settings = _settings(_Options(fmt="text", warn=(), errors=(), disable=(), werror=False, kconfig=None, include_root=None))
    # The include root the written file will be read with (its repository's top), which its
    # `devicetree.base` was made relative to.
    root = _include_root(name if name != "<stdout>" else "board.yaml", None)
    loaded = load(name, read, root, {}, schema=False)
    found = list(loaded.diagnostics)
    board = loaded.board
    if board is None or any(d.severity is Severity.ERROR for d in found):
        return settings.apply(found)
    settings = settings.with_board(board.checks)
    found = settings.apply([*found, *validate(board, settings)])
    if any(d.severity is Severity.ERROR for d in found):
        return found
    # Placed as the kernel would place it, and held to what emit needs: a tree the kernel would
    # refuse (a dynamic node that fits nowhere) says so at import, not at the first emit.
    from dtgen.pipeline import EMITTABLE, place

    return list(place(board, settings, found, until=EMITTABLE, origin=name).diagnostics)


@main.group()
def cmdline() -> None:
    """Kernel command lines: read `cma=` (mainline) and the 2010 `cma=`/map strings."""


@cmdline.command("parse")
@click.option("--syntax", required=True, type=click.Choice(["mainline", "2010-v1", "2010-v3"]),
              help="mainline `cma=`; 2010-v1 `cma=` + `cma_map=`; 2010-v3 (v2-v5) `cma=` + `cma.map=`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("text")
def cmdline_parse(syntax: str, fmt: str, text: str) -> None:
    """Read TEXT, a kernel command line, into regions and rules (other parameters are ignored)."""
    from dataclasses import asdict

    from dtgen.cmdline import CmdlineError, parse
    from dtgen.units import fmt_addr, fmt_range, fmt_size

    try:
        parsed = parse(syntax, text)
    except CmdlineError as e:
        from dtgen.diagnostics import one_line

        click.echo(f"<cmdline>:1:{e.column}: error: {one_line(e.message)} [cmdline-syntax]", err=True)
        sys.exit(EXIT_FINDINGS)
    if fmt == "json":
        data = asdict(parsed)
        data["notes"] = list(parsed.notes)
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        sys.exit(EXIT_CLEAN)
    m = parsed.mainline
    if m is not None:
        if m.disabled:
            click.echo("cma=0: no default CMA area")
        else:
            where = "fixed at " + fmt_addr(m.base) if m.fixed else (
                f"anywhere in {fmt_range(m.base, m.end)}" if m.end else
                (f"at or above {fmt_addr(m.base)}" if m.base else "anywhere below the arch limit"))
            click.echo(f"default CMA area: {fmt_size(m.size)}, {where}")
    elif syntax == "mainline":
        click.echo("no cma= parameter")
    for r in parsed.regions:
        parts = [fmt_size(r.size)]
        if r.start is not None:
            parts.append(f"at {fmt_addr(r.start)}")
        if r.alignment:
            parts.append(f"aligned {fmt_size(r.alignment)}")
        if r.allocator:
            parts.append(f"allocator {r.allocator}" + (f"({r.params})" if r.params else ""))
        if r.asterisk is False:
            parts.append("not an asterisk region")
        click.echo(f"region {r.name}: {', '.join(parts)}")
    for rule in parsed.rules:
        click.echo(f"rule {','.join(rule.patterns)} -> {', '.join(rule.regions)}")
    for note in parsed.notes:
        click.echo(f"note: {note}")
    sys.exit(EXIT_CLEAN)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--board", "board_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also say what this board file's `checks:` sets, where, and why (its comment).")
def rules(fmt: str, board_file: str | None) -> None:
    """List every rule: id, severity, stage, what it checks."""
    from dtgen.validate.registry import STAGES, all_rules

    table = all_rules()
    infos = sorted(table.values(), key=lambda r: (STAGES.index(r.stage), r.id))
    settings = _board_checks(board_file) if board_file else {}
    if fmt == "json":
        rows = [{"id": r.id, "severity": r.severity.value, "stage": r.stage, "summary": r.summary, "needs": list(r.needs),
                 **({"board": dict(zip(("setting", "at", "reason"), settings[r.id]))} if r.id in settings else {})}
                for r in infos]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r.id) for r in infos)
    for r in infos:
        click.echo(f"{r.id:<{width}}  {r.severity.value:<7}  {r.stage:<8}  {r.summary}")
    if board_file:
        shown = board_file.replace(os.sep, "/")
        click.echo(f"\n{shown} sets {len(settings)} rule{'s' * (len(settings) != 1)}" + (":" if settings else "."))
        for rule, (setting, at, reason) in settings.items():
            known = "" if rule in table else "  (no such rule)"
            click.echo(f"  {rule}: {setting} ({at}){known}" + (f": {reason}" if reason else ": no reason given (say why in a comment)"))


def _board_checks(board_file: str) -> dict[str, tuple[str, str, str]]:
    """{rule: (setting, file:line, the comment on that line)} of a board's `checks:`; a board
    that cannot be read is reported as validate reports it (exit 1, or 2 for I/O)."""
    from dtgen.load import load

    shown = board_file.replace(os.sep, "/")
    root = _include_root(board_file, None)
    loaded = load(shown, _reader(root), root, {})
    if loaded.board is None:
        _echo_findings(list(loaded.diagnostics))
        sys.exit(_exit_code(list(loaded.diagnostics)) or EXIT_FINDINGS)
    out: dict[str, tuple[str, str, str]] = {}
    lines: dict[str, list[str]] = {}
    for rule, setting in loaded.board.checks:
        span = loaded.board.source.value(f"/checks/{rule}")
        if span.file not in lines:
            raw = _read_or_none(span.file) or b""
            lines[span.file] = raw.decode("utf-8", "replace").splitlines()
        text = lines[span.file][span.line - 1] if 0 < span.line <= len(lines[span.file]) else ""
        reason = text.split("#", 1)[1].strip() if "#" in text else ""
        out[rule] = (setting, f"{span.file}:{span.line}", reason)
    return out


@main.command()
@click.option("--write", "folder", type=click.Path(file_okay=False), metavar="DIR",
              help="Copy the schema into DIR as board.schema.json (for a board repository's editors).")
def schema(folder: str | None) -> None:
    """Print the path of the board-file JSON Schema, or copy it into a folder of yours.

    The installed copy lives inside the Python environment, which a board repository cannot
    name; `--write schemas` gives it one to commit and point editors at, updated by running
    the command again."""
    from dtgen.validate.schema import SCHEMA_PATH

    if folder is None:
        click.echo(str(SCHEMA_PATH))
        return
    target = os.path.join(folder, "board.schema.json")
    try:
        data = SCHEMA_PATH.read_bytes()
        os.makedirs(folder, exist_ok=True)
        if _read_or_none(target) != data:
            _write_atomic(target, data)
    except OSError as e:
        click.echo(f"{target}: error: cannot write: {e.strerror or e} [io-error]", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"wrote {target}")
