"""Reading a board's base tree through cpp and dtc, with the facts cached between runs.

A kernel board tree takes cpp and dtc 50-100 ms; a pre-commit hook validating one board should
not pay that on every commit. The facts (dtgen/trees/base.py) are cached under
$XDG_CACHE_HOME/dtgen/base (else ~/.cache/dtgen/base; none with DTGEN_NO_CACHE), one JSON file
per (tree, include directories, cpp and dtc binaries, facts version), holding the content hash of
every file cpp and dtc read for it (their own dependency lists). An entry is used only when every
one of those files still has that content, as ccache's direct mode checks a manifest. A damaged or
foreign entry is a miss; a cache that cannot be written only costs time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from dtgen.trees import base as base_tree
from dtgen.trees import source as sources
from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.model import DtTree


def read(path: str, shown: str, include_dirs: tuple[str, ...], tools: sources.Tools) \
        -> tuple[base_tree.BaseTree | None, str]:
    """The base's facts, or why it cannot be read (cpp's or dtc's first message)."""
    key = _key(path, include_dirs, tools)
    entry = _entry_path(key)
    cached = _lookup(entry, shown)
    if cached is not None:
        return cached, ""
    tree, found, deps = _compile(path, include_dirs, tools)
    if tree is None:
        first = found[0] if found else None
        why = f"{first.span}: {first.message}" if first is not None and first.span.line else (
            first.message if first is not None else "dtc produced no tree")
        return None, why
    facts = base_tree.facts(tree, shown)
    if entry is not None:
        _store(entry, deps, facts)
    return facts, ""


def _compile(path: str, include_dirs: tuple[str, ...], tools: sources.Tools) \
        -> tuple[DtTree | None, list[Diagnostic], tuple[str, ...]]:
    """A `.dtb` base as it is; source through cpp and dtc."""
    from dtgen.trees import fdt

    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if fdt.is_blob(head):
                tree, found = sources.from_blob(path, head + f.read())
                return tree, found, (path,)
    except OSError as e:
        return None, [error("base-unreadable", e.strerror or str(e), Span(path))], ()
    return sources.compile_source(path, include_dirs, tools, annotate=False)


def _tool_id(command: str | None) -> list[object]:
    """A tool by what is installed, not by running it: its real path, size and change time."""
    if command is None:
        return [None]
    found = shutil.which(command) or command
    try:
        real = os.path.realpath(found)
        st = os.stat(real)
        return [real, st.st_size, st.st_mtime_ns]
    except OSError:
        return [found]


def _key(path: str, include_dirs: tuple[str, ...], tools: sources.Tools) -> str:
    what = [base_tree.FACTS_VERSION, os.path.abspath(path), [os.path.abspath(d) for d in include_dirs],
            _tool_id(tools.cpp[0] if tools.cpp else None), list(tools.cpp or ()), _tool_id(tools.dtc)]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:32]


def _entry_path(key: str) -> str | None:
    if os.environ.get("DTGEN_NO_CACHE"):
        return None
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(home, "dtgen", "base", key + ".json")


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _lookup(entry: str | None, shown: str) -> base_tree.BaseTree | None:
    if entry is None:
        return None
    try:
        with open(entry, encoding="utf-8") as f:
            data = json.load(f)
        if any(_digest(name) != digest for name, digest in data["deps"]):
            return None
        facts = base_tree.from_json(data["facts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    from dataclasses import replace

    return replace(facts, source=shown)


def _store(entry: str, deps: tuple[str, ...], facts: base_tree.BaseTree) -> None:
    digests = [(os.path.abspath(name), _digest(name)) for name in deps]
    if any(d is None for _, d in digests):
        return  # a file that went away while dtc ran: do not cache what cannot be checked
    data = json.dumps({"deps": digests, "facts": base_tree.to_json(facts)}, sort_keys=True)
    try:
        os.makedirs(os.path.dirname(entry), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(entry), prefix=".base-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, entry)
    except OSError:
        pass
