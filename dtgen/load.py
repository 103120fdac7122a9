"""Load stage: board file (and its includes) -> schema-checked, merged tree -> `Board`.

Pure apart from the `read` callable the CLI passes in, so tests can load from memory.
"""

from __future__ import annotations

import itertools
import posixpath
from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable, Mapping

from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.model import Bank, Board, ConfigValue, Device, Region, Scenario
from dtgen.yamlsrc import Value, YMap, YSeq, parse

Reader = Callable[[str], bytes]


class OutsideRoot(PermissionError):
    """What a reader raises for a path that is inside the include root as written but leads
    out of it (through a symlink): reported as include-outside-root, not as a missing file."""

MAX_INCLUDE_DEPTH = 16
# Lists whose items are merged by `name` when a board includes a SoC file.
_NAMED_LISTS = {("regions",), ("devices",), ("scenarios",), ("memory", "banks")}


@dataclass(frozen=True)
class Loaded:
    board: Board | None
    diagnostics: tuple[Diagnostic, ...]


# Schema findings that leave the board buildable: every other rule may still run.
NAME_ONLY = frozenset({"name-identifier"})


def load(
    path: str,
    read: Reader,
    include_root: str,
    kconfig: Mapping[str, ConfigValue] | None = None,
    *,
    schema: bool = True,
) -> Loaded:
    """Everything the validate stage needs from one board file.

    `path` and `include_root` are normalised POSIX paths; `read` raises OSError for files that
    cannot be read. `schema=False` skips the JSON Schema check (and jsonschema's import, the
    largest part of a start-up): only for text dtgen wrote itself from its own template, which
    the tests run through the full check.
    """
    from dtgen.build import build

    tree, root_span, problems = _load_tree(path, read, include_root, ())
    if any(p.unreadable for p in problems) or (tree is None and problems):
        return Loaded(None, tuple(problems))
    problems = [*problems, *_tree_paths(tree, include_root)]
    if schema:
        from dtgen.validate.schema import check

        problems = [*problems, *check(tree, root_span)]
    if any(p.rule not in NAME_ONLY for p in problems):
        return Loaded(None, tuple(problems))
    assert isinstance(tree, YMap)
    # A name that is not an identifier blocks only what needs the name as a C symbol or label
    # (emit): the board is still built, so the semantic rules speak in the same run.
    board, build_problems = build(tree, path, kconfig or {})
    if problems and not _names_are_text(board):
        return Loaded(None, tuple(problems))  # a name that is no string at all: nothing to check by
    return Loaded(board, (*problems, *build_problems))


def _names_are_text(board: Board) -> bool:
    items: list[Bank | Region | Device | Scenario] = [*board.banks, *board.regions, *board.devices, *board.scenarios]
    kinds = [kind for device in board.devices for kind in device.kinds]
    return all(isinstance(item.name, str) for item in items) and all(isinstance(k, str) for k in kinds)


