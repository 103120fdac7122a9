"""What `dtgen emit` writes, proven by the tools a kernel developer uses on Linux 6.12 (Debian's
linux-source-6.12, unpacked at test time; tests/support/realtools.py):

- the .dtsi, appended to each example board's real base tree (cpp + the kernel's dtc with its
  W=1 flags), adds no dtc warning and no dt-validate finding that the base alone lacks;
- the .dtso compiles without a warning, fdtoverlay applies it to the base built with -@, and
  the result's /reserved-memory and memory-region properties equal the .dtsi build's;
- the platform C builds as a built-in object in the 6.12 tree (arm exynos_defconfig, arm64
  defconfig) with W=1 KCFLAGS=-Werror, and a driver module links against its exports (modpost);
- scripts/checkpatch.pl --strict finds nothing in any emitted C or device-tree file.

With a tool missing these skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from tests.support import realtools as rt

ROOT = rt.ROOT
WITH_BASE = ["exynos4412-odroidu3", "fsl-ls1043a-rdb", "hi6220-hikey", "k2hk-evm"]
WITH_C = [("boards", "exynos4412-odroidu3", "arm"), ("tests/emit/boards", "arm32-platform", "arm"),
          ("tests/emit/boards", "arm64-helper", "arm64")]


def _emitted(folder: str, name: str, tmp: Path, *args: str) -> dict[str, str]:
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["emit", f"{folder}/{name}.yaml", "-o", str(tmp), *args])
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output + result.stderr
    return {p.name: p.read_text() for p in tmp.iterdir()}


def _board_facts(name: str) -> tuple[str, str, bool]:
    import yaml

    data = yaml.safe_load((ROOT / "boards" / f"{name}.yaml").read_text())
    dt = data["devicetree"]
    return data["kernel"]["arch"], dt["base"], bool(dt.get("base_has_reserved_memory"))


@pytest.fixture(scope="module")
def tools() -> None:
    for tool in ("gcc", "dt-validate", "dt-mk-schema"):
        rt.need(tool)


@pytest.mark.parametrize("pin", [False, True], ids=["dynamic", "pinned"])
@pytest.mark.parametrize("name", WITH_BASE)
def test_fragment_and_overlay_on_the_real_base_tree(tools: None, name: str, pin: bool, tmp_path: Path) -> None:
    arch, base_name, has_reserved_memory = _board_facts(name)
    files = _emitted("boards", name, tmp_path / "out", *(["--pin"] if pin else []), "--only", "dtsi,dtso")
    dts = rt.find_dts(base_name, arch)

    base, base_warnings = rt.compile_dts(dts, out_dir=tmp_path / "base")
    assert ("/reserved-memory" in rt.decode(base)) == has_reserved_memory  # the board says so truly
    merged, merged_warnings = rt.compile_dts(dts, fragments=[files[f"{name}-reserved-memory.dtsi"]], out_dir=tmp_path / "merged")
    assert rt.new_messages(base_warnings, merged_warnings) == []
    assert rt.dt_validate_new(base, merged) == []

    if pin and "/delete-node/" in files[f"{name}-reserved-memory.dtsi"]:
        return  # an overlay cannot delete the base's dynamic nodes it replaces: its header says so
    symbols, _ = rt.compile_dts(dts, overlay_symbols=True, out_dir=tmp_path / "symbols")
    overlay_src = tmp_path / f"{name}.dtso"
    overlay_src.write_text(files[f"{name}-reserved-memory.dtso"])
    overlay, overlay_warnings = rt.compile_dts(overlay_src, overlay_symbols=True, out_dir=tmp_path / "overlay")
    assert overlay_warnings == []
    applied = rt.fdtoverlay(symbols, overlay, out=tmp_path / "applied.dtb")
    want = rt.reserved_memory_view(rt.decode(merged))
    assert rt.reserved_memory_view(rt.decode(applied)) == want
    # The fragment really is in there: every region node and consumer the board names.
    assert any(path.startswith("/reserved-memory/") for path in want)
    assert any("memory-region" in props for props in want.values())


def test_a_broken_fragment_is_caught(tools: None, tmp_path: Path) -> None:
    """The checks above can fail: a fragment whose CMA node is also no-map is schema-invalid,
    and a unit address on a node without `reg` is a dtc warning."""
    name = "hi6220-hikey"
    arch, base_name, _ = _board_facts(name)
    files = _emitted("boards", name, tmp_path / "out", "--only", "dtsi")
    dts = rt.find_dts(base_name, arch)
    base, base_warnings = rt.compile_dts(dts, out_dir=tmp_path / "base")
    broken = files[f"{name}-reserved-memory.dtsi"].replace("reusable;", "reusable;\n\t\t\tno-map;").replace(
        "linux_cma: linux,cma {", "linux_cma: linux,cma@0 {")
    merged, warnings = rt.compile_dts(dts, fragments=[broken], out_dir=tmp_path / "broken")
    assert any("unit_address_vs_reg" in w for w in rt.new_messages(base_warnings, warnings))
    assert rt.dt_validate_new(base, merged) != []


@pytest.mark.parametrize(("folder", "name", "arch"), WITH_C, ids=[n for _, n, _ in WITH_C])
def test_platform_c_builds_in_the_kernel(tools: None, folder: str, name: str, arch: str, tmp_path: Path) -> None:
    files = _emitted(folder, name, tmp_path / "out", "--only", "c")
    ok, log = rt.compile_builtin(arch, {f"{name}-cma.c": files[f"{name}-cma.c"], f"{name}-cma.h": files[f"{name}-cma.h"]})
    assert ok, log


def test_a_c_mistake_fails_the_build(tools: None, tmp_path: Path) -> None:
    """-Werror is live for generated code: an unused variable breaks the build."""
    files = _emitted("boards", "exynos4412-odroidu3", tmp_path / "out", "--only", "c")
    code = files["exynos4412-odroidu3-cma.c"].replace("\tunsigned int i;\n", "\tunsigned int i, unused;\n", 1)
    ok, log = rt.compile_builtin("arm", {"exynos4412-odroidu3-cma.c": code,
                                         "exynos4412-odroidu3-cma.h": files["exynos4412-odroidu3-cma.h"]})
    assert not ok and "unused" in log


# A driver module that takes its memory from the board's helper: it calls both exported functions
# (with no device and kind "", which no route has: the helper answers NULL/false without touching
# the device), and uses no other kernel symbol, so modpost has only the helper's to find.
USER_MODULE = """\
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>

