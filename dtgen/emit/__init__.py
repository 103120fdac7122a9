"""Emit: the files a board engineer puts into a kernel tree, rendered from the Jinja2 templates
in templates/ over data built from the validated, resolved board. Pure: the CLI writes them.

Outputs (names start with the board's name):
- dtsi, dtso: the /reserved-memory fragment and the same content as an overlay;
- c: the mainline platform C (`-cma.c` and `-cma.h`), when the board has `via: platform`
  regions or `uses: helper` devices;
- legacy-c: the 2010 CMA patch's platform C, for kernels before 3.5;
- cmdline: the kernel command line (`cma=` for a `via: cmdline` default area, the 2010
  `cma=` and map strings);
- layout: the resolved layout and map as JSON and YAML;
- report: the HTML report (the memory map, the layout, every scenario's verdict, peaks and free
  space); only when asked for (`--only report`), since it runs every scenario recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from dtgen import kernel as k
from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.model import Board, Layout, Verdict

OUTPUTS = ("dtsi", "dtso", "c", "legacy-c", "cmdline", "layout", "report")
ON_REQUEST = ("report",)  # not part of the default set


@dataclass(frozen=True)
class File:
    name: str
    text: str


def applicable(board: Board, layout: Layout) -> list[str]:
    """The outputs that say something for this board, in OUTPUTS order."""
    from dtgen.emit.dts import in_devicetree

    legacy = k.cma_2010(board.kernel)
    found = []
    has_dt = not legacy and (any(in_devicetree(r) for r in board.regions)
                            or any(d.node and d.uses == "devicetree" for d in board.devices))
    if has_dt:
        found += ["dtsi", "dtso"]
    if not legacy and (any(r.via[0] == "platform" for r in board.regions) or any(d.uses == "helper" for d in board.devices)):
        found.append("c")
    if legacy:
        found.append("legacy-c")
    if legacy:
        from dtgen.emit.cmdline import cmdline_parameters

        if cmdline_parameters(board.kernel.cma_patch):  # v6 reads none
            found.append("cmdline")
    elif any(r.default and r.via[0] == "cmdline" for r in board.regions):
        found.append("cmdline")
    found.append("layout")
    found.append("report")
    return found


def file_names(board: Board, output: str) -> tuple[str, ...]:
    """The files an output is written as, named after the board and what they hold: a fragment
    named `BOARD.dtsi` would read, beside the kernel's `BOARD.dts`, as the board's own include."""
    stem = board.name
    return {"dtsi": (f"{stem}-reserved-memory.dtsi",), "dtso": (f"{stem}-reserved-memory.dtso",),
            "c": (f"{stem}-cma.c", f"{stem}-cma.h"),
            "legacy-c": (f"{stem}-cma-2010.c",), "cmdline": (f"{stem}.cmdline",),
            "layout": (f"{stem}-layout.json", f"{stem}-layout.yaml"), "report": (f"{stem}.report.html",)}[output]


def former_names(board: Board) -> tuple[str, ...]:
    """Names earlier dtgen versions wrote outputs as: an old manifest lists them, and the next
    emit removes them (and --check names them) like any output that no longer applies."""
    return (f"{board.name}.dtsi", f"{board.name}.dtso")


def manifest_name(board: Board) -> str:
    """The file in the output directory that lists what emit wrote for the board, so that a
    later emit removes what no longer applies and `--check` names it (one per board: boards may
    share an output directory)."""
    return f"{board.name}.dtgen-manifest"


def manifest_text(names: Sequence[str]) -> str:
    lines = ["# Files dtgen emit wrote for this board, one per line: the next emit removes those that",
             "# no longer apply. Generated; do not edit.", *sorted(set(names))]
    return "\n".join(lines) + "\n"


def manifest_names(text: str) -> list[str]:
    """The names a manifest lists; only plain file names count, so that an edited manifest
    cannot make emit remove anything outside the output directory."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("#") and "/" not in line and "\\" not in line
            and line.strip() not in (".", "..")]


