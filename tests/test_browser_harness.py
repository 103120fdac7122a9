"""The browser harness (tests/support/browser.py) itself: chromium renders a page with inline SVG cleanly,
and each kind of fault a report could have (a console error, an uncaught exception, a resource
that fails to load, an external resource, a blank page) is caught. Without chromium the browser
tests skip locally and fail under CI=true; the PNG decoder tests need nothing."""

from __future__ import annotations

import random
import socket
import struct
import zlib
from pathlib import Path

import pytest

from tests.support import browser

SVG_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness</title>
<style>
  html, body { margin: 0; background: #fff; font-family: "DejaVu Sans", sans-serif; }
  h1 { font-size: 24px; color: #123; margin: 130px 0 0 10px; }
</style></head>
<body>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="120" style="display:block">
  <rect x="10" y="10" width="200" height="100" fill="#33aa77"/>
  <circle cx="300" cy="60" r="50" fill="#cc3333"/>
  <text x="20" y="65" font-size="20" fill="#fff">0x8000_0000</text>
</svg>
<h1>Reserved memory</h1>
</body></html>
"""

BLANK_PAGE = "<!doctype html><html><head><style>html,body{margin:0;background:#fff}</style></head><body></body></html>"


def _page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    path = tmp_path / name
    if not body.lstrip().startswith("<!doctype"):
        body = f"<!doctype html><html><body>{body}</body></html>"
    path.write_text(body)
    return path


# --- (1) a clean page with inline SVG and text --------------------------------------------------


def test_svg_page_renders_cleanly(tmp_path: Path) -> None:
    result = browser.render(_page(tmp_path, SVG_PAGE), tmp_path / "shot.png", width=800, height=300)
    assert result.errors == [], result.errors
    assert result.console == ()
    assert result.requests == ()  # self-contained: nothing loaded besides the file itself
    assert result.stderr_console == ()
    assert "<circle" in result.dom and "Reserved memory" in result.dom

    image = browser.decode_png(result.png)
    assert (image.width, image.height) == (800, 300)
    assert image.pixel(100, 20)[:3] == (0x33, 0xAA, 0x77)  # inside the rectangle
    assert image.pixel(300, 60)[:3] == (0xCC, 0x33, 0x33)  # the circle's centre
    assert image.pixel(700, 250)[:3] == (0xFF, 0xFF, 0xFF)  # background

    stats = browser.screenshot_stats(image)
    assert stats[:2] == (800, 300)
    assert stats.colours >= 10  # two fills, white, text and anti-aliased edges
    assert 0.1 < stats.non_background < 0.5  # rectangle 20000 + circle ~7850 px of 240000, plus text
    assert not stats.blank()
    assert browser.screenshot_stats(result.png, background=(255, 255, 255)) == stats
    # The heading's text drew something where it sits (130 px below the 120 px SVG).
    heading = browser.Png(800, 40, image.channels, image.pixels[250 * 800 * image.channels:290 * 800 * image.channels])
    assert browser.screenshot_stats(heading, background=(255, 255, 255)).non_background > 0.01


def test_dump_dom_is_the_dom_after_load(tmp_path: Path) -> None:
    page = _page(tmp_path, '<p id="a">static</p><script>document.getElementById("a").textContent = "changed"</script>')
    dom = browser.dump_dom(page)
    assert '<p id="a">changed</p>' in dom
    assert '<p id="a">changed</p>' in browser.render(page, tmp_path / "shot.png").dom


# --- (2) console errors and uncaught exceptions -------------------------------------------------


@pytest.mark.parametrize(
    ("script", "source", "text"),
    [
        ('console.error("boom")', "console-api", "boom"),
        ('throw new Error("x")', "exception", "Uncaught Error: x"),
        ('console.assert(1 === 2, "sums")', "console-api", "sums"),
    ],
    ids=["console-error", "throw", "assert"],
)
def test_console_errors_are_reported(tmp_path: Path, script: str, source: str, text: str) -> None:
    result = browser.render(_page(tmp_path, f"<p>text</p><script>{script}</script>"), tmp_path / "shot.png")
    assert [(m.source, m.text, m.line) for m in result.console_errors] == [(source, text, 1)], result.console
    assert result.errors and text in result.errors[0]
    # chromium's stderr log sees it too, but at INFO like any console message.
    assert any(text in line for line in result.stderr_console), result.stderr_console


def test_svg_attribute_error_is_reported(tmp_path: Path) -> None:
    """No script needed: chromium reports an SVG attribute it cannot parse as a console error."""
    page = _page(tmp_path, '<svg width="100" height="50"><rect width="40" height="2O" fill="#000"/></svg>')
    result = browser.render(page, tmp_path / "shot.png")
    assert [(m.source, m.line) for m in result.console_errors] == [("rendering", 1)], result.console
    assert 'attribute height: Expected length, "2O"' in result.errors[0]


def test_console_log_is_not_an_error(tmp_path: Path) -> None:
    """What --enable-logging=stderr cannot tell apart: the protocol gives each message's level."""
    result = browser.render(_page(tmp_path, '<script>console.log("hello"); console.warn("careful")</script>'),
                            tmp_path / "shot.png")
    assert result.errors == []
    assert [(m.level, m.text) for m in result.console] == [("info", "hello"), ("warning", "careful")]
    assert len(result.stderr_console) == 2


# --- (3) resources that fail to load, and external ones -----------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "error", "external"),
    [
        ('<img src="missing.png" alt="">', "Image", "net::ERR_FILE_NOT_FOUND", False),
        ('<link rel="stylesheet" href="https://example.invalid/x.css"><p>text</p>', "Stylesheet", "net::ERR_", True),
        ('<script src="missing.js"></script>', "Script", "net::ERR_FILE_NOT_FOUND", False),
        ('<style>@font-face { font-family: F; src: url(missing.woff2) }</style><p style="font-family: F">text</p>',
         "Font", "net::ERR_FILE_NOT_FOUND", False),
    ],
    ids=["missing-image", "external-stylesheet", "missing-script", "missing-font"],
)
def test_failed_loads_are_reported(tmp_path: Path, body: str, kind: str, error: str, external: bool) -> None:
    result = browser.render(_page(tmp_path, body), tmp_path / "shot.png")
    assert len(result.failed_loads) == 1, result.failed_loads
    failed = result.failed_loads[0]
    assert failed.kind == kind and failed.error.startswith(error), failed
    assert result.errors[0] == str(failed)
    assert result.requests == (failed.url,)
    assert result.external == ((failed.url,) if external else ())
    assert len(result.errors) == (2 if external else 1), result.errors  # an external URL counts twice
    assert not result.console_errors, result.console  # "Failed to load resource" is not repeated


def test_local_resource_that_loads_is_listed(tmp_path: Path) -> None:
    """No error, but not self-contained either: what `subresources` is for."""
    (tmp_path / "dot.png").write_bytes(_encode_png(2, 1, 2, bytes([255, 0, 0, 0, 0, 255])))
    body = '<img src="dot.png" width="100" height="50" style="image-rendering: pixelated">'
    result = browser.render(_page(tmp_path, body), tmp_path / "shot.png")
    assert result.errors == []
    assert result.subresources == ((tmp_path / "dot.png").as_uri(),)
    image = browser.decode_png(result.png)
    # The image sits at the body's 8 px margin, scaled up 50 times: red left half, blue right half.
    assert image.pixel(20, 30)[:3] == (255, 0, 0) and image.pixel(100, 30)[:3] == (0, 0, 255)


# --- (4) a blank page ---------------------------------------------------------------------------


def test_blank_page_is_trivial(tmp_path: Path) -> None:
    result = browser.render(_page(tmp_path, BLANK_PAGE), tmp_path / "shot.png", width=640, height=480)
    assert result.errors == []
    stats = browser.screenshot_stats(result.png)
    assert stats == (640, 480, 1, 0.0)
    assert stats.blank()


def test_full_page_screenshot(tmp_path: Path) -> None:
    page = _page(tmp_path, '<div style="height: 2000px; background: #00f"></div>')
    result = browser.render(page, tmp_path / "shot.png", width=400, height=300, full_page=True)
    image = browser.decode_png(result.png)
    assert (image.width, image.height) == (400, 2016)  # 8 px body margin above and below
    assert image.pixel(200, 1900)[:3] == (0, 0, 255)


# --- failures of chromium itself ----------------------------------------------------------------


def test_time_limit(tmp_path: Path) -> None:
    with pytest.raises(browser.BrowserError, match="timed out"):
        browser.render(_page(tmp_path, "<p>text</p>"), tmp_path / "shot.png", timeout=0.2)


def test_request_that_never_ends(tmp_path: Path) -> None:
    """A host that accepts the connection and never answers: the run does not hang; what is still
    loading at 2/3 of the time limit is reported, and the page is drawn without it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # never accepted: the kernel completes the handshake, nothing answers
        css = f"http://127.0.0.1:{server.getsockname()[1]}/x.css"
        page = _page(tmp_path, f'<!doctype html><link rel="stylesheet" href="{css}"><p>text</p>')
        result = browser.render(page, tmp_path / "shot.png", timeout=6)
    assert result.seconds < 6
    assert [str(f) for f in result.failed_loads] == [f"failed to load stylesheet {css}: still loading"]
    assert result.external == (css,)
    assert any("load event did not fire" in e for e in result.errors), result.errors
    assert not browser.screenshot_stats(result.png).blank(min_fraction=0.0001)  # the word "text"


def test_missing_page(tmp_path: Path) -> None:
    browser.chromium()  # skips first, like the others, without chromium
    with pytest.raises(FileNotFoundError):
        browser.render(tmp_path / "absent.html", tmp_path / "shot.png")


# --- (5) the PNG decoder, on PNGs built here ----------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filter(kind: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    """The PNG spec's filters, forward (the decoder undoes them)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def _encode_png(width: int, height: int, colour: int, pixels: bytes, *, filters: list[int] | None = None,
                palette: bytes | None = None, trns: bytes | None = None, idat_parts: int = 1) -> bytes:
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    stride = width * bpp
    raw, prev = bytearray(), bytes(stride)
    for y in range(height):
        row = pixels[y * stride:(y + 1) * stride]
        kind = filters[y % len(filters)] if filters else 0
        raw += bytes([kind]) + _filter(kind, row, prev, bpp)
        prev = row
    data = zlib.compress(bytes(raw), 9)
    step = max(1, -(-len(data) // idat_parts))
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))]
    if palette is not None:
        chunks.append(_chunk(b"PLTE", palette))
    if trns is not None:
        chunks.append(_chunk(b"tRNS", trns))
    chunks += [_chunk(b"IDAT", data[i:i + step]) for i in range(0, len(data), step)]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _chunk(b"IEND", b"")


