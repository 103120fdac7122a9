"""The HTML report in a real browser: Debian's chromium, headless (tests/support/browser.py drives it
through its DevTools pipe). For every example board, `dtgen check --report` writes the page;
it must load with no console error, no failed or external request (it is self-contained), and
its full-page screenshot must show a drawing, not a blank page. The map's boxes must be where
the layout says: a pixel inside each reservation's box has that kind's fill.

Without chromium these skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from tests.support import browser

ROOT = Path(__file__).resolve().parent.parent
BOARDS = sorted(p.stem for p in (ROOT / "boards").glob("*.yaml"))
# Screenshots land here when DTGEN_SCREENSHOTS is set, for a person to look at.
KEEP = os.environ.get("DTGEN_SCREENSHOTS")


def _report(board: str, out: Path) -> Path:
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["check", f"boards/{board}.yaml", "--report", str(out)])
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.stdout + result.stderr
    return out / f"{board}.report.html"


@pytest.mark.parametrize("board", BOARDS)
def test_report_renders_cleanly(board: str, tmp_path: Path) -> None:
    browser.chromium()
    page = _report(board, tmp_path)
    png = Path(KEEP) / f"{board}.report.png" if KEEP else tmp_path / "shot.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    shot = browser.render(page, png, width=1280, height=900, full_page=True)
    assert not shot.errors, shot.errors
    assert not shot.subresources, shot.subresources  # self-contained
    stats = browser.screenshot_stats(shot.png)
    assert not stats.blank(), stats
    assert stats.colours >= 8, stats  # fills, patterns, text: a drawing, not a grey box
    # The DOM holds the map, every reservation's label as text, and the tables.
    html = page.read_text()
    for name in re.findall(r"<title>([a-z_0-9]+): ", html):
        assert f">{name}<" in shot.dom
    assert "<svg" in shot.dom and "Reservations, in boot order" in shot.dom


def test_boxes_are_drawn_where_the_layout_says(tmp_path: Path) -> None:
    """On the ODROID-U3 page, the pixel at the middle of each region's box has its kind's fill
    (the CMA area `gfx` is flat #9ecae1; the hatched and dotted fills are patterns, so only
    their family is checked: reddish for coherent pools, greenish for the default area)."""
    import xml.etree.ElementTree as ET

    browser.chromium()
    page = _report("exynos4412-odroidu3", tmp_path)
    shot = browser.render(page, tmp_path / "u3.png", width=1280, height=1400, full_page=True)
    assert not shot.errors, shot.errors
    html = page.read_text()
    svg = ET.fromstring(html[html.index("<svg xmlns=") : html.index("</svg>", html.index("<svg xmlns=")) + 6])
    ns = "{http://www.w3.org/2000/svg}"
    image = browser.decode_png(shot.png)
    # Where the map sits on the page depends on the text above it: find the gfx box in the
    # screenshot and check every other box relative to it.
    boxes = {}
    for rect in svg.iter(f"{ns}rect"):
        title = rect.find(f"{ns}title")
        if title is not None and "box" in rect.get("class", ""):
            boxes[(title.text or "").split(":")[0]] = (rect.get("class", "").split()[1], float(rect.get("x", 0)),
                                                     float(rect.get("y", 0)), float(rect.get("width", 0)),
                                                     float(rect.get("height", 0)))
    gfx = boxes["gfx"]
    cma = (0x9E, 0xCA, 0xE1)
    found = None
    # The top-left corner of the gfx box: the first row with a run of the CMA fill as wide as
    # most of the box (the legend's swatch of the same fill is 14 px wide).
    for y in range(image.height):
        row = [image.pixel(x, y)[:3] == cma for x in range(min(image.width, 700))]
        start = next((x for x in range(len(row) - 150) if all(row[x : x + 150])), None)
        if start is not None:
            found = (start, y)
            break
    assert found is not None, "no box of the CMA fill #9ecae1 on the page"
    dx, dy = found[0] - gfx[1], found[1] - gfx[2]  # page offset of the SVG's origin (about)
    for name, (kind, x, y, w, h) in boxes.items():
        if kind not in ("cma", "coherent", "cma-default") or h < 10:
            continue
        r, g, b = image.pixel(int(dx + x + w / 2), int(dy + y + h / 2))[:3]
        if kind == "cma":
            assert (r, g, b) == (0x9E, 0xCA, 0xE1), name
        elif kind == "coherent":
            assert r > g and r > b, (name, (r, g, b))
        else:
            assert g >= r and g >= b, (name, (r, g, b))


@pytest.mark.parametrize("width", [900, 1400])
@pytest.mark.parametrize("board", BOARDS)
def test_report_never_scrolls_sideways(board: str, width: int, tmp_path: Path) -> None:
    """A full-page screenshot is as wide as the page's content: at 900 and 1400 px it must be
    the window's width (the map shrinks, wide tables scroll inside their own box). Kept with
    DTGEN_SCREENSHOTS for a person to look at, as the issue asks."""
    import struct

    browser.chromium()
    page = _report(board, tmp_path)
    png = Path(KEEP) / f"{board}.report.{width}.png" if KEEP else tmp_path / "shot.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    shot = browser.render(page, png, width=width, height=900, full_page=True)
    assert not shot.errors, shot.errors
    shot_width, = struct.unpack(">I", shot.png.read_bytes()[16:20])  # the PNG's IHDR width
    assert shot_width == width
