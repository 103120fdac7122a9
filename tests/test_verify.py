"""`dtgen verify --dmesg`: a boot log against the prediction. The base log
(tests/verify/odroid-u3-6.12.log, written from the kernel's format strings) matches the
ODROID-U3 prediction; each other case changes one fact in it and must be reported as such."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen.cli import main
from dtgen.verify import parse_log

ROOT = Path(__file__).resolve().parent.parent
BOARD = "boards/exynos4412-odroidu3.yaml"
LOG = (ROOT / "tests/verify/odroid-u3-6.12.log").read_text()


def _verify(tmp_path: Path, text: str | bytes, *extra: str):  # type: ignore[no-untyped-def]
    log = tmp_path / "boot.log"
    log.write_bytes(text if isinstance(text, bytes) else text.encode())
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        return CliRunner().invoke(main, ["verify", BOARD, "--dmesg", str(log), *extra])
    finally:
        os.chdir(here)


def _rows(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {r["region"]: r for r in json.loads(result.stdout)["rows"]}


def test_the_matching_log(tmp_path: Path) -> None:
    result = _verify(tmp_path, LOG, "--format", "json")
    assert result.exit_code == 0, result.stdout
    rows = _rows(result)
    assert {name: r["verdict"] for name, r in rows.items()} == {
        "mfc_left": "matches", "mfc_right": "matches", "gfx": "matches", "reserved": "matches"}
    assert rows["mfc_left"]["actual"] == {"name": "region-mfc-left", "start": 0xBDB00000, "size": 36 << 20,
                                          "exact": True, "line": 8, "from": "table"}
    assert rows["reserved"]["actual"]["exact"] is False  # `cma: Reserved` gives whole MiB only


def test_a_moved_region(tmp_path: Path) -> None:
    text = LOG.replace("0xbb000000..0xbcffffff (32768 KiB) map reusable gfx",
                       "0xb9000000..0xbaffffff (32768 KiB) map reusable gfx")
    result = _verify(tmp_path, text)
    assert result.exit_code == 1
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("gfx "))
    assert "0xbb000000 32 MiB" in line and "0xb9000000 32 MiB" in line and line.endswith("moved")
    assert result.stdout.rstrip().endswith("1 difference")


def test_a_missing_region_names_the_kernel_line(tmp_path: Path) -> None:
    lines = [ln for ln in LOG.splitlines() if "gfx" not in ln and "CMA memory pool" not in ln]
    lines.insert(5, "[    0.000000] OF: reserved mem: failed to allocate memory for node 'gfx': size 32 MiB")
    result = _verify(tmp_path, "\n".join(lines) + "\n", "--format", "json")
    assert result.exit_code == 1
    gfx = _rows(result)["gfx"]
    assert gfx["verdict"] == "missing" and "could not allocate `gfx`" in gfx["note"] and ":6)" in gfx["note"]


def test_a_firmware_node_is_unexpected_and_explained(tmp_path: Path) -> None:
    text = LOG.replace("[    0.000000] cma: Reserved",
                       "[    0.000000] OF: reserved mem: 0xbe000000..0xbe3fffff (4096 KiB) nomap non-reusable optee_core@be000000\n"
                       "[    0.000000] cma: Reserved")
    result = _verify(tmp_path, text, "--format", "json")
    assert result.exit_code == 1
    row = _rows(result)["optee_core@be000000"]
    assert row["verdict"] == "unexpected" and "firmware node" in row["note"]


def test_ram_changed_by_the_efi_stub_is_said(tmp_path: Path) -> None:
    text = LOG.replace("0x00000000bfefffff]\n[    0.000000] Initmem", "0x00000000bdffffff]\n[    0.000000] Initmem")
    text = text.replace("[    0.000000] Memory policy", "[    0.000000] efi: EFI v2.10 by Das U-Boot\n[    0.000000] Memory policy")
    result = _verify(tmp_path, text, "--format", "json")
    notes = json.loads(result.stdout)["notes"]
    assert any("EFI stub replaced /memory" in n and "0x40000000..0xbdffffff" in n for n in notes), notes


def test_a_cma_argument_the_board_lacks_is_said(tmp_path: Path) -> None:
    text = LOG.replace("rootwait", "rootwait cma=128M")
    notes = json.loads(_verify(tmp_path, text, "--format", "json").stdout)["notes"]
    assert any("`cma=128M`" in n for n in notes)


def test_a_log_without_the_summary_lines(tmp_path: Path) -> None:
    """Before 6.3 only the handlers' lines exist: sizes in whole MiB, still matched."""
    text = "\n".join(ln for ln in LOG.splitlines() if "KiB)" not in ln) + "\n"
    result = _verify(tmp_path, text, "--format", "json")
    assert result.exit_code == 0, result.stdout
    assert _rows(result)["mfc_left"]["actual"]["from"] == "DMA pool"