def readiness(board: Board, layout: Layout, origin: str) -> list[Diagnostic]:
    """What emitting would refuse or warn about, for every output that applies, without rendering
    (no Jinja2): the data builders' findings, which the pipeline reports before any file is
    written (dtgen/pipeline.py), so `validate` and `emit` agree."""
    possible = applicable(board, layout)
    found: list[Diagnostic] = []
    if "dtsi" in possible:
        from dtgen.emit.dts import fragment

        found += fragment(board, layout, origin)[1]
    if "c" in possible:
        from dtgen.emit.platform_c import platform_c

        found += platform_c(board, layout, origin, f"{board.name}-cma.h")[1]
    if "legacy-c" in possible:
        from dtgen.emit.legacy_c import legacy_c

        found += legacy_c(board, layout, origin)[1]
    if "cmdline" in possible:
        from dtgen.emit.legacy_c import cmdline

        found += cmdline(board, layout, origin)[1]
    return found


def emit(board: Board, layout: Layout, origin: str, only: Sequence[str] = (), templates: str | None = None,
         verdicts: Sequence[Verdict] = (), suggestions: dict[str, str] | None = None, template_cache: str | None = None
         ) -> tuple[list[File], list[Diagnostic]]:
    """Every requested output as text, or diagnostics saying why not. Raises TemplateError for a
    template that does not parse or render. `verdicts` (recorded runs) feed the report."""
    from dtgen.emit.templating import Renderer

    possible = applicable(board, layout)
    wanted = list(only) or [name for name in possible if name not in ON_REQUEST]
    found: list[Diagnostic] = []
    for name in wanted:
        if name not in possible:
            found.append(error("emit-not-applicable", _why_not(board, name), Span(origin), ""))
    if found:
        return [], found
    render = Renderer(templates, template_cache)
    files: list[File] = []
    if "dtsi" in wanted or "dtso" in wanted:
        from dtgen.emit.dts import fragment

        frag, more = fragment(board, layout, origin)
        found += more
        from dtgen.emit.cfit import fit as fit_dts

        if "dtsi" in wanted:
            files.append(File(file_names(board, "dtsi")[0], fit_dts(render.render("reserved-memory.dtsi.j2", fragment=frag), split_strings=False)))
        if "dtso" in wanted:
            files.append(File(file_names(board, "dtso")[0], fit_dts(render.render("reserved-memory.dtso.j2", fragment=frag), split_strings=False)))
    if "c" in wanted or "legacy-c" in wanted:
        from dtgen.emit.cfit import fit
    if "c" in wanted:
        from dtgen.emit.platform_c import platform_c

        source, header = file_names(board, "c")
        code, more = platform_c(board, layout, origin, header)
        found += more
        files.append(File(source, fit(render.render("platform.c.j2", c=code))))
        files.append(File(header, fit(render.render("platform.h.j2", c=code))))
    if "legacy-c" in wanted:
        from dtgen.emit.legacy_c import legacy_c

        legacy, more = legacy_c(board, layout, origin)
        found += more
        files.append(File(file_names(board, "legacy-c")[0], fit(render.render("legacy.c.j2", c=legacy))))
    if "cmdline" in wanted:
        from dtgen.emit.legacy_c import cmdline

        line, more = cmdline(board, layout, origin)
        found += more
        files.append(File(file_names(board, "cmdline")[0], render.render("cmdline.j2", c=line)))
    if "layout" in wanted:
        from dtgen.views import layout as layout_view

        data = layout_view.as_data(board, layout)
        as_json, as_yaml = file_names(board, "layout")
        files.append(File(as_json, render.render("layout.json.j2", layout=json.dumps(data, indent=2, sort_keys=True))))
        files.append(File(as_yaml, render.render("layout.yaml.j2", layout=layout_view.as_yaml(data))))
    if "report" in wanted:
        from dtgen.views.picture import picture

        files.append(File(file_names(board, "report")[0], picture(render, board, layout, "html", verdicts, suggestions)))
    return files, found



def _why_not(board: Board, name: str) -> str:
    legacy = k.cma_2010(board.kernel)
    if name in ("dtsi", "dtso"):
        return (f"`{name}`: a {board.kernel.version_text} kernel has no reserved-memory device tree"
                if legacy else f"`{name}`: no region is reserved by the device tree and no device has a `node`")
    if name == "c":
        return ("`c`: kernels before 3.5 use the 2010 API (`legacy-c`)" if legacy else
                "`c`: no region is reserved `via: platform` and no device `uses: helper`")
    if name == "legacy-c":
        return f"`legacy-c`: the 2010 CMA API is for kernels before 3.5; this board is {board.kernel.version_text}"
    if legacy:
        return (f"`cmdline`: the 2010 CMA patch {board.kernel.cma_patch} reads no CMA command-line parameters; "
                "its platform code (`legacy-c`) gives the regions and the map")
    return "`cmdline`: no default area is reserved `via: cmdline`"