@pytest.mark.parametrize("colour", [0, 2, 4, 6], ids=["grey", "rgb", "grey-alpha", "rgba"])
def test_png_decoder_gives_back_the_pixels(colour: int) -> None:
    rng = random.Random(colour)
    width, height = 37, 25  # odd sizes: rows that are not a multiple of anything
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    # Random noise, and smooth gradients (where the filters' predictions matter).
    noise = bytes(rng.randrange(256) for _ in range(width * height * channels))
    smooth = bytes(
        (x * 7 + y * 3 + c * 50) & 0xFF for y in range(height) for x in range(width) for c in range(channels)
    )
    for pixels in (noise, smooth):
        for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0, 4, 4, 1]):
            png = _encode_png(width, height, colour, pixels, filters=filters, idat_parts=3)
            image = browser.decode_png(png)
            assert (image.width, image.height, image.channels) == (width, height, channels)
            assert image.pixels == pixels, filters
    image = browser.decode_png(_encode_png(width, height, colour, noise, filters=[4]))
    assert image.pixel(36, 24) == tuple(noise[-channels:])


def test_png_decoder_palette() -> None:
    palette = bytes([0, 0, 0, 255, 0, 0, 0, 255, 0])
    indices = bytes([0, 1, 2, 1, 2, 0])
    image = browser.decode_png(_encode_png(3, 2, 3, indices, palette=palette, filters=[1, 4]))
    assert image.channels == 3 and image.pixel(1, 0) == (255, 0, 0) and image.pixel(0, 1) == (255, 0, 0)
    image = browser.decode_png(_encode_png(3, 2, 3, indices, palette=palette, trns=bytes([0])))
    assert image.channels == 4 and image.pixel(0, 0) == (0, 0, 0, 0) and image.pixel(2, 0) == (0, 255, 0, 255)


