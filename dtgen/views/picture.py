"""The memory map drawn: text for terminals, the SVG, and the HTML report around it, through the
templates (the Renderer is the caller's: emit's, or the CLI's for `map` and `check --report`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from dtgen.model import Board, Layout, Verdict
from dtgen.views import memory_map

if TYPE_CHECKING:
    from dtgen.emit.templating import Renderer


def picture(render: Renderer, board: Board, layout: Layout, fmt: str, verdicts: Sequence[Verdict] = (),
            suggestions: dict[str, str] | None = None) -> str:
    """The memory map as text (100 columns), SVG, or the HTML report around the SVG (with the
    scenarios' verdicts when given)."""
    view = memory_map.report(board, layout, tuple(verdicts), suggestions)
    if fmt == "text":
        return render.render("map.txt.j2", title=f"{board.name}: physical memory, low addresses first",
                             subtitle=view.picture.subtitle, lines=memory_map.text_lines(board, layout))
    svg = render.render("map.svg.j2", p=view.picture)
    if fmt == "svg":
        return svg
    return render.render("report.html.j2", r=view, svg=svg.rstrip("\n"), strip_w=memory_map.STRIP_W)
