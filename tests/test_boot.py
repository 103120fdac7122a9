"""`dtgen boot` without a kernel: the tree it composes (compiled by dtc and read back), the
images it recognises, and every way it refuses or gives up. A stand-in QEMU (a Python script)
plays the emulator where the behaviour under test is dtgen's, not the kernel's: what it does
with a tree dump, a log without a banner, a boot that never ends. Booting real kernels is
tests/test_boot_kernels.py."""

from __future__ import annotations

import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtgen import boot as plan
from dtgen.cli import main
from tests.support.realtools import need

ROOT = Path(__file__).resolve().parent.parent
BOARD = ROOT / "tests/boot/boards/virt-arm64-mixed.yaml"

# A small `virt`-like tree, as `dtc -O dts` prints QEMU's: the memory node and /chosen seeds.
VIRT = """/dts-v1/;

/ {
\tinterrupt-parent = <0x8002>;
\t#size-cells = <0x02>;
\t#address-cells = <0x02>;
\tcompatible = "linux,dummy-virt";

\tmemory@40000000 {
\t\treg = <0x00 0x40000000 0x00 0x80000000>;
\t\tdevice_type = "memory";
\t};

\tintc@8000000 {
\t\tphandle = <0x8002>;
\t\tinterrupt-controller;
\t\t#interrupt-cells = <0x03>;
\t\tcompatible = "arm,cortex-a15-gic";
\t\treg = <0x00 0x8000000 0x00 0x10000>;
\t};

\tchosen {
\t\tkaslr-seed = <0x1234 0x5678>;
\t\trng-seed = <0x1 0x2 0x3>;
\t\tstdout-path = "/pl011@9000000";
\t};
};
"""

FRAGMENT = """// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/delete-node/ &old_pool;

/ {
\treserved-memory {
\t\t#address-cells = <2>;
\t\t#size-cells = <2>;
\t\tranges;

\t\tpool: pool {
\t\t\tcompatible = "shared-dma-pool";
\t\t\tsize = <0x0 0x800000>;
\t\t\tno-map;
\t\t};
\t};
};

&vpu {
\tmemory-region = <&pool>;
};

&{/soc/isp@10000000} {
\tmemory-region = <&pool>;
};
"""


def _board():  # type: ignore[no-untyped-def]
    from dtgen.load import load

    def read(path: str) -> bytes:
        return Path(path).read_bytes()

    loaded = load(str(BOARD), read, str(ROOT), {})  # type: ignore[arg-type]
    assert loaded.board is not None, loaded.diagnostics
    return loaded.board


