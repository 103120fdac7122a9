"""`dtgen map` and the report: the SVG's geometry checked against the resolved layout (parsed
with xml.etree, not compared as text), the text map's shape, determinism, `check --report` and
`emit --only report`, and golden files for the text and SVG maps of the example boards
(regenerate with DTGEN_UPDATE_GOLDEN=1, then review the diff).

The HTML in a real browser is tests/test_map_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
BOARDS = sorted(p.stem for p in (ROOT / "boards").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden"
SVG = "{http://www.w3.org/2000/svg}"


def _cli(*args: str) -> tuple[int, str, str]:
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, list(args))
    finally:
        os.chdir(here)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def _layout(board: str) -> dict:
    code, out, err = _cli("resolve", f"boards/{board}.yaml", "--format", "json")
    assert code == 0, err
    return json.loads(out)["layout"]


def _svg(board: str) -> ET.Element:
    code, out, err = _cli("map", f"boards/{board}.yaml", "--format", "svg")
    assert code == 0, err
    return ET.fromstring(out)


def _boxes(root: ET.Element) -> list[tuple[str, float, float, float, float, str]]:
    """(class, x, y, w, h, tooltip) of every box in the memory column."""
    out = []
    for rect in root.iter(f"{SVG}rect"):
        title = rect.find(f"{SVG}title")
        if title is None or "box" not in rect.get("class", "").split():
            continue
        out.append((rect.get("class", "").split()[1], float(rect.get("x", 0)), float(rect.get("y", 0)),
                    float(rect.get("width", 0)), float(rect.get("height", 0)), title.text or ""))
    return out


@pytest.mark.parametrize("board", BOARDS)
def test_every_reservation_is_drawn_in_address_order_without_false_overlaps(board: str) -> None:
    layout = _layout(board)
    root = _svg(board)
    boxes = _boxes(root)
    wanted = [(p["region"], p["start"], p["end"]) for p in layout["placements"]]
    wanted += [(o["name"], o["start"], o["end"]) for o in layout["occupied"]]
    drawn = {}
    for cls, x, y, w, h, title in boxes:
        name = title.split(":", 1)[0]
        drawn.setdefault(name, (cls, x, y, w, h))
    for name, _, _ in wanted:
        assert name in drawn, f"{name} is not drawn"
        assert drawn[name][4] >= 5, f"{name} is too thin to see"
    # Address order is top-to-bottom order, and boxes of regions that do not overlap do not
    # overlap on the page.
    ordered = sorted(wanted, key=lambda w: w[1])
    for (a, a_start, a_end), (b, b_start, _b_end) in zip(ordered, ordered[1:]):
        ya, ha = drawn[a][2], drawn[a][4]
        yb = drawn[b][2]
        assert ya <= yb, f"{a} ({a_start:#x}) is drawn below {b} ({b_start:#x})"
        if a_end <= b_start:
            assert ya + ha <= yb + 0.05, f"{a} and {b} do not overlap in memory but do on the page"
    # Every label names its reservation, with its start address and size as text.
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    for name, start, end in wanted:
        assert name in texts
        assert any(t.startswith(f"{start:#x}..{end - 1:#x}") for t in texts), f"no range label for {name}"


@pytest.mark.parametrize("board", BOARDS)
def test_address_ticks_increase_down_the_page(board: str) -> None:
    root = _svg(board)
    ticks = [(float(t.get("y", 0)), int(t.text, 16)) for t in root.iter(f"{SVG}text")
             if "mono" in t.get("class", "") and t.get("text-anchor") == "end" and re.fullmatch(r"0x[0-9a-f]+", t.text or "")]
    assert len(ticks) >= 2
    ys = [y for y, _ in sorted(ticks, key=lambda t: t[1])]
    assert ys == sorted(ys)


def test_zone_limits_and_dma_reach_are_drawn() -> None:
    # The ODROID-U3 (arm, 2 GiB from 0x40000000): lowmem ends 768 MiB in, at 0x70000000.
    root = _svg("exynos4412-odroidu3")
    lines = [ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "zone"]
    assert len(lines) == 1
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "limit at 0x70000000" in texts
    reach = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "reach"]
    assert reach and all("DMA reach of" in (r.find(f"{SVG}title").text or "") for r in reach)


def test_a_mostly_empty_bank_is_broken_not_squeezed() -> None:
    """hi6220-hikey: 1 MiB of ramoops and 128 MiB of CMA in ~1 GiB; the big free stretches get
    a break mark, and the 1 MiB ramoops box is still visible."""
    root = _svg("hi6220-hikey")
    breaks = [p for p in root.iter(f"{SVG}path") if p.get("class") == "break"]
    assert breaks
    notes = [t.text or "" for t in root.iter(f"{SVG}text") if (t.text or "").endswith("not to scale")]
    assert len(notes) == len(breaks)
    ramoops = next(b for b in _boxes(root) if b[5].startswith("ramoops:"))
    assert ramoops[4] >= 5


def test_svg_is_self_contained() -> None:
    code, out, _ = _cli("map", "boards/exynos4412-odroidu3.yaml", "--format", "svg")
    assert code == 0
    assert "<script" not in out and "@import" not in out and "@font-face" not in out
    assert not re.search(r"(href|src)=\"(https?:|//)", out)


@pytest.mark.parametrize("board", BOARDS)
def test_text_map_fits_100_columns_and_lists_everything(board: str) -> None:
    code, out, err = _cli("map", f"boards/{board}.yaml")
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    layout = _layout(board)
    for p in layout["placements"]:
        assert any(line.endswith(f"  {p['region']}") for line in lines), p["region"]
    starts = [int(m.group(1), 16) for line in lines if (m := re.match(r"(0x[0-9a-f]+)\.\.0x", line))]
    assert starts == sorted(starts)


def test_map_output_is_deterministic_across_processes(tmp_path: Path) -> None:
    outs = []
    for seed in ("0", "4242"):
        for fmt in ("svg", "html", "text"):
            done = subprocess.run([sys.executable, "-m", "dtgen", "map", "boards/samsung-aquila-2010.yaml", "--format", fmt],
                                  cwd=ROOT, capture_output=True, timeout=60,
                                  env={**os.environ, "PYTHONHASHSEED": seed, "LC_ALL": "C", "PYTHONPATH": str(ROOT)})
            assert done.returncode == 0, done.stderr
            outs.append(done.stdout)
    assert outs[:3] == outs[3:]


def test_map_writes_a_file_by_suffix(tmp_path: Path) -> None:
    out = tmp_path / "m" / "map.html"
    code, printed, err = _cli("map", "boards/hi6220-hikey.yaml", "-o", str(out))
    assert code == 0, err
    assert printed == f"wrote {out}\n"  # as emit says what it wrote
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    assert os.listdir(out.parent) == ["map.html"]


def test_check_report_writes_html_and_json(tmp_path: Path) -> None:
    code, _, err = _cli("check", "boards/samsung-aquila-2010.yaml", "--report", str(tmp_path))
    assert code == 0, err
    names = sorted(os.listdir(tmp_path))
    assert names == ["samsung-aquila-2010.report.html", "samsung-aquila-2010.report.json"]
    data = json.loads((tmp_path / names[1]).read_text())
    assert {"verdicts", "layout", "diagnostics", "suggestions"} <= set(data)
    html = (tmp_path / names[0]).read_text()
    # Every verdict has its section, and the failures their free-space strip at the failure.
    for v in data["verdicts"]:
        assert f"<h3>{' + '.join(v['scenarios'])} " in html
    assert "at the failure" in html and "at the peak" in html


def test_free_space_strip_matches_the_allocator() -> None:
    """gui-fragments on the Aquila board fails on a fragmented `gfx` pool: the strip's white
    extents are the pool's free extents at the failure, to scale."""
    from dtgen.views.memory_map import STRIP_W, verdict_rows

    board, layout = _placed_board("samsung-aquila-2010")
    from dtgen.simulate.engine import explain

    v = explain(board, layout, "gui-fragments")
    assert v is not None and not v.fits
    use = next(u for u in v.regions if u.region == "gfx")
    assert use.at_failure is not None and use.at_failure.free_map
    (row,) = verdict_rows(board, layout, (v,))
    strip = next(s for s in row.strips if s.region == "gfx")
    placed = layout.placement("gfx")
    assert len(strip.free) == len(use.at_failure.free_map)
    for (x, w), (address, size) in zip(strip.free, use.at_failure.free_map):
        assert x == pytest.approx(STRIP_W * (address - placed.start) / placed.size)
        assert w == pytest.approx(max(STRIP_W * size / placed.size, 0.75))
    assert sum(size for _, size in use.at_failure.free_map) == use.at_failure.free


