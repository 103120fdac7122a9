"""`dtgen emit`: golden files for every output of every example board, the command's contract
(nothing written on findings, --check, atomic and idempotent writes, template errors), and
determinism across processes, hash seeds, locales, time zones, install paths and equivalent
board files. The real-tool proofs are in test_emit_realtools.py.

Golden files live in tests/golden/BOARD/; after a deliberate change to the output, regenerate
them with `DTGEN_UPDATE_GOLDEN=1 python3 -m pytest tests/test_emit.py` and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
BOARDS = sorted((ROOT / "boards").glob("*.yaml")) + sorted((ROOT / "tests" / "emit" / "boards").glob("*.yaml"))


def _emit(board: Path, out: Path, *args: str, cwd: Path = ROOT):  # type: ignore[no-untyped-def]
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["emit", os.path.relpath(board, cwd), "-o", str(out), *args])
    finally:
        os.chdir(here)


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.stem)
def test_golden(board: Path, tmp_path: Path) -> None:
    result = _emit(board, tmp_path)
    assert result.exit_code == 0, result.output + result.stderr
    got = _tree(tmp_path)
    golden = GOLDEN / board.stem
    if os.environ.get("DTGEN_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name, data in got.items():
            (golden / name).write_bytes(data)
    assert golden.is_dir(), f"no golden files for {board.stem}: run with DTGEN_UPDATE_GOLDEN=1"
    want = _tree(golden)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].decode() == want[name].decode(), name


def test_outputs_follow_the_board() -> None:
    """What each example board gets: mainline boards a fragment and an overlay; the board with a
    helper device platform C; the 2010 board its legacy C and command line."""
    names = {p.name for p in (GOLDEN / "exynos4412-odroidu3").iterdir()}
    assert {"exynos4412-odroidu3-reserved-memory.dtsi", "exynos4412-odroidu3-reserved-memory.dtso", "exynos4412-odroidu3-cma.c",
            "exynos4412-odroidu3-cma.h", "exynos4412-odroidu3-layout.json", "exynos4412-odroidu3-layout.yaml",
            "exynos4412-odroidu3.dtgen-manifest"} == names
    legacy = {p.name for p in (GOLDEN / "samsung-aquila-2010").iterdir()}
    assert {"samsung-aquila-2010-cma-2010.c", "samsung-aquila-2010.cmdline"} <= legacy
    assert not any(n.endswith((".dtsi", ".dtso")) for n in legacy)


def test_fragment_replaces_base_nodes_and_writes_static_unit_addresses(tmp_path: Path) -> None:
    assert _emit(ROOT / "boards/exynos4412-odroidu3.yaml", tmp_path, "--only", "dtsi").exit_code == 0
    text = (tmp_path / "exynos4412-odroidu3-reserved-memory.dtsi").read_text()
    assert "/delete-node/ &mfc_left;" in text and "/delete-node/ &mfc_right;" in text
    assert text.index("/delete-node/ &mfc_left;") < text.index("mfc_left: region-mfc-left {")
    assert "memory-region = <&mfc_left>, <&mfc_right>;" in text
    assert "memory-region-names" not in text  # samsung,s5p-mfc.yaml forbids it
    k2 = tmp_path / "k2"
    assert _emit(ROOT / "boards/k2hk-evm.yaml", k2, "--only", "dtsi").exit_code == 0
    # 2-cell address 0x8_1f80_0000 joined into one unit address, no 0x, no leading zeros.
    assert re.search(r"@81f800000 \{", (k2 / "k2hk-evm-reserved-memory.dtsi").read_text())


def test_pin_writes_resolved_addresses_as_reg(tmp_path: Path) -> None:
    assert _emit(ROOT / "boards/exynos4412-odroidu3.yaml", tmp_path, "--only", "dtsi", "--pin").exit_code == 0
    text = (tmp_path / "exynos4412-odroidu3-reserved-memory.dtsi").read_text()
    layout = CliRunner().invoke(main, ["resolve", "--format", "json", str(ROOT / "boards/exynos4412-odroidu3.yaml")])
    import json

    placed = {p["region"]: p for p in json.loads(layout.stdout)["layout"]["placements"]}
    left = placed["mfc_left"]
    assert f"region-mfc-left@{left['start']:x} {{" in text
    assert f"reg = <{left['start']:#x} {left['size']:#x}>;" in text
    assert "size = <" not in text and "alignment = <" not in text


# ---- the command's contract ------------------------------------------------------------------


def test_nothing_is_written_when_a_scenario_fails(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    text = (ROOT / "boards/exynos4412-odroidu3.yaml").read_text()
    board.write_text(text.replace("    expect: fails\n", ""))  # hd-decode-deep does not fit
    shutil.copytree(ROOT / "boards/socs", tmp_path / "socs")
    out = tmp_path / "out"
    result = _emit(board, out, "--include-root", str(tmp_path), cwd=tmp_path)
    assert result.exit_code == 1
    assert "hd-decode-deep does not fit" in result.stderr and "[scenario-fails]" in result.stderr
    assert not out.exists()


def test_check_lists_stale_and_missing_files(tmp_path: Path) -> None:
    board = ROOT / "boards/hi6220-hikey.yaml"
    first = _emit(board, tmp_path, "--check")
    assert first.exit_code == 1 and f"{tmp_path / 'hi6220-hikey-reserved-memory.dtsi'}: missing: dtgen emit would write it" in first.stdout
    assert not any(tmp_path.iterdir())  # --check writes nothing
    assert _emit(board, tmp_path).exit_code == 0
    assert _emit(board, tmp_path, "--check").exit_code == 0
    (tmp_path / "hi6220-hikey-reserved-memory.dtso").write_text("stale\n")
    again = _emit(board, tmp_path, "--check")
    assert again.exit_code == 1
    assert again.stdout.splitlines() == [f"{tmp_path / 'hi6220-hikey-reserved-memory.dtso'}: differs from what dtgen emit would write"]


def test_outputs_that_no_longer_apply_are_removed_and_checked(tmp_path: Path) -> None:
    """Issue 19: a device switched from `uses: helper` back to the device tree leaves no stale
    `-cma.c` behind, and `--check` names it until emit runs (the manifest says what emit wrote)."""
    helper = ROOT / "tests/emit/boards/arm64-helper.yaml"
    out = tmp_path / "out"
    assert _emit(helper, out).exit_code == 0
    assert (out / "arm64-helper-cma.c").exists() and "arm64-helper-cma.c" in (out / "arm64-helper.dtgen-manifest").read_text()
    plain = tmp_path / "arm64-helper.yaml"
    plain.write_text(helper.read_text().replace(", uses: helper}", "}").replace("[npu_pool, system]", "[npu_pool]"))
    checked = _emit(plain, out, "--check")
    assert checked.exit_code == 1
    assert f"{out / 'arm64-helper-cma.c'}: no longer generated for this board" in checked.stdout
    assert f"{out / 'arm64-helper-cma.h'}: no longer generated for this board" in checked.stdout
    written = _emit(plain, out)
    assert written.exit_code == 0 and f"removed {out / 'arm64-helper-cma.c'}" in written.stdout
    assert not (out / "arm64-helper-cma.c").exists() and not (out / "arm64-helper-cma.h").exists()
    assert _emit(plain, out, "--check").exit_code == 0
    # A file the manifest does not list is never removed: it is not dtgen's.
    (out / "notes.txt").write_text("mine\n")
    (out / "arm64-helper.dtgen-manifest").write_text("../escape\nnotes.txt\nnotes.txt/\n")
    assert _emit(plain, out).exit_code == 0 and (out / "notes.txt").exists()


def test_writes_are_idempotent_and_leave_no_temporary_files(tmp_path: Path) -> None:
    board = ROOT / "boards/fsl-ls1043a-rdb.yaml"
    assert _emit(board, tmp_path).exit_code == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = _emit(board, tmp_path)
    assert again.exit_code == 0 and "wrote" not in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--only", "dtsi,bogus"], 2, "unknown output bogus"),
    (["--only", "legacy-c"], 1, "`legacy-c`: the 2010 CMA API is for kernels before 3.5; this board is 6.12 [emit-not-applicable]"),
    (["--templates", "/nonexistent/dir"], 2, "is not a directory"),
])
def test_usage(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = _emit(ROOT / "boards/hi6220-hikey.yaml", tmp_path / "out", *args)
    assert result.exit_code == code
    assert message in result.output + result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_an_io_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _emit(ROOT / "boards/hi6220-hikey.yaml", blocker / "sub")
    assert result.exit_code == 2 and "[io-error]" in result.stderr and "Traceback" not in result.stderr


# ---- templates -------------------------------------------------------------------------------


def test_template_override_by_name(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cmdline.j2").write_text("custom {{ c.line }}\n")
    result = _emit(ROOT / "tests/emit/boards/arm64-helper.yaml", tmp_path / "out", "--only", "cmdline,dtsi",
                   "--templates", str(tmp_path / "t"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "arm64-helper.cmdline").read_text().startswith("custom cma=")
    name = "arm64-helper-reserved-memory.dtsi"
    assert (tmp_path / "out" / name).read_text() == (GOLDEN / "arm64-helper" / name).read_text()


@pytest.mark.parametrize(("text", "line", "message"), [
    ("line one\n{{ c.no_such_field }}\n", 2, "no_such_field"),
    ("ok\nok\n{% if %}\n", 3, "Expected an expression"),
    ("{{ c.line | no_such_filter }}\n", 1, "no_such_filter"),
])
def test_template_mistakes_point_at_the_template_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cmdline.j2").write_text(text)
    result = _emit(ROOT / "tests/emit/boards/arm64-helper.yaml", tmp_path / "out", "--templates", str(tmp_path / "t"))
    assert result.exit_code == 2
    first = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf".*cmdline\.j2:{line}: error: .*{re.escape(message)}.* \[template\]", first), first
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# ---- nothing from the board file can inject text ---------------------------------------------


HOSTILE = 'a */ int x; /* "quoted" \\ back\nslash\ttab \u00e9 ??= end'


def test_filters_contain_hostile_text() -> None:
    from dtgen.emit.templating import c_string, comment, dts_string

    flat = comment(HOSTILE)
    assert "*/" not in flat and "/*" not in flat and "\n" not in flat
    for quoted in (c_string(HOSTILE), dts_string(HOSTILE)):
        inner = quoted[1:-1]
        assert quoted[0] == quoted[-1] == '"'
        assert not re.search(r'(?<!\\)"', inner.replace('\\\\', '')) or '""' in inner  # only escaped quotes
        assert "\n" not in quoted and all(" " <= ch <= "~" for ch in quoted)
    assert "??" not in c_string(HOSTILE)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_c_string_reads_back_as_the_same_bytes(tmp_path: Path) -> None:
    from dtgen.emit.templating import c_string

    cases = [HOSTILE, "\\x41F", "tab\there", "\u00e9a", "?" * 5, "*/ /*"]
    src = "#include <stdio.h>\nint main(void){\n" + "".join(
        f'fputs({c_string(t)}, stdout); fputc(0, stdout);\n' for t in cases) + "return 0;}\n"
    (tmp_path / "s.c").write_text(src)
    subprocess.run(["gcc", "-Wall", "-Werror", "-trigraphs", "-o", str(tmp_path / "s"), str(tmp_path / "s.c")], check=True)
    out = subprocess.run([str(tmp_path / "s")], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [t.encode() for t in cases]


def test_hostile_board_text_stays_in_comments_and_strings(tmp_path: Path) -> None:
    board = (ROOT / "tests/emit/boards/arm32-platform.yaml").read_text()
    board = board.replace('description: "fixed CMA area"', "description: " + repr_yaml(HOSTILE))
    board = board.replace('{name: trace, description: "dynamic plain reservation"',
                          "{name: trace, properties: {label: " + repr_yaml(HOSTILE) + "}, description: \"x\"")
    path = tmp_path / "arm32-platform.yaml"
    path.write_text(board)
    result = _emit(path, tmp_path / "out", "--only", "c,dtsi", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    for name in ("arm32-platform-cma.c", "arm32-platform-reserved-memory.dtsi"):
        text = (tmp_path / "out" / name).read_text()
        code = _strip_comments_and_strings(text)
        assert "int x" not in code and "back" not in code and "slash" not in code, name


def repr_yaml(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _strip_comments_and_strings(text: str) -> str:
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\])*"', " ", text, flags=re.S)


# ---- determinism -----------------------------------------------------------------------------


def _shuffled(text: str, seed: int) -> str:
    """The same board with the keys of every flow mapping and of every run of one-line block
    entries in another order; lines stay where they are, so positions in comments do not move."""
    rng = random.Random(seed)

    def flow(match: re.Match[str]) -> str:
        items = match.group(1).split(", ")
        rng.shuffle(items)
        return "{" + ", ".join(items) + "}"

    lines = [re.sub(r"\{([^{}\[\]]*)\}", flow, line) if "#" not in line else line for line in text.splitlines()]
    out: list[str] = []
    run: list[str] = []
    simple = re.compile(r"^(\s+)[a-z_]+: [^\s#|>][^#]*$")

    def flush() -> None:
        rng.shuffle(run)
        out.extend(run)
        run.clear()

    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        indent = len(line) - len(line.lstrip())
        if simple.match(line) and (not run or len(run[0]) - len(run[0].lstrip()) == indent) \
                and not (len(nxt) - len(nxt.lstrip()) > indent and nxt.strip()):
            run.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out) + "\n"


def _process_emit(board: Path, out: Path, env: dict[str, str], cwd: Path, pythonpath: Path = ROOT) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHON"))}
    full.update(env)
    full["PYTHONPATH"] = str(pythonpath)
    subprocess.run([sys.executable, "-m", "dtgen", "emit", str(board), "-o", str(out)], cwd=cwd, env=full,
                   check=True, capture_output=True, timeout=120)


def test_deterministic_across_processes_seeds_locales_paths_and_key_order(tmp_path: Path) -> None:
    board = ROOT / "boards/exynos4412-odroidu3.yaml"
    reference = tmp_path / "ref"
    _process_emit(board.relative_to(ROOT), reference, {"PYTHONHASHSEED": "0", "LC_ALL": "C", "TZ": "UTC"}, ROOT)
    want = _tree(reference)
    # Another copy of dtgen, run from another directory, with another seed, locale and zone.
    install = tmp_path / "elsewhere" / "site"
    shutil.copytree(ROOT / "dtgen", install / "dtgen", symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    runs = [
        ({"PYTHONHASHSEED": "12345", "LC_ALL": "C.UTF-8", "TZ": "Asia/Kolkata"}, ROOT, ROOT, board.relative_to(ROOT)),
        ({"PYTHONHASHSEED": "random", "LANG": "de_DE.UTF-8", "TZ": "America/St_Johns"}, tmp_path, install, board),
    ]
    for i, (env, cwd, path, arg) in enumerate(runs):
        out = tmp_path / f"run{i}"
        _process_emit(arg, out, env, cwd, path)
        assert _tree(out) == want, env
    # An equivalent board file, keys in another order (the include beside it, as in boards/).
    copy = tmp_path / "shuffled"
    (copy / "socs").mkdir(parents=True)
    for src, dst in ((board, copy / board.name), (ROOT / "boards/socs/exynos4412.yaml", copy / "socs/exynos4412.yaml")):
        shuffled = _shuffled(src.read_text(), seed=7)
        assert shuffled != src.read_text()
        dst.write_text(shuffled)
    out = tmp_path / "shuffled-out"
    _process_emit(copy / board.name, out, {"PYTHONHASHSEED": "99"}, copy)
    got = _tree(out)
    assert got == want


def test_only_all_is_every_output_that_applies_and_emit_has_no_format(tmp_path: Path) -> None:
    board = ROOT / "boards/hi6220-hikey.yaml"
    result = _emit(board, tmp_path, "--only", "all")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    # hikey: a fragment and overlay, the layout, the report; no platform C or command line.
    assert names == sorted(["hi6220-hikey-layout.json", "hi6220-hikey-layout.yaml", "hi6220-hikey.dtgen-manifest",
                            "hi6220-hikey-reserved-memory.dtsi", "hi6220-hikey-reserved-memory.dtso",
                            "hi6220-hikey.report.html"])
    assert _emit(board, tmp_path, "--only", "all,dtsi").exit_code == 2
    # An option emit would ignore is not one it takes.
    assert _emit(board, tmp_path, "--format", "json").exit_code == 2


def test_node_names_take_the_unit_address_as_given() -> None:
    from dtgen.emit.dts import node_name
    from dtgen.model import Region

    static = Region("vpu", 1 << 20, "/regions/0", start=0x47000000)
    assert node_name(static) == "vpu@47000000"
    assert node_name(replace(static, unit_address="")) == "vpu"  # `unit_address: false`
    assert node_name(replace(static, unit_address="1", node_name="fw")) == "fw@1"
    dynamic = Region("linux_cma", 1 << 26, "/regions/1", node_name="linux,cma")
    assert node_name(dynamic) == "linux,cma"
    assert node_name(replace(dynamic, unit_address="80000000")) == "linux,cma@80000000"


def test_fragments_written_under_their_former_names_are_replaced(tmp_path: Path) -> None:
    """Before, the fragment was `BOARD.dtsi`, which reads beside the kernel's `BOARD.dts` as the
    board's own include; an output directory from then holds it, listed in the manifest. --check
    names it, and the next emit removes it; a file of that name the manifest does not list (the
    user's own) is left alone."""
    board = ROOT / "boards/hi6220-hikey.yaml"
    assert _emit(board, tmp_path).exit_code == 0
    manifest = tmp_path / "hi6220-hikey.dtgen-manifest"
    names = [line for line in manifest.read_text().splitlines() if not line.startswith("#")]
    old = [n.replace("-reserved-memory", "") for n in names if "-reserved-memory" in n]
    assert old == ["hi6220-hikey.dtsi", "hi6220-hikey.dtso"]
    for name in old:
        (tmp_path / name).write_text("/* written by an earlier dtgen */\n")
    manifest.write_text(manifest.read_text().replace("-reserved-memory", ""))  # what that version listed
    check = _emit(board, tmp_path, "--check")
    assert check.exit_code == 1
    for name in old:
        assert f"{tmp_path / name}: no longer generated for this board" in check.stdout
    assert _emit(board, tmp_path).exit_code == 0
    assert not any((tmp_path / name).exists() for name in old)
    assert _emit(board, tmp_path, "--check").exit_code == 0
    (tmp_path / "hi6220-hikey.dtsi").write_text("/* the user's own */\n")
    assert _emit(board, tmp_path).exit_code == 0
    assert (tmp_path / "hi6220-hikey.dtsi").exists()


def test_emitting_is_pure_and_the_cli_alone_keeps_the_template_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dtgen.emit.emit() reads its templates and writes nothing; the CLI keeps compiled templates
    in $XDG_CACHE_HOME/dtgen/jinja2 (a pre-commit hook's start-up), unless DTGEN_NO_CACHE."""
    from dtgen import pipeline
    from dtgen.emit import emit
    from dtgen.validate import Settings

    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("DTGEN_NO_CACHE", raising=False)
    board_file = ROOT / "boards/hi6220-hikey.yaml"
    outcome = pipeline.run(str(board_file), lambda p: open(p, "rb").read(), str(ROOT), {}, Settings())
    assert outcome.layout is not None
    files, found = emit(outcome.board, outcome.layout, str(board_file))
    assert files and not [d for d in found if d.severity.value == "error"]
    assert not cache.exists()
    assert _emit(board_file, tmp_path / "out").exit_code == 0
    assert list((cache / "dtgen" / "jinja2").iterdir())
    monkeypatch.setenv("DTGEN_NO_CACHE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other"))
    assert _emit(board_file, tmp_path / "out2").exit_code == 0
    assert not (tmp_path / "other").exists()


# The platform C's calls by kernel version (dtgen/emit/platform_c.py KernelApi): the template
# prints what the view data says, so each boundary is held here, on the arm32 platform board (a
# dynamic plain reservation needs 5.10's memblock_phys_alloc_range(), so older kernels get it
# fixed; its s5p-mfc has no node, so BOARD_attach() gives it its area).
@pytest.mark.parametrize(("version", "present", "absent"), [
    ("6.12", ["#include <linux/dma-map-ops.h>", "#include <linux/numa.h>", "cma_declare_contiguous_nid(0x5c000000",
              '"fw_cma", &arm32_platform_fw_cma_cma, NUMA_NO_NODE)', "memblock_mark_nomap(0x5d000000",
              "dev->cma_area = arm32_platform_video_cma;", "cma_alloc(cma, count, align, no_warn)"],
     ["dev_set_cma_area", "dma-contiguous.h"]),
    ("5.9", ["#include <linux/dma-contiguous.h>", "cma_declare_contiguous_nid(", "dev_set_cma_area(dev, arm32_platform_video_cma);"],
     ["dev->cma_area =", "dma-map-ops.h"]),
    ("5.4", ["cma_declare_contiguous(0x5c000000", '"fw_cma", &arm32_platform_fw_cma_cma);', "cma_alloc(cma, count, align, no_warn)"],
     ["_nid(", "NUMA_NO_NODE", "linux/numa.h"]),
    ("4.14", ["cma_alloc(cma, count, align, no_warn ? GFP_KERNEL | __GFP_NOWARN : GFP_KERNEL)"], ["align, no_warn)"]),
    ("4.9", ["cma_declare_contiguous(0x5c000000, 0x1000000, 0x0, 0x0, 0, true, &arm32_platform_fw_cma_cma);",
             "cma_alloc(cma, count, align);", "memblock_mark_nomap("], ['"fw_cma", &arm32']),
    ("4.4", ["memblock_remove(0x5d000000"], ["memblock_mark_nomap"]),
])
def test_platform_c_calls_follow_the_kernel_version(tmp_path: Path, version: str, present: list[str], absent: list[str]) -> None:
    source = (ROOT / "tests/emit/boards/arm32-platform.yaml").read_text().replace('version: "6.12"', f'version: "{version}"')
    if tuple(int(p) for p in version.split(".")) < (5, 10):
        source = source.replace("size: 1M, alignment: 64K, bank: high", "size: 1M, start: 0x9ff00000")
    board = tmp_path / "arm32-platform.yaml"
    board.write_text(source)
    result = _emit(board, tmp_path / "out", "--only", "c", "--include-root", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "arm32-platform-cma.c").read_text()
    flat = " ".join(text.split())  # fitted lines may break a call
    for piece in present:
        assert " ".join(piece.split()) in flat, (version, piece)
    for piece in absent:
        assert piece not in flat, (version, piece)
