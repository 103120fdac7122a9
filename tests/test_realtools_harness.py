"""The real-tool harness (tests/support/realtools.py) itself: each tool runs on the real 6.12 tree and each
check would catch what it is there to catch. Slow steps are cached across runs (realtools.py says
where); with a tool missing these skip locally and fail under CI=true."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import yaml

from tests.support import realtools as rt

BOARDS = sorted((rt.ROOT / "boards").glob("*.yaml"))


def _board(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


BASED = [p for p in BOARDS if (_board(p).get("devicetree") or {}).get("base")]


def test_example_boards_with_a_base_exist() -> None:
    assert len(BASED) >= 4, BASED  # odroid-u3, ls1043a-rdb, hikey, k2hk-evm


# --- (a) every example board's base tree compiles as the kernel builds it ----------------------


@pytest.mark.parametrize("board", BASED, ids=[p.stem for p in BASED])
def test_board_base_compiles_with_kernel_flags(board: Path, tmp_path: Path) -> None:
    data = _board(board)
    arch = data["kernel"]["arch"]
    dts = rt.find_dts(data["devicetree"]["base"], arch)
    assert dts.is_relative_to(rt.kernel_tree() / "arch" / arch / "boot" / "dts")
    dtb, warnings = rt.compile_dts(dts, out_dir=tmp_path / "plain")
    tree = rt.decode(dtb)
    assert tree["/"]["compatible"], "root compatible"
    assert "/__symbols__" not in tree
    assert any(p.startswith("/memory") for p in tree), sorted(tree)[:20]
    # -@ adds the symbols overlays resolve against, and no warning.
    dtb_at, warnings_at = rt.compile_dts(dts, overlay_symbols=True, out_dir=tmp_path / "symbols")
    assert "/__symbols__" in rt.decode(dtb_at)
    assert warnings_at == warnings
    # An empty fragment through the wrapper changes neither the tree nor the warnings.
    wrapped, wrapped_warnings = rt.compile_dts(dts, fragments=["/* nothing */\n"], out_dir=tmp_path / "wrapped")
    assert rt.decode(wrapped) == tree
    assert wrapped_warnings == warnings


def test_w1_flags_are_live(tmp_path: Path) -> None:
    """Two enabled reserved-memory nodes at one unit address: only W=1's
    -Wunique_unit_address_if_enabled reports it, and only as a warning the base lacks."""
    dts = rt.find_dts("hi6220-hikey", "arm64")
    _, base = rt.compile_dts(dts, out_dir=tmp_path / "base")
    clash = """/ { reserved-memory {
        a@30000000 { reg = <0x0 0x30000000 0x0 0x100000>; no-map; };
        b@30000000 { reg = <0x0 0x30000000 0x0 0x100000>; no-map; };
    }; };
    """
    _, with_clash = rt.compile_dts(dts, fragments=[clash], out_dir=tmp_path / "clash")
    added = rt.new_messages(base, with_clash)
    assert any("unique_unit_address_if_enabled" in m and "/reserved-memory/a@30000000" in m for m in added), added
    assert not any(m[0] == "/" or ".dts" in m.split("Warning")[0] for m in added), added  # no positions


def test_warning_normalisation() -> None:
    stderr = (
        "/k/arch/arm/boot/dts/samsung/exynos4.dtsi:158.38-163.5: Warning (interrupt_provider): "
        "/soc/interrupt-controller@10490000: Missing #address-cells in interrupt provider\n"
        "  also defined at /k/arch/arm/boot/dts/samsung/exynos4412.dtsi:171.6-173.3\n"
        "x.dtb: Warning (reg_format): /a: bad reg\n"
        "/tmp/w.pp:9.1-20: Warning (interrupt_provider): /soc/interrupt-controller@10490000: "
        "Missing #address-cells in interrupt provider\n"
    )
    assert rt.normalise_dtc_messages(stderr) == [
        "Warning (interrupt_provider): /soc/interrupt-controller@10490000: Missing #address-cells in interrupt provider",
        "Warning (reg_format): /a: bad reg",
    ]
    assert rt.new_messages(["a", "b"], ["b", "c", "a"]) == ["c"]


def test_debian_dtc_also_compiles_a_base(tmp_path: Path) -> None:
    """Debian's dtc (device-tree-compiler) can stand in with binary="dtc"; the default is the
    kernel's own, which `make dtbs` runs."""
    dts = rt.find_dts("exynos4412-odroidu3", "arm")
    kernel_dtb, _ = rt.compile_dts(dts, out_dir=tmp_path / "kernel")
    debian_dtb, _ = rt.compile_dts(dts, out_dir=tmp_path / "debian", binary="dtc")
    assert rt.decode(debian_dtb) == rt.decode(kernel_dtb)