def _placed_board(name: str):  # type: ignore[no-untyped-def]
    from dtgen.load import load
    from dtgen.resolve import resolve

    path = f"boards/{name}.yaml"
    loaded = load(path, lambda p: (ROOT / p).read_bytes(), ".")
    assert loaded.board is not None
    layout, _ = resolve(loaded.board)
    return loaded.board, layout


def test_emit_report_only_on_request(tmp_path: Path) -> None:
    code, _, err = _cli("emit", "boards/exynos4412-odroidu3.yaml", "-o", str(tmp_path / "a"))
    assert code == 0, err
    assert not any(n.endswith(".report.html") for n in os.listdir(tmp_path / "a"))
    code, _, err = _cli("emit", "boards/exynos4412-odroidu3.yaml", "-o", str(tmp_path / "b"), "--only", "report")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "b")) == ["exynos4412-odroidu3.dtgen-manifest", "exynos4412-odroidu3.report.html"]


def test_names_are_escaped_in_svg_and_html(tmp_path: Path) -> None:
    """Occupied names and descriptions are free text: they must not break the markup."""
    board = (ROOT / "boards" / "hi6220-hikey.yaml").read_text()
    board = board.replace("description: >-", 'description: >-\n  <script>alert(1)</script> & "quotes" <b>\n ', 1)
    hostile = '    - {name: "fw </text><script>x</script>", start: 0x5000000, size: 1M}\n'
    board = board.replace("memory:\n  banks:", "memory:\n  occupied:\n" + hostile + "  banks:", 1)
    path = tmp_path / "evil.yaml"
    path.write_text(board)
    code, out, err = _cli("map", str(path), "--format", "html", "--include-root", str(tmp_path))
    assert code == 0, err + out
    assert "<script" not in out
    start = out.index("<svg xmlns=")
    ET.fromstring(out[start : out.index("</svg>", start) + 6])  # the map is well-formed XML