def _load_tree(
    path: str, read: Reader, root: str, stack: tuple[tuple[str, Span], ...]
) -> tuple[Value, Span, list[Diagnostic]]:
    try:
        data = read(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        span = stack[-1][1] if stack else Span(path)
        rule = "include-outside-root" if isinstance(exc, OutsideRoot) else "include-missing" if stack else "io-error"
        d = error(rule, f"cannot read `{path}`: {reason}", span)
        return None, span, [d if stack else _unreadable(d)]
    parsed = parse(data, path)
    problems = list(parsed.diagnostics)
    tree = parsed.value
    if not isinstance(tree, YMap) or "include" not in tree:
        return tree, parsed.span, problems
    includes = tree["include"]
    if not isinstance(includes, YSeq):
        return tree, parsed.span, problems  # the schema check says what is wrong
    merged: YMap | None = None
    for index, name in enumerate(includes):
        span = includes.item_spans[index]
        if not isinstance(name, str) or not name:
            # The includes are merged away before the schema check sees the file, so their
            # shape is checked here.
            what = "must not be empty" if name == "" else "must be a path (a string)"
            problems.append(error("schema", f"include {index + 1}: {what}", span, f"/include/{index}"))
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            # No file has such a name worth reading (and a NUL cannot even be passed to open).
            shown = name.encode("unicode_escape").decode("ascii")
            problems.append(error("include-missing", f"include `{shown}` has control characters; it names no board file",
                                  span, f"/include/{index}"))
            continue
        target, why = _resolve_include(path, name, root)
        if target is None:
            problems.append(error("include-outside-root", why, span, f"/include/{index}"))
            continue
        chain = [p for p, _ in stack] + [path]
        if target in chain:
            cycle = " -> ".join([*chain[chain.index(target):], target])
            problems.append(error("include-cycle", f"include cycle: {cycle}", span, f"/include/{index}"))
            continue
        if len(stack) >= MAX_INCLUDE_DEPTH:
            problems.append(
                error("include-cycle", f"includes nested deeper than {MAX_INCLUDE_DEPTH}", span)
            )
            continue
        sub, _, sub_problems = _load_tree(target, read, root, (*stack, (path, span)))
        # A missing include is a finding in the including file (exit 1), not a usage error.
        problems.extend(
            error("include-missing", p.message, p.span, p.pointer, p.hint) if p.rule == "io-error" else p
            for p in sub_problems
        )
        if isinstance(sub, YMap):
            merged = sub if merged is None else _merge(merged, sub, ())
    own = _copy_map(tree)
    del own["include"]
    return (own if merged is None else _merge(merged, own, ())), parsed.span, problems


def _unreadable(d: Diagnostic) -> Diagnostic:
    from dataclasses import replace

    return replace(d, unreadable=True)


def _tree_paths(tree: Value, root: str) -> list[Diagnostic]:
    """`devicetree.base` and `devicetree.include_dirs` name files for cpp and dtc: like
    includes, they stay inside the include root, relative to the file that names them, so a
    board file cannot point the tools that read it at the rest of the machine."""
    dt = tree.get("devicetree") if isinstance(tree, YMap) else None
    if not isinstance(dt, YMap):
        return []
    named: list[tuple[str, Span, str]] = []
    # A base in the kernel tree is relative to that tree (the CLI keeps it inside).
    if isinstance(dt.get("base"), str) and dt.get("base_in") != "kernel":
        named.append((dt["base"], dt.value_spans["base"], "/devicetree/base"))
    dirs = dt.get("include_dirs")
    if isinstance(dirs, YSeq):
        named.extend((d, dirs.item_spans[i], f"/devicetree/include_dirs/{i}") for i, d in enumerate(dirs) if isinstance(d, str))
    out = []
    for name, span, pointer in named:
        what = pointer[1:].replace("/", ".").rstrip("0123456789").rstrip(".")
        shown = name.encode("unicode_escape").decode("ascii")
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            why = f"{what} `{shown}` has control characters"
        elif name.startswith("/") or PurePath(name).is_absolute():
            why = f"{what} `{shown}` is an absolute path; it is relative to the board file"
        elif _resolve_include(span.file, name, root)[0] is None:
            why = f"{what} `{shown}` leaves the include root `{posixpath.normpath(root)}`"
        else:
            continue
        out.append(error("path-outside-root", why, span, pointer,
                         hint="name files inside the repository (or give --include-root)"))
    return out


def _resolve_include(current: str, name: str, root: str) -> tuple[str | None, str]:
    """The include's path, or why it may not be read: absolute, or outside the include root.

    Paths are compared component by component after normalisation, in the frame the CLI gave
    (both relative to the working directory, or both absolute); the CLI's reader also refuses
    symlinks that lead outside the root.
    """
    if name.startswith("/") or PurePath(name).is_absolute():
        return None, f"include `{name}` is an absolute path; includes are relative to the including file"
    target = posixpath.normpath(posixpath.join(posixpath.dirname(current), name))
    root_parts = [p for p in posixpath.normpath(root).split("/") if p not in ("", ".")]
    target_parts = [p for p in target.split("/") if p not in ("", ".")]
    if root.startswith("/") != target.startswith("/") or not _inside(target_parts, root_parts):
        return None, f"include `{name}` leaves the include root `{posixpath.normpath(root)}`"
    return target, ""


def _inside(target: list[str], root: list[str]) -> bool:
    """Whether a normalised path lies under the root, both relative to one unnamed directory
    (the working directory): a root of only `..` is an ancestor of it, so anything that climbs no
    higher is inside (a board run from its own folder, the root being the checkout's top)."""
    up_root = len(root) - len(list(itertools.dropwhile(lambda p: p == "..", root)))
    up_target = len(target) - len(list(itertools.dropwhile(lambda p: p == "..", target)))
    rest = root[up_root:]
    if not rest:
        return up_target <= up_root
    return up_target == up_root and target[up_target:up_target + len(rest)] == rest


def _copy_map(src: YMap) -> YMap:
    out = YMap(src)
    out.span = src.span
    out.key_spans = dict(src.key_spans)
    out.value_spans = dict(src.value_spans)
    out.weight = src.weight
    return out


def _merge(base: YMap, over: YMap, path: tuple[str, ...]) -> YMap:
    """`over` on top of `base`: mappings deep-merge, named lists merge item by item by name,
    `map` puts the including file's rules first (first match wins, so it can override)."""
    out = _copy_map(base)
    out.span = over.span
    for key, value in over.items():
        here = (*path, key)
        old = out.get(key)
        if isinstance(old, YMap) and isinstance(value, YMap):
            out[key] = _merge(old, value, here)
        elif here in _NAMED_LISTS and isinstance(old, YSeq) and isinstance(value, YSeq):
            out[key] = _merge_named(old, value, here)
        elif here == ("map",) and isinstance(old, YSeq) and isinstance(value, YSeq):
            out[key] = _concat(value, old)
        else:
            out[key] = value
        out.key_spans[key] = over.key_spans[key]
        out.value_spans[key] = over.value_spans[key]
    return out


def _merge_named(base: YSeq, over: YSeq, path: tuple[str, ...]) -> YSeq:
    out = _concat(base, YSeq())
    # Only string names merge; anything else (a list where a name should be) is the schema's
    # to report, on the item as written.
    index = {name: i for i, item in enumerate(out) if isinstance(name := _name(item), str)}
    for item, span in zip(over, over.item_spans):
        name = _name(item)
        if name is not None and name in index and isinstance(out[index[name]], YMap):
            out[index[name]] = _merge(out[index[name]], item, path)
            out.item_spans[index[name]] = span
        else:
            out.append(item)
            out.item_spans.append(span)
    return out


def _name(item: Value) -> str | None:
    name = item.get("name") if isinstance(item, YMap) else None
    return name if isinstance(name, str) else None


def _concat(first: YSeq, second: YSeq) -> YSeq:
    out = YSeq([*first, *second])
    out.span = first.span if first else getattr(second, "span", Span(""))
    out.item_spans = [*first.item_spans, *getattr(second, "item_spans", [])]
    out.weight = getattr(first, "weight", 0) + getattr(second, "weight", 0)
    return out