def test_png_decoder_rejects_what_it_cannot_read() -> None:
    good = _encode_png(2, 2, 2, bytes(12))
    assert browser.decode_png(good).pixels == bytes(12)
    with pytest.raises(browser.PngError, match="signature"):
        browser.decode_png(b"GIF89a" + good[6:])
    corrupt = bytearray(good)
    corrupt[-20] ^= 1  # inside the IDAT chunk: its CRC no longer matches
    with pytest.raises(browser.PngError, match="CRC"):
        browser.decode_png(bytes(corrupt))
    sixteen = good[:8] + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0)) + good[33:]
    with pytest.raises(browser.PngError, match="bit depth 16"):
        browser.decode_png(sixteen)
    with pytest.raises(browser.PngError, match="IEND"):
        browser.decode_png(good[:-12])


def test_screenshot_stats() -> None:
    white = _encode_png(10, 10, 2, b"\xff" * 300)
    assert browser.screenshot_stats(white) == (10, 10, 1, 0.0)
    assert browser.screenshot_stats(white).blank()
    dotted = bytearray(b"\xff" * 300)
    dotted[0:3] = b"\x00\x00\x00"
    dotted[150:153] = b"\xff\x00\x00"
    stats = browser.screenshot_stats(_encode_png(10, 10, 2, bytes(dotted)))
    assert stats == (10, 10, 3, pytest.approx(0.02))
    assert not stats.blank()
    assert stats.blank(min_fraction=0.05)
    # Against a given background, and grey images (as RGBA internally).
    against_black = browser.screenshot_stats(_encode_png(10, 10, 2, bytes(dotted)), background=(0, 0, 0))
    assert against_black.non_background == pytest.approx(0.99)
    assert browser.screenshot_stats(_encode_png(4, 1, 0, bytes([0, 0, 9, 200]))) == (4, 1, 3, 0.5)