@pytest.mark.parametrize("board", ["exynos4412-odroidu3", "hi6220-hikey", "samsung-aquila-2010"])
@pytest.mark.parametrize("fmt, suffix", [("text", "map.txt"), ("svg", "map.svg")])
def test_golden_maps(board: str, fmt: str, suffix: str) -> None:
    code, out, err = _cli("map", f"boards/{board}.yaml", "--format", fmt)
    assert code == 0, err
    golden = GOLDEN / "maps" / f"{board}.{suffix}"
    if os.environ.get("DTGEN_UPDATE_GOLDEN"):
        golden.write_text(out)
    assert out == golden.read_text(), f"{golden} differs; review, then DTGEN_UPDATE_GOLDEN=1"


def test_sizes_read_at_a_glance() -> None:
    """Exact where it reads well; else one unit, two decimals, marked approximate (a dense
    imported board's `532464 KiB` beside `256 MiB`)."""
    from dtgen.units import fmt_size_read

    assert fmt_size_read(36 << 20) == "36 MiB"
    assert fmt_size_read(8320 << 10) == "8.125 MiB"
    assert fmt_size_read(2047 << 20) == "2047 MiB"
    assert fmt_size_read(532464 << 10) == "~519.98 MiB"
    assert fmt_size_read(18416 << 10) == "~17.98 MiB"
    assert fmt_size_read(100) == "100 bytes"