def test_an_empty_log_is_a_finding_with_advice(tmp_path: Path) -> None:
    result = _verify(tmp_path, "[    0.000000] Booting Linux\n")
    assert result.exit_code == 1 and "ring buffer" in result.stdout


@pytest.mark.parametrize("data", [b"\x00\x01binary", None], ids=["binary", "missing"])
def test_unreadable_logs_exit_2(tmp_path: Path, data: bytes | None) -> None:
    if data is None:
        result = CliRunner().invoke(main, ["verify", str(ROOT / BOARD), "--dmesg", str(tmp_path / "nope.log")])
    else:
        result = _verify(tmp_path, data)
    assert result.exit_code == 2 and "[io-error]" in result.stderr and "Traceback" not in result.stderr


def test_prefixes_and_levels_are_ignored() -> None:
    journal = "Nov 25 10:00:00 odroid kernel: <6>OF: reserved mem: 0xbd300000..0xbdafffff (8192 KiB) nomap non-reusable region-mfc-right"
    (seen,) = parse_log(journal).seen
    assert (seen.name, seen.start, seen.size) == ("region-mfc-right", 0xBD300000, 8 << 20)


def test_any_text_parses_without_error() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    fragments = st.sampled_from(["OF: reserved mem: ", "0x", "..", " (", " KiB) ", "nomap ", "reusable ", "cma: Reserved ",
                                 " MiB at ", "node 0: [mem ", "-", "]", "initialized node ", ", compatible id ",
                                 "Reserved memory: created CMA memory pool at ", ", size ", "\n", "ffff", "12", "'"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(fragments, st.text(max_size=5)), max_size=40))
    def run(parts: list[str]) -> None:
        parse_log("".join(parts))

    run()


def _without_gfx() -> list[str]:
    return [ln for ln in LOG.splitlines() if "gfx" not in ln and "CMA memory pool" not in ln]


def test_dropped_messages_make_absent_regions_unseen_not_missing(tmp_path: Path) -> None:
    lines = _without_gfx()
    lines.insert(6, "[    0.000000] ** 12 printk messages dropped **")
    result = _verify(tmp_path, "\n".join(lines) + "\n", "--format", "json")
    assert result.exit_code == 0, result.stdout
    data = json.loads(result.stdout)
    gfx = next(r for r in data["rows"] if r["region"] == "gfx")
    assert gfx["verdict"] == "unseen" and "incomplete" in gfx["note"]
    assert any("dropped 12 messages at line 7" in n for n in data["notes"]), data["notes"]


def test_a_log_that_lost_its_start_is_incomplete(tmp_path: Path) -> None:
    lines = [ln for ln in _without_gfx() if "Booting Linux" not in ln and "Linux version" not in ln]
    data = json.loads(_verify(tmp_path, "\n".join(lines) + "\n", "--format", "json").stdout)
    assert {r["region"]: r["verdict"] for r in data["rows"]}["gfx"] == "unseen"
    assert any("does not start at the kernel's banner" in n for n in data["notes"])
    # The same log with its banner: the region is missing.
    complete = _verify(tmp_path, "\n".join(_without_gfx()) + "\n", "--format", "json")
    assert complete.exit_code == 1 and _rows(complete)["gfx"]["verdict"] == "missing"


def test_an_area_the_kernel_could_not_activate(tmp_path: Path) -> None:
    text = LOG.replace("[    0.000000] Kernel command line",
                       "[    0.000000] cma: CMA area gfx could not be activated\n[    0.000000] Kernel command line")
    result = _verify(tmp_path, text, "--format", "json")
    assert result.exit_code == 1
    gfx = _rows(result)["gfx"]
    # gfx lies in highmem, inside one zone: the prediction was an active area.
    assert gfx["verdict"] == "inactive" and "could not activate" in gfx["note"] and ":23)" in gfx["note"]


