"""Buffer sizes per pixel format, against arithmetic worked by hand from the V4L2/DRM docs and
the Samsung MFC v5 driver (s5p_mfc_opr_v5.c), never against dtgen's own earlier output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtgen.simulate.formats import FORMATS, SEPARABLE, SOURCES, Plane, buffer_size, planes
from tests.support.common import ROOT

# Bits per pixel of a tightly packed image with even dimensions: 4:2:0 is 8 + 2 * 8 / 4 = 12,
# 4:2:2 is 8 + 2 * 8 / 2 = 16, RGB formats are their cpp * 8 (drm_fourcc.c).
BITS_PER_PIXEL = {
    "NV12": 12,
    "NV21": 12,
    "YUV420": 12,
    "NV12MT": 12,
    "NV16": 16,
    "YUYV": 16,
    "RGB565": 16,
    "RGB888": 24,
    "XRGB8888": 32,
    "ARGB8888": 32,
}
LINEAR = [f for f in FORMATS if f != "NV12MT"]
SCHEMA_LIMIT = 65536  # $defs/buffer width/height maximum


def test_formats_are_the_schema_enum() -> None:
    schema = json.loads((ROOT / "schemas" / "board.schema.json").read_text())
    assert set(FORMATS) == set(schema["$defs"]["buffer"]["properties"]["format"]["enum"])
    assert set(BITS_PER_PIXEL) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_cites_a_source(fmt: str) -> None:
    source = SOURCES[fmt]
    # A path into the kernel tree, not just a name.
    assert "Documentation/" in source or "drivers/" in source or "include/" in source


def test_no_source_for_a_format_we_do_not_handle() -> None:
    assert set(SOURCES) == set(FORMATS)


# 1920x1080, no stride padding.
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        # Y 1920 * 1080 = 2,073,600; UV 960 pairs * 2 bytes = 1920 per line, 540 lines
        # = 1,036,800; 2,073,600 + 1,036,800 = 3,110,400 (= 1920 * 1080 * 3 / 2).
        ("NV12", (Plane("Y", 1920, 1080, 2_073_600), Plane("UV", 1920, 540, 1_036_800))),
        ("NV21", (Plane("Y", 1920, 1080, 2_073_600), Plane("UV", 1920, 540, 1_036_800))),
        # 4:2:2: the chroma plane has all 1080 lines: 1920 * 1080 = 2,073,600.
        ("NV16", (Plane("Y", 1920, 1080, 2_073_600), Plane("UV", 1920, 1080, 2_073_600))),
        # I420: U and V are 960 x 540 = 518,400 each.
        (
            "YUV420",
            (
                Plane("Y", 1920, 1080, 2_073_600),
                Plane("U", 960, 540, 518_400),
                Plane("V", 960, 540, 518_400),
            ),
        ),
        # 2 bytes per pixel: 3840 * 1080 = 4,147,200.
        ("YUYV", (Plane("packed", 3840, 1080, 4_147_200),)),
        ("RGB565", (Plane("packed", 3840, 1080, 4_147_200),)),
        # 3 bytes: 5760 * 1080 = 6,220,800.
        ("RGB888", (Plane("packed", 5760, 1080, 6_220_800),)),
        # 4 bytes: 7680 * 1080 = 8,294,400.
        ("XRGB8888", (Plane("packed", 7680, 1080, 8_294_400),)),
        ("ARGB8888", (Plane("packed", 7680, 1080, 8_294_400),)),
    ],
)
def test_full_hd(fmt: str, expected: tuple[Plane, ...]) -> None:
    assert planes(fmt, 1920, 1080) == expected
    assert buffer_size(fmt, 1920, 1080) == sum(p.size for p in expected)


def test_full_hd_nv12_is_one_and_a_half_bytes_per_pixel() -> None:
    assert buffer_size("NV12", 1920, 1080) == 3_110_400
    assert buffer_size("YUV420", 1920, 1080) == 3_110_400


# Odd sizes: chroma rounds up (DIV_ROUND_UP in v4l2_format_plane_stride/_height).
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        # Y 5 x 3 = 15; UV ceil(5/2) = 3 pairs = 6 bytes per line, ceil(3/2) = 2 lines = 12.
        ("NV12", (Plane("Y", 5, 3, 15), Plane("UV", 6, 2, 12))),
        ("NV21", (Plane("Y", 5, 3, 15), Plane("UV", 6, 2, 12))),
        # UV 6 bytes on all 3 lines = 18.
        ("NV16", (Plane("Y", 5, 3, 15), Plane("UV", 6, 3, 18))),
        # U and V: ceil(5/2) = 3 bytes, ceil(3/2) = 2 lines = 6 each.
        ("YUV420", (Plane("Y", 5, 3, 15), Plane("U", 3, 2, 6), Plane("V", 3, 2, 6))),
        # 2 pixels per 4 bytes: ceil(5/2) = 3 macropixels = 12 bytes per line, 3 lines = 36.
        ("YUYV", (Plane("packed", 12, 3, 36),)),
        ("RGB565", (Plane("packed", 10, 3, 30),)),
        ("RGB888", (Plane("packed", 15, 3, 45),)),
        ("XRGB8888", (Plane("packed", 20, 3, 60),)),
    ],
)
def test_odd_sizes(fmt: str, expected: tuple[Plane, ...]) -> None:
    assert planes(fmt, 5, 3) == expected


def test_one_pixel() -> None:
    # NV12: 1 luma byte + one Cb/Cr pair (2 bytes) = 3; I420: 1 + 1 + 1 = 3; YUYV: one whole
    # 4-byte macropixel.
    assert buffer_size("NV12", 1, 1) == 3
    assert buffer_size("YUV420", 1, 1) == 3
    assert buffer_size("YUYV", 1, 1) == 4


# NV12MT, s5p_mfc_opr_v5.c: luma ALIGN(ALIGN(w,128) * ALIGN(h,32), 8192),
# chroma ALIGN(ALIGN(w,128) * ALIGN(h>>1,32), 8192).
@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        # luma: ALIGN(1920,128) = 1920 (15 * 128); ALIGN(1080,32) = 1088 (34 * 32);
        #   1920 * 1088 = 2,088,960 = 255 * 8192 exactly, stays 2,088,960.
        # chroma: 1080 >> 1 = 540, ALIGN(540,32) = 544 (17 * 32); 1920 * 544 = 1,044,480
        #   = 127.5 * 8192, rounds up to 128 * 8192 = 1,048,576.
        (1920, 1080, (Plane("Y", 1920, 1088, 2_088_960), Plane("UV", 1920, 544, 1_048_576))),
        # luma: 1280 * ALIGN(720,32) = 1280 * 736 = 942,080 = 115 * 8192.
        # chroma: ALIGN(360,32) = 384; 1280 * 384 = 491,520 = 60 * 8192.
        (1280, 720, (Plane("Y", 1280, 736, 942_080), Plane("UV", 1280, 384, 491_520))),
        # luma: 640 * 480 = 307,200 = 37.5 * 8192 -> 38 * 8192 = 311,296.
        # chroma: ALIGN(240,32) = 256; 640 * 256 = 163,840 = 20 * 8192.
        (640, 480, (Plane("Y", 640, 480, 311_296), Plane("UV", 640, 256, 163_840))),
        # Odd height: luma ALIGN(100,128) = 128, ALIGN(65,32) = 96, 128 * 96 = 12,288
        #   -> 2 * 8192 = 16,384. chroma: 65 >> 1 = 32 (the driver rounds down), ALIGN(32,32)
        #   = 32; 128 * 32 = 4,096 -> 8,192.
        (100, 65, (Plane("Y", 128, 96, 16_384), Plane("UV", 128, 32, 8_192))),
        # One line: 1 >> 1 = 0 chroma lines, so the driver's chroma size is ALIGN(0, 8192) = 0.
        (1, 1, (Plane("Y", 128, 32, 8_192), Plane("UV", 128, 0, 0))),
    ],
)
def test_nv12mt_follows_the_mfc_v5_driver(
    width: int, height: int, expected: tuple[Plane, ...]
) -> None:
    assert planes("NV12MT", width, height) == expected


def test_nv12mt_full_hd_total() -> None:
    # 2,088,960 + 1,048,576 = 3,137,536.
    assert buffer_size("NV12MT", 1920, 1080) == 3_137_536


def test_only_nv12mt_planes_may_be_separated() -> None:
    assert SEPARABLE == {"NV12MT"}


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-1, 10)])
def test_non_positive_size_is_a_bug(width: int, height: int) -> None:
    with pytest.raises(ValueError):
        planes("NV12", width, height)


def test_unknown_format_is_a_bug() -> None:
    with pytest.raises(ValueError):
        buffer_size("NV61", 16, 16)


sides = st.integers(1, SCHEMA_LIMIT)


@given(st.sampled_from(FORMATS), sides, sides)
def test_never_less_than_the_pixels_need(fmt: str, width: int, height: int) -> None:
    assert buffer_size(fmt, width, height) * 8 >= width * height * BITS_PER_PIXEL[fmt]


halves = st.integers(1, SCHEMA_LIMIT // 2)


@given(st.sampled_from(LINEAR), halves, halves)
def test_linear_even_sizes_have_no_padding(fmt: str, half_width: int, half_height: int) -> None:
    width, height = 2 * half_width, 2 * half_height
    assert buffer_size(fmt, width, height) * 8 == width * height * BITS_PER_PIXEL[fmt]


@given(st.sampled_from(FORMATS), sides, sides, st.integers(0, 300))
def test_monotone_in_width(fmt: str, width: int, height: int, grow: int) -> None:
    assert buffer_size(fmt, width + grow, height) >= buffer_size(fmt, width, height)


@given(st.sampled_from(FORMATS), sides, sides, st.integers(0, 300))
def test_monotone_in_height(fmt: str, width: int, height: int, grow: int) -> None:
    assert buffer_size(fmt, width, height + grow) >= buffer_size(fmt, width, height)


@given(st.sampled_from(FORMATS), sides, sides)
def test_each_plane_holds_its_lines(fmt: str, width: int, height: int) -> None:
    for plane in planes(fmt, width, height):
        if fmt == "NV12MT":
            assert plane.size >= plane.stride * plane.lines
            assert plane.size % 8192 == 0 and plane.stride % 128 == 0 and plane.lines % 32 == 0
        else:
            assert plane.size == plane.stride * plane.lines