def test_decode_matches_pylibfdt(tmp_path: Path) -> None:
    try:
        import libfdt
    except ImportError:
        rt.need("pylibfdt is not installed (pip install -e '.[test]')")
    dtb, _ = rt.compile_dts(rt.find_dts("hi6220-hikey", "arm64"), overlay_symbols=True, out_dir=tmp_path)
    fdt = libfdt.Fdt(dtb.read_bytes())
    expected: dict[str, dict[str, bytes]] = {}

    def walk(offset: int, path: str) -> None:
        props: dict[str, bytes] = {}
        prop = fdt.first_property_offset(offset, [libfdt.FDT_ERR_NOTFOUND])
        while prop >= 0:
            p = fdt.get_property_by_offset(prop)
            props[p.name] = bytes(p)
            prop = fdt.next_property_offset(prop, [libfdt.FDT_ERR_NOTFOUND])
        expected[path] = props
        child = fdt.first_subnode(offset, [libfdt.FDT_ERR_NOTFOUND])
        while child >= 0:
            walk(child, path.rstrip("/") + "/" + fdt.get_name(child))
            child = fdt.next_subnode(child, [libfdt.FDT_ERR_NOTFOUND])

    walk(0, "/")
    assert rt.decode(dtb) == expected
    with pytest.raises(ValueError):
        rt.decode(b"\0" * 64)


# --- (b) dt-validate against the kernel's own bindings ----------------------------------------

GOOD_POOL = """/ { reserved-memory {
    dtgen_pool: dtgen-pool@50000000 {
        compatible = "shared-dma-pool";
        reg = <0x0 0x50000000 0x0 0x2000000>;
        reusable;
    };
}; };
"""

BROKEN_POOL = """/ { reserved-memory {
    both@50000000 {
        compatible = "shared-dma-pool";
        reg = <0x0 0x50000000 0x0 0x2000000>;
        no-map;
        reusable;
    };
    strange@52000000 {
        compatible = "dtgen,no-such-binding";
        reg = <0x0 0x52000000 0x0 0x100000>;
    };
}; };
"""


def test_dt_validate_reports_only_what_a_fragment_adds(tmp_path: Path) -> None:
    """hi6220-hikey's base has findings of its own in 6.12: a good fragment adds none, a broken one
    adds both the no-map + reusable error and the unmatched compatible."""
    dts = rt.find_dts("hi6220-hikey", "arm64")
    base, _ = rt.compile_dts(dts, out_dir=tmp_path / "base")
    good, _ = rt.compile_dts(dts, fragments=[GOOD_POOL], out_dir=tmp_path / "good")
    broken, _ = rt.compile_dts(dts, fragments=[BROKEN_POOL], out_dir=tmp_path / "broken")
    found = rt.dt_validate_findings([base, good, broken])
    base_keys = {f.key for f in found[base.resolve()]}
    assert base_keys, "the 6.12 hikey base has findings: the diff must leave them out"
    new_good = [f for f in found[good.resolve()] if f.key not in base_keys]
    new_broken = [str(f) for f in found[broken.resolve()] if f.key not in base_keys]
    assert new_good == []
    assert any(
        m.startswith("error: /reserved-memory/both@50000000:") and "shared-dma-pool.yaml" in m for m in new_broken
    ), new_broken
    assert any("/reserved-memory/strange@52000000" in m and "dtgen,no-such-binding" in m for m in new_broken), new_broken
    assert not any("hikey" in m or m.startswith("error: /soc") for m in new_broken), new_broken


def test_dt_validate_single_and_pairwise(tmp_path: Path) -> None:
    dts = rt.find_dts("exynos4412-odroidu3", "arm")
    base, _ = rt.compile_dts(dts, out_dir=tmp_path / "base")
    broken, _ = rt.compile_dts(dts, fragments=[BROKEN_POOL.replace("0x0 ", "")], out_dir=tmp_path / "broken")
    errors = rt.dt_validate(broken)
    assert any("both@50000000" in e for e in errors), errors
    new = rt.dt_validate_new(base, broken)
    assert any("both@50000000" in e for e in new) and all("@50000000" in e or "@52000000" in e for e in new), new
    with pytest.raises(rt.ToolError):  # dt-validate itself would say nothing about a missing file
        rt.dt_validate(tmp_path / "missing.dtb")


# --- (c) platform C compiles built-in, W=1 -Werror, in a CMA-enabled kernel --------------------