def _dtc(source: str, out: str = "dts") -> str:
    done = subprocess.run([need("dtc"), "-q", "-I", "dts", "-O", out, "-"], input=source.encode(),
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_the_tree_compiles_with_the_banks_stand_ins_and_no_seeds() -> None:
    board = plan.for_virt(_board())
    tree = _dtc(plan.tree_source(board, VIRT, FRAGMENT, 2048))
    # One bank that is all of QEMU's RAM: QEMU's own memory node says it.
    assert "linux,usable-memory-range" not in tree and tree.count("memory@") == 1
    assert "kaslr-seed" not in tree and "rng-seed" not in tree and "stdout-path" in tree
    # Stand-ins: the label the fragment deletes is gone again; the others exist, without compatible.
    assert "old-pool" not in tree
    assert "vpu {" in tree and "isp@10000000 {" in tree and "soc {" in tree
    assert tree.count("memory-region = <") == 2 and "pool {" in tree


def test_two_banks_go_in_the_usable_memory_range() -> None:
    from dataclasses import replace

    board = plan.for_virt(_board())
    first = board.banks[0]
    banks = (replace(first, name="high", base=0x100000000, size=1 << 30), replace(first, size=1 << 30))
    tree = _dtc(plan.tree_source(replace(board, banks=banks), VIRT, "", 5120))
    # The first range caps RAM and must hold the kernel: banks in address order.
    assert "linux,usable-memory-range = <0x00 0x40000000 0x00 0x40000000>, <0x01 0x00 0x00 0x40000000>;" in tree, tree
    # QEMU's memory node stays: QEMU writes its own anyway.
    assert tree.count("memory@") == 1


def test_image_headers() -> None:
    arm64 = bytearray(64)
    arm64[56:60] = b"ARMd"
    zimage = bytearray(64)
    zimage[0x24:0x28] = struct.pack("<I", 0x016F2818)
    assert plan.image_arch(bytes(arm64)) == "arm64"
    assert plan.image_arch(bytes(zimage)) == "arm"
    assert plan.image_arch(b"\x7fELF" + bytes(60)) is None
    assert plan.image_arch(b"") is None


def test_ram_for_the_banks() -> None:
    from dataclasses import replace

    board = _board()
    assert plan.ram_needed(board) == (2048, "")
    odd = replace(board, banks=(replace(board.banks[0], size=(1 << 30) + 4096),))
    assert plan.ram_needed(odd)[0] == 1025  # whole MiB, rounded up
    low = replace(board, banks=(replace(board.banks[0], base=0x20000000),))
    size, why = plan.ram_needed(low)
    assert size == 0 and "0x20000000" in why and "0x40000000" in why
    bank = board.banks[0]
    three = replace(board, banks=tuple(replace(bank, base=0x40000000 + i * (1 << 30), size=1 << 29) for i in range(3)))
    assert plan.ram_needed(three)[0] == 0 and "at most 2" in plan.ram_needed(three)[1]
    high = replace(board, banks=(replace(bank, base=0x80000000),))
    assert plan.ram_needed(high)[0] == 0 and "loads the kernel" in plan.ram_needed(high)[1]


def test_command_line_order() -> None:
    assert plan.kernel_command_line("cma=64M@0-0x80000000", ("memblock=debug",)) == (
        "console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1 cma=64M@0-0x80000000 memblock=debug")


# ---- the command, with a stand-in QEMU ------------------------------------------------------

FAKE_QEMU = """#!{python}
import os, sys, time
args = sys.argv[1:]
for a in args:
    if a.startswith("dumpdtb="):
        open(a.split("=", 1)[1], "wb").write(open({dtb!r}, "rb").read())
        sys.exit(0)
with open({record!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
mode = {mode!r}
if mode == "hang":
    print("[    0.000000] Booting Linux on physical CPU 0x0", flush=True)
    time.sleep(600)
if mode == "silent":
    print("qemu: could not load kernel", flush=True)
    sys.exit(1)
sys.stdout.write(open({log!r}).read())
"""


def _kernel_image(tmp_path: Path, arch: str = "arm64") -> Path:
    head = bytearray(64)
    if arch == "arm64":
        head[56:60] = b"ARMd"
    else:
        head[0x24:0x28] = struct.pack("<I", 0x016F2818)
    path = tmp_path / "Image"
    path.write_bytes(bytes(head))
    return path


def _fake_qemu(tmp_path: Path, mode: str, log: str = "") -> tuple[Path, Path]:
    dtb = tmp_path / "virt.dtb"
    dtb.write_bytes(subprocess.run([need("dtc"), "-q", "-I", "dts", "-O", "dtb", "-"], input=VIRT.encode(),
                                   capture_output=True, check=True).stdout)
    logfile = tmp_path / "canned.log"
    logfile.write_text(log)
    record = tmp_path / "argv.txt"
    script = tmp_path / "qemu-system-aarch64"
    script.write_text(FAKE_QEMU.format(python=sys.executable, dtb=str(dtb), record=str(record), mode=mode, log=str(logfile)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, record


def _boot(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["boot", str(BOARD), *args])


CANNED = """[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]
[    0.000000] Linux version 6.12.118 (test) #1 SMP
[    0.000000] OF: reserved mem: 0x000000006f000000..0x0000000070ffffff (32768 KiB) map reusable cam-cma
[    0.000000] OF: reserved mem: 0x00000000bf800000..0x00000000bfffffff (8192 KiB) nomap non-reusable vpu-pool
[    0.000000] OF: reserved mem: 0x0000000060000000..0x0000000060ffffff (16384 KiB) nomap non-reusable fw@60000000
[    0.000000] Kernel command line: console=ttyAMA0
"""


def test_the_qemu_command_and_the_comparison(tmp_path: Path) -> None:
    qemu, record = _fake_qemu(tmp_path, "log", CANNED)
    log = tmp_path / "out" / "serial.log"
    result = _boot("--kernel", str(_kernel_image(tmp_path)), "--qemu", str(qemu), "--log", str(log),
                   "--append", "memblock=debug", "--format", "json")
    import json

    data = json.loads(result.stdout)
    argv = record.read_text().split()
    assert argv[:4] == ["-M", "virt", "-cpu", "cortex-a57"] and "-m" in argv and argv[argv.index("-m") + 1] == "2048M"
    assert "-nic" in argv and "-no-reboot" in argv and argv[argv.index("-append") + 1].startswith("console=ttyAMA0")
    assert "memblock=debug" in argv
    assert log.read_text() == CANNED
    verdicts = {r["region"]: r["verdict"] for r in data["rows"]}
    assert verdicts["fw"] == verdicts["cam_cma"] == verdicts["vpu_pool"] == "matches"
    # The canned log has no `cma: Reserved` line for the Kconfig default area.
    assert verdicts["reserved"] == "missing" and result.exit_code == 1
    assert data["kernel"].startswith("Linux version 6.12.118") and data["ram_mib"] == 2048


def test_a_hung_kernel_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    qemu, _ = _fake_qemu(tmp_path, "hang")
    began = time.monotonic()
    result = _boot("--kernel", str(_kernel_image(tmp_path)), "--qemu", str(qemu), "--timeout", "2")
    assert time.monotonic() - began < 30
    # It printed a banner, then nothing: no reservation line is a finding, not a hang.
    assert result.exit_code == 1 and "missing" in result.stdout
    assert not _running(str(qemu)), "the stand-in QEMU is still running"


def _running(needle: str) -> list[str]:
    """Processes whose command line holds `needle` (from /proc: no pgrep needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(entry.name)
            except OSError:
                continue
    return found


def test_no_banner_is_a_tool_error(tmp_path: Path) -> None:
    qemu, _ = _fake_qemu(tmp_path, "silent")
    result = _boot("--kernel", str(_kernel_image(tmp_path)), "--qemu", str(qemu))
    assert result.exit_code == 2 and "printed no banner" in result.stderr and "could not load kernel" in result.stderr


@pytest.mark.parametrize("case, args, message", [
    ("arch", ["--kernel", "{zimage}"], "the board is arm64, the kernel is arm"),
    ("not-an-image", ["--kernel", "{junk}"], "not a kernel image dtgen knows"),
    ("no-kernel", ["--kernel", "{missing}"], "nope"),
    ("no-qemu", ["--kernel", "{image}", "--qemu", "{missing}"], "not found or not executable"),
    ("small-m", ["--kernel", "{image}", "-m", "1G"], "need 2048 MiB"),
    ("odd-m", ["--kernel", "{image}", "-m", "2049K"], "whole MiB"),
])
def test_refusals_exit_2(tmp_path: Path, case: str, args: list[str], message: str) -> None:
    (tmp_path / "z").mkdir()
    paths = {"zimage": str(_kernel_image(tmp_path / "z", "arm")), "image": str(_kernel_image(tmp_path)),
             "missing": str(tmp_path / "nope"), "junk": str(tmp_path / "junk")}
    (tmp_path / "junk").write_bytes(b"\x7fELF" + bytes(100))
    result = _boot(*[a.format(**paths) for a in args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_banks_outside_virt_ram_exit_2(tmp_path: Path) -> None:
    board = tmp_path / "low.yaml"
    board.write_text(BOARD.read_text().replace("base: 0x40000000", "base: 0x20000000")
                     .replace("start: 0x60000000", "start: 0x30000000").replace("start: 0x61000000", "start: 0x31000000"))
    result = CliRunner().invoke(main, ["boot", str(board), "--kernel", str(_kernel_image(tmp_path)),
                                       "--include-root", str(tmp_path)])
    assert result.exit_code == 2 and "[boot-memory]" in result.stderr, result.stderr