def test_text_map_keeps_long_names_whole(tmp_path: Path) -> None:
    name = "/soc@0/reserved-memory/firmware-carveout-for-the-modem-subsystem@86000000"
    board = tmp_path / "b.yaml"
    board.write_text('board: b\nkernel: {arch: arm64, version: "6.12"}\nmemory:\n  banks:\n'
                     '    - {name: dram, base: 0x80000000, size: 1G}\n  occupied:\n'
                     f'    - {{name: "{name}", start: 0x86000000, size: 0x800000}}\n')
    code, out, err = _cli("map", str(board))
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines)
    at = next(i for i, line in enumerate(lines) if "occupied" in line and line.startswith("0x86000000"))
    column = lines[at].index(name[:10])
    rest = "".join(line[column:] for line in lines[at + 1 : at + 3] if line[:column].strip() == "")
    assert lines[at][column:] + rest == name


def test_a_part_is_written_in_its_whole_s_unit() -> None:
    from dtgen.units import fmt_part

    assert fmt_part(9000 << 10, 24 << 20) == "~8.79 MiB"
    assert fmt_part(145824 << 10, 256 << 20) == "~142.41 MiB"
    assert fmt_part(4 << 20, 8 << 20) == "4 MiB"
    assert fmt_part(512 << 10, 8 << 20) == "512 KiB"  # less than one of the whole's unit


def test_leaders_cross_no_dma_bar_and_touching_boxes_differ(tmp_path: Path) -> None:
    """A dense board (firmware carve-outs side by side, a device with a DMA window): the reach
    bars stand left of the column, so no leader crosses one; touching boxes of one fill
    alternate in shade."""
    import xml.etree.ElementTree as ET

    board = tmp_path / "b.yaml"
    board.write_text('board: b\nkernel: {arch: arm64, version: "6.12"}\nmemory:\n  banks:\n'
                     '    - {name: dram, base: 0x80000000, size: 1G}\n  occupied:\n'
                     '    - {name: a, start: 0x86000000, size: 0x200000}\n'
                     '    - {name: b, start: 0x86200000, size: 0x200000}\n'
                     '    - {name: c, start: 0x86400000, size: 0x200000}\n'
                     'regions:\n  - {name: pool, size: 16M, reusable: true}\n'
                     'devices:\n  - {name: dev, kinds: [buf], dma_mask_bits: 32}\n'
                     'map:\n  - {match: dev/buf, regions: [pool]}\n')
    code, out, err = _cli("map", str(board), "--format", "svg")
    assert code == 0, err
    root = ET.fromstring(out)
    reaches = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "reach"]
    assert reaches
    bar_right = max(float(r.get("x", 0)) + float(r.get("width", 0)) for r in reaches)
    column = min(float(r.get("x", 0)) for r in root.iter(f"{SVG}rect") if "box" in (r.get("class") or "").split()
                 and float(r.get("width", 0)) > 100)
    assert bar_right < column
    for path in root.iter(f"{SVG}path"):
        if "leader" in (path.get("class") or ""):
            xs = [float(x) for x in re.findall(r"[MHL]\s*([\d.]+)", path.get("d", ""))]
            assert min(xs) >= column, path.get("d")
    occupied = [r.get("class") for r in root.iter(f"{SVG}rect") if "occupied" in (r.get("class") or "")
                and float(r.get("width", 0)) > 100]
    assert occupied[:3] == ["box occupied", "box occupied alt", "box occupied"]