def test_a_node_no_handler_accepted_names_the_reason(tmp_path: Path) -> None:
    lines = _without_gfx()
    lines[8:8] = ["[    0.000000] Reserved memory: incorrect alignment of CMA region",
                  "[    0.000000] OF: reserved mem: node gfx compatible matching fail"]
    result = _verify(tmp_path, "\n".join(lines) + "\n", "--format", "json")
    assert result.exit_code == 1
    gfx = _rows(result)["gfx"]
    assert gfx["verdict"] == "refused" and ":10)" in gfx["note"] and "minimum alignment" in gfx["note"]


def test_the_cma_argument_location_is_a_line(tmp_path: Path) -> None:
    text = LOG.replace("rootwait", "rootwait cma=128M").replace(
        "[    0.000000] Zone ranges:", "[    0.000000] cma: Reserved 128 MiB at 0x0000000078000000 on node -1\n[    0.000000] Zone ranges:")
    data = json.loads(_verify(tmp_path, text, "--format", "json").stdout)
    unnamed = next(r for r in data["rows"] if r["region"] == "(unnamed CMA area)")
    assert "`cma=128M`" in unnamed["note"] and "boot.log:" in unnamed["note"]
    assert all("node lines" not in n for n in data["notes"])


# ---- logs real kernels printed (tests/verify/qemu/README.md) ---------------------------------

QEMU_LOGS = ROOT / "tests/verify/qemu"


def _verify_real(name: str):  # type: ignore[no-untyped-def]
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        return CliRunner().invoke(main, ["verify", f"tests/verify/qemu/{name}.yaml", "--dmesg",
                                         f"tests/verify/qemu/{name}.log", "--format", "json"])
    finally:
        os.chdir(here)


@pytest.mark.parametrize("name", ["cloud-arm64-mixed", "minimal-stack-and-ranges"])
def test_real_logs_match(name: str) -> None:
    result = _verify_real(name)
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = _rows(result)
    assert rows and all(r["verdict"] == "matches" for r in rows.values()), rows
    # The Kconfig area is in the log as `cma: Reserved`, matched by address.
    assert rows["reserved"]["actual"]["from"] == "cma"


def test_the_real_inactive_area_is_the_predicted_one() -> None:
    result = _verify_real("armmp-lowmem-highmem")
    # Exit 1: the zone-straddle error stands; the log confirms it rather than contradicting it.
    assert result.exit_code == 1 and "[zone-straddle]" in result.stderr
    rows = _rows(result)
    assert all(r["verdict"] == "matches" for r in rows.values()), rows
    assert "could not activate" in rows["cam_cma"]["note"] and "as predicted" in rows["cam_cma"]["note"]


def test_the_real_cma_bypass() -> None:
    result = _verify_real("minimal-cma-bypass")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    rows = {r["region"]: r for r in data["rows"]}
    assert rows["linux_cma"]["verdict"] == "bypassed"
    assert "`cma=32M`" in rows["linux_cma"]["note"] and "minimal-cma-bypass.log:6)" in rows["linux_cma"]["note"]
    assert rows["(unnamed CMA area)"]["verdict"] == "unexpected" and "`cma=32M`" in rows["(unnamed CMA area)"]["note"]
    assert all(r["verdict"] == "matches" for n, r in rows.items() if n not in ("linux_cma", "(unnamed CMA area)"))
    assert not any("node lines" in n for n in data["notes"])


def test_a_static_node_the_kernel_did_not_reserve(tmp_path: Path) -> None:
    # The 6.12 format of __reserved_mem_reserve_reg()'s pr_err, with the OF prefix.
    lines = [ln for ln in LOG.splitlines() if "region-mfc-right" not in ln and "size 8 MiB" not in ln]
    lines.insert(6, "[    0.000000] OF: reserved mem: Reserved memory: failed to reserve memory for node "
                    "'region-mfc-right': base 0x00000000bd300000, size 8 MiB")
    result = _verify(tmp_path, "\n".join(lines) + "\n", "--format", "json")
    row = _rows(result)["mfc_right"]
    assert result.exit_code == 1 and row["verdict"] == "refused"
    assert "did not reserve `region-mfc-right`" in row["note"] and "-EBUSY" in row["note"] and ":7)" in row["note"]