#include "{header}"

static int __init dtgen_user_init(void)
{{
	struct page *pages = {prefix}_cma_alloc(NULL, "", 0, true);

	return {prefix}_cma_release(NULL, "", pages, 0) ? -EINVAL : 0;
}}
module_init(dtgen_user_init);

MODULE_DESCRIPTION("Calls the board's generated CMA helper");
MODULE_LICENSE("GPL");
"""


@pytest.mark.parametrize("exported", [True, False], ids=["exported", "not-exported"])
def test_a_driver_module_links_against_the_builtin_helper(tools: None, exported: bool, tmp_path: Path) -> None:
    """arm64 defconfig builds hantro, etnaviv and lima as modules: the helper is built in and
    exports its functions, and modpost finds them for a module. Without the exports it does not
    (the test can fail)."""
    name, prefix = "arm64-helper", "arm64_helper"
    files = _emitted("tests/emit/boards", name, tmp_path / "out", "--only", "c")
    code, header = files[f"{name}-cma.c"], files[f"{name}-cma.h"]
    if not exported:
        code = "\n".join(line for line in code.splitlines() if not line.startswith("EXPORT_SYMBOL_GPL(")) + "\n"
    module = {"dtgen_user.c": USER_MODULE.format(header=f"{name}-cma.h", prefix=prefix), f"{name}-cma.h": header}
    ok, log = rt.link_module("arm64", {f"{name}-cma.c": code, f"{name}-cma.h": header}, module)
    if exported:
        assert ok, log
    else:
        assert not ok and f'"{prefix}_cma_alloc" [' in log and "undefined" in log, log


CHECKPATCHED = [("boards", "exynos4412-odroidu3"), ("boards", "hi6220-hikey"), ("tests/emit/boards", "arm32-platform"),
                ("tests/emit/boards", "arm64-helper"), ("boards", "samsung-aquila-2010")]


@pytest.mark.parametrize(("folder", "name"), CHECKPATCHED, ids=[n for _, n in CHECKPATCHED])
def test_checkpatch_strict_is_clean_on_every_emitted_file(folder: str, name: str, tmp_path: Path) -> None:
    """scripts/checkpatch.pl --strict from the 6.12 tree, on every .c, .h, .dtsi and .dtso."""
    rt.need("perl")
    files = _emitted(folder, name, tmp_path / "out")
    checked = [n for n in sorted(files) if n.endswith((".c", ".h", ".dtsi", ".dtso"))]
    assert checked
    findings = {}
    for file in checked:
        done = rt._run(["perl", rt.kernel_tree() / "scripts" / "checkpatch.pl", "--strict", "--no-tree", "--show-types",
                        "--no-summary", "--terse", "-f", tmp_path / "out" / file], timeout=120, check=False)
        if done.stdout.strip() or done.returncode != 0:
            findings[file] = done.stdout + done.stderr
    assert findings == {}