GOOD_C = """// SPDX-License-Identifier: GPL-2.0
#include <linux/cma.h>
#include <linux/dma-map-ops.h>
#include "dtgen_check.h"

struct page *dtgen_check_cycle(struct cma *cma, unsigned long count)
{
\tstruct page *page = cma_alloc(cma, count, 0, false);

\tif (page)
\t\tcma_release(cma, page, count);
\treturn page;
}
"""
GOOD_H = """/* SPDX-License-Identifier: GPL-2.0 */
#ifndef DTGEN_CHECK_H
#define DTGEN_CHECK_H
struct cma;
struct page;
struct page *dtgen_check_cycle(struct cma *cma, unsigned long count);
#endif
"""
UNUSED_C = """// SPDX-License-Identifier: GPL-2.0
int dtgen_check_unused(void);
int dtgen_check_unused(void)
{
\tint unused;

\treturn 0;
}
"""
NO_PROTOTYPE_C = """// SPDX-License-Identifier: GPL-2.0
int dtgen_check_no_prototype(void)
{
\treturn 0;
}
"""


@pytest.mark.parametrize("arch", sorted(rt.ARCHES))
def test_builtin_c_compiles_and_warnings_fail(arch: str) -> None:
    config = rt.kernel_config(arch)
    assert config.get("CONFIG_CMA") == "y" and config.get("CONFIG_DMA_CMA") == "y"
    ok, log = rt.compile_builtin(arch, {"dtgen_check.c": GOOD_C, "dtgen_check.h": GOOD_H})
    assert ok, log
    ok, log = rt.compile_builtin(arch, {"unused.c": UNUSED_C})
    assert not ok and "unused variable" in log and "-Werror" in log, log  # KCFLAGS=-Werror is live
    ok, log = rt.compile_builtin(arch, {"noproto.c": NO_PROTOTYPE_C})
    assert not ok and "missing-prototypes" in log, log  # W=1 is live
    assert not (rt.kernel_tree() / rt.SCRATCH_DIR).exists()


def test_compile_builtin_rejects_odd_names() -> None:
    with pytest.raises(ValueError):
        rt.compile_builtin("arm64", {"../evil.c": "int x;"})


# --- (d) overlays: -@ base, /plugin/ overlay, fdtoverlay, same tree as the merged fragment ------

OVERLAY = """/dts-v1/;
/plugin/;

&{/reserved-memory} {
\t/* restated: dtc checks reg against the target's cells, which an overlay cannot see */
\t#address-cells = <2>;
\t#size-cells = <2>;

\tade_pool: ade-pool@50000000 {
\t\tcompatible = "shared-dma-pool";
\t\treg = <0x0 0x50000000 0x0 0x2000000>;
\t\treusable;
\t};
};

&ade {
\tmemory-region = <&ade_pool>;
\tmemory-region-names = "scanout";
};
"""
MERGED = """/ { reserved-memory {
\tade_pool: ade-pool@50000000 {
\t\tcompatible = "shared-dma-pool";
\t\treg = <0x0 0x50000000 0x0 0x2000000>;
\t\treusable;
\t};
}; };

&ade {
\tmemory-region = <&ade_pool>;
\tmemory-region-names = "scanout";
};
"""


def test_overlay_applies_and_matches_the_merged_fragment(tmp_path: Path) -> None:
    dts = rt.find_dts("hi6220-hikey", "arm64")
    base, base_warnings = rt.compile_dts(dts, overlay_symbols=True, out_dir=tmp_path / "base")
    source = tmp_path / "ade.dtso"
    source.write_text(OVERLAY)
    dtbo, overlay_warnings = rt.compile_dts(source, overlay_symbols=True, out_dir=tmp_path / "overlay")
    assert dtbo.suffix == ".dtbo" and "/__fixups__" in rt.decode(dtbo)
    assert overlay_warnings == [], overlay_warnings
    applied = rt.fdtoverlay(base, dtbo, out=tmp_path / "applied.dtb")
    merged, merged_warnings = rt.compile_dts(dts, fragments=[MERGED], overlay_symbols=True, out_dir=tmp_path / "merged")
    assert rt.new_messages(base_warnings, merged_warnings) == []

    view = rt.reserved_memory_view(rt.decode(applied))
    assert view == rt.reserved_memory_view(rt.decode(merged))
    ade = next(p for p in view if p.startswith("/soc/ade@"))
    assert view[ade] == {"memory-region": ["/reserved-memory/ade-pool@50000000"], "memory-region-names": ["scanout"]}
    pool = view["/reserved-memory/ade-pool@50000000"]
    assert pool["reg"] == struct.pack(">4I", 0, 0x50000000, 0, 0x2000000) and "reusable" in pool
    assert "phandle" not in pool
    assert view != rt.reserved_memory_view(rt.decode(base))
    assert not any(p.startswith("/__") for p in view)


def test_need_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        rt.need("dtgen-no-such-tool")
    with pytest.raises(pytest.skip.Exception, match="a reason"):
        rt.need("a reason")
    monkeypatch.setattr(rt, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception):
        rt.need("dtgen-no-such-tool")
    assert rt.need("sh")
