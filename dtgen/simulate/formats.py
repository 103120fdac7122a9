"""How many bytes a video or graphics buffer needs, plane by plane, for the pixel formats the
board schema allows (`$defs/buffer/format`).

Linear formats follow the kernel's own arithmetic for a tightly packed image,
v4l2_format_plane_stride() / v4l2_format_plane_height() in
drivers/media/v4l2-core/v4l2-common.c (what v4l2_fill_pixfmt() adds up into `sizeimage`):

    stride = DIV_ROUND_UP(width, hsub) * bytes per sample group      (hsub = 1 for plane 0)
    lines  = DIV_ROUND_UP(height, vsub)                              (vsub = 1 for plane 0)
    size   = stride * lines

No stride padding is added: a driver or GPU that wants its lines aligned (to 16, 64, 256 bytes...)
needs more than this, and the board must say so with an explicit `size`. Odd widths and heights
round the chroma planes *up* (DIV_ROUND_UP), so a 5x3 NV12 image has a 6-byte, 2-line chroma
plane: the last chroma sample covers the odd column and row. That makes the chroma stride one
byte more than the luma stride for odd widths, exactly as the kernel helper computes it.

Samsung's tiled NV12MT is not linear: its sizes come from the MFC v5 driver, see `_nv12mt`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Constants from drivers/media/platform/samsung/s5p-mfc/regs-mfc.h (the MFC v5.1 register file).
NV12MT_HALIGN = 128  # S5P_FIMV_NV12MT_HALIGN: buffer width, two 64-pixel tiles (one Z shape)
NV12MT_VALIGN = 32  # S5P_FIMV_NV12MT_VALIGN: plane height, one 32-line tile row
NV12MT_SALIGN = 8192  # S5P_FIMV_NV12MT_SALIGN (= S5P_FIMV_DEC_BUF_ALIGN, 8 * 1024): plane size


@dataclass(frozen=True)
class Plane:
    """One plane of a buffer.

    `stride` is bytes per pixel line. For NV12MT it is the tiled buffer width ALIGN(width, 128)
    (the driver's `buf_width`; 8-bit samples, so bytes); one row of 64x32 tiles is then
    `stride * 32` bytes, and `size` may exceed `stride * lines` because the driver rounds each
    plane up to 8 KiB. For every linear format `size == stride * lines`.
    """

    name: str  # "Y", "UV" (interleaved chroma, either order), "U", "V", "packed"
    stride: int
    lines: int
    size: int


@dataclass(frozen=True)
class _LinearPlane:
    """How one linear plane is laid out: `group_bytes` bytes hold `hsub` pixels of a line, and
    the plane has one line for every `vsub` image lines."""

    name: str
    group_bytes: int
    hsub: int
    vsub: int

    def plane(self, width: int, height: int) -> Plane:
        stride = _div_round_up(width, self.hsub) * self.group_bytes
        lines = _div_round_up(height, self.vsub)
        return Plane(self.name, stride, lines, stride * lines)


_Y = _LinearPlane("Y", 1, 1, 1)

# Per-plane layouts, read off the V4L2 docs and cross-checked with the kernel's format tables
# (v4l2_format_info() in v4l2-common.c: bpp/hdiv/vdiv; __drm_format_info() in
# drivers/gpu/drm/drm_fourcc.c: cpp/hsub/vsub).
_LINEAR: dict[str, tuple[_LinearPlane, ...]] = {
    # Semi-planar 4:2:0: Cb/Cr pairs, so 2 bytes per 2 pixels, on half the lines.
    "NV12": (_Y, _LinearPlane("UV", 2, 2, 2)),
    "NV21": (_Y, _LinearPlane("UV", 2, 2, 2)),
    # Semi-planar 4:2:2: same chroma line as NV12, but on every line.
    "NV16": (_Y, _LinearPlane("UV", 2, 2, 1)),
    # Fully planar 4:2:0 (I420, 'YU12'): Y, then Cb, then Cr, each chroma plane 1 byte per 2x2.
    "YUV420": (_Y, _LinearPlane("U", 1, 2, 2), _LinearPlane("V", 1, 2, 2)),
    # Packed 4:2:2 stores 2 pixels in 4 bytes (pixfmt-packed-yuv.rst), so an odd width still
    # needs the whole last macropixel. v4l2_fill_pixfmt() computes 2 * width here (plane 0
    # ignores hdiv), which is 2 bytes short per line for odd widths; we keep the whole group.
    "YUYV": (_LinearPlane("packed", 4, 2, 1),),
    "RGB565": (_LinearPlane("packed", 2, 1, 1),),
    "RGB888": (_LinearPlane("packed", 3, 1, 1),),
    "XRGB8888": (_LinearPlane("packed", 4, 1, 1),),
    "ARGB8888": (_LinearPlane("packed", 4, 1, 1),),
}

FORMATS: tuple[str, ...] = (*_LINEAR, "NV12MT")

# Formats whose planes may live apart (the schema's `planes` list gives one memory kind per
# plane). Every other format here is a single-buffer format: pixfmt-yuv-planar.rst says planes
# "follow each other immediately in memory" unless the format is documented as non-contiguous
# (the 'M' formats); NV12MT is one of those ('TM12', Contiguous: No).
SEPARABLE: frozenset[str] = frozenset({"NV12MT"})

_V4L2_DOC = "Documentation/userspace-api/media/v4l/"
_V4L2_HELPER = "drivers/media/v4l2-core/v4l2-common.c v4l2_format_plane_stride()/_height()"
_DRM_TABLE = "drivers/gpu/drm/drm_fourcc.c __drm_format_info()"
_MFC = "drivers/media/platform/samsung/s5p-mfc/"

SOURCES: dict[str, str] = {
    "NV12": f"V4L2_PIX_FMT_NV12, {_V4L2_DOC}pixfmt-yuv-planar.rst; {_V4L2_HELPER}",
    "NV21": f"V4L2_PIX_FMT_NV21, {_V4L2_DOC}pixfmt-yuv-planar.rst; {_V4L2_HELPER}",
    "NV16": f"V4L2_PIX_FMT_NV16, {_V4L2_DOC}pixfmt-yuv-planar.rst; {_V4L2_HELPER}",
    "YUV420": f"V4L2_PIX_FMT_YUV420 ('YU12'), {_V4L2_DOC}pixfmt-yuv-planar.rst; {_V4L2_HELPER}",
    "YUYV": f"V4L2_PIX_FMT_YUYV, {_V4L2_DOC}pixfmt-packed-yuv.rst (2 pixels in 4 bytes)",
    "RGB565": (
        f"V4L2_PIX_FMT_RGB565, {_V4L2_DOC}pixfmt-rgb.rst; DRM_FORMAT_RGB565 cpp 2, {_DRM_TABLE}"
    ),
    "RGB888": f"DRM_FORMAT_RGB888, include/uapi/drm/drm_fourcc.h; cpp 3, {_DRM_TABLE}",
    "XRGB8888": f"DRM_FORMAT_XRGB8888, include/uapi/drm/drm_fourcc.h; cpp 4, {_DRM_TABLE}",
    "ARGB8888": f"DRM_FORMAT_ARGB8888, include/uapi/drm/drm_fourcc.h; cpp 4, {_DRM_TABLE}",
    "NV12MT": (
        f"V4L2_PIX_FMT_NV12MT, {_V4L2_DOC}pixfmt-yuv-planar.rst (64x32 tiles); "
        f"{_MFC}regs-mfc.h S5P_FIMV_NV12MT_HALIGN/VALIGN/SALIGN; "
        f"{_MFC}s5p_mfc_opr_v5.c s5p_mfc_enc_calc_src_size_v5() and "
        "s5p_mfc_dec_calc_dpb_size_v5() (H.264 branch)"
    ),
}


def planes(fmt: str, width: int, height: int) -> tuple[Plane, ...]:
    """The planes of a `width` x `height` buffer in `fmt`, in memory order.

    Raises ValueError for a format outside FORMATS or a non-positive size: the schema rules
    both out, so reaching here with one is a bug in the caller, not a board mistake.
    """
    if width < 1 or height < 1:
        raise ValueError(f"buffer size must be positive, got {width}x{height}")
    if fmt == "NV12MT":
        return _nv12mt(width, height)
    layout = _LINEAR.get(fmt)
    if layout is None:
        raise ValueError(f"unknown pixel format {fmt!r}; known: {', '.join(FORMATS)}")
    return tuple(p.plane(width, height) for p in layout)


def buffer_size(fmt: str, width: int, height: int) -> int:
    """Bytes the whole buffer needs: the sum of its planes."""
    return sum(p.size for p in planes(fmt, width, height))


def _nv12mt(width: int, height: int) -> tuple[Plane, ...]:
    """Luma and chroma of an NV12MT frame as the Samsung MFC v5 driver sizes them.

    s5p_mfc_opr_v5.c computes the same two numbers wherever the hardware reads or writes an
    NV12MT frame: s5p_mfc_enc_calc_src_size_v5() for encoder input (NV12MT branch, rounded to
    S5P_FIMV_NV12MT_SALIGN) and s5p_mfc_dec_calc_dpb_size_v5() for H.264 decoder output
    (rounded to S5P_FIMV_DEC_BUF_ALIGN, also 8 KiB):

        luma   = ALIGN(ALIGN(w, 128) * ALIGN(h, 32), 8192)
        chroma = ALIGN(ALIGN(w, 128) * ALIGN(h >> 1, 32), 8192)

    `h >> 1` is the driver's: chroma lines are rounded *down* before aligning, so (unlike the
    linear formats) an odd height gets no extra chroma line, and a 1-line image gets none.

    Not covered: for MPEG-4, H.263 and VC-1 decoding the same function adds guard bands
    (luma ALIGN(w + 24, 128) x ALIGN(h + 16, 32); chroma ALIGN(w + 16, 128) x
    ALIGN((h >> 1) + 4, 32)), which is larger than this.

    Where each plane goes is the caller's business, but note the driver's own choice: decoder
    output puts luma on the `right` port (mem_dev[BANK_R_CTX]) and chroma on `left`
    (s5p_mfc_dec.c s5p_mfc_queue_setup()); encoder input puts both on `right` (s5p_mfc_enc.c).
    """
    buf_width = _align(width, NV12MT_HALIGN)
    luma_lines = _align(height, NV12MT_VALIGN)
    chroma_lines = _align(height >> 1, NV12MT_VALIGN)
    return (
        Plane("Y", buf_width, luma_lines, _align(buf_width * luma_lines, NV12MT_SALIGN)),
        Plane("UV", buf_width, chroma_lines, _align(buf_width * chroma_lines, NV12MT_SALIGN)),
    )


def _align(value: int, alignment: int) -> int:
    """The kernel's ALIGN(): round up to a multiple of `alignment`."""
    return _div_round_up(value, alignment) * alignment


def _div_round_up(value: int, divisor: int) -> int:
    """The kernel's DIV_ROUND_UP()."""
    return -(-value // divisor)
