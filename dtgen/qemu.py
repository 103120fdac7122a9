"""Running QEMU and dtc for `dtgen boot`: the processes, their time limits, their output.

Every run has a time limit and runs in its own process group, which is killed whole when the
limit passes or the caller is interrupted: a kernel that hangs never leaves QEMU behind. Tools
run with argument lists, never through a shell. Failures are `ToolFailure`s with a message for
the user; the CLI turns them into exit 2.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from dtgen.boot import Machine

DUMP_TIMEOUT = 30  # seconds: QEMU writes its tree and exits before running any guest code
DTC_TIMEOUT = 60


class ToolFailure(Exception):
    """A tool is missing, failed, or did not finish: the message says which and why."""


@dataclass(frozen=True)
class Run:
    output: str
    seconds: float
    timed_out: bool
    exit_code: int | None


def find(name: str, explicit: str | None = None) -> str:
    path = explicit or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        hint = {"dtc": "Debian: apt-get install device-tree-compiler",
                "qemu-system-aarch64": "Debian: apt-get install qemu-system-arm (it has qemu-system-aarch64)",
                "qemu-system-arm": "Debian: apt-get install qemu-system-arm"}.get(name, "")
        raise ToolFailure(f"{explicit or name}: not found or not executable" + (f" ({hint})" if hint else ""))
    return path


def run(argv: list[str], timeout: float, stdin: bytes | None = None) -> Run:
    """Run argv in its own process group; on timeout kill the group and return what it printed."""
    env = {**os.environ, "LC_ALL": "C"}
    began = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    except OSError as e:
        raise ToolFailure(f"cannot run {argv[0]}: {e.strerror or e}") from None
    timed_out = False
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        out, _ = proc.communicate()
    except BaseException:
        _kill(proc)
        proc.wait()
        raise
    text = out.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return Run(text, time.monotonic() - began, timed_out, None if timed_out else proc.returncode)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def dump_virt_tree(machine: Machine, qemu: str, ram_mib: int, workdir: str) -> bytes:
    """QEMU's own tree for `virt` with this CPU and RAM (`-machine dumpdtb=`)."""
    path = os.path.join(workdir, "virt.dtb")
    argv = [qemu, *machine.argv(ram_mib)[1:], "-machine", f"dumpdtb={path}"]
    done = run(argv, DUMP_TIMEOUT)
    if done.timed_out or not os.path.isfile(path):
        raise ToolFailure(f"{qemu} did not write its virt tree: {_last_line(done.output) or 'no output'}")
    with open(path, "rb") as f:
        return f.read()


def dtc(argv_tail: list[str], dtc_path: str, source: bytes) -> bytes:
    """dtc with the given arguments reading standard input, writing a blob to standard output."""
    with tempfile.TemporaryDirectory(prefix="dtgen-dtc-") as tmp:
        out = os.path.join(tmp, "out")
        done = run([dtc_path, *argv_tail, "-o", out, "-"], DTC_TIMEOUT, stdin=source)
        if done.timed_out or done.exit_code != 0 or not os.path.isfile(out):
            raise ToolFailure(f"dtc failed: {' '.join(done.output.split())[:800] or 'no output'}")
        with open(out, "rb") as f:
            return f.read()


def boot(machine: Machine, qemu: str, kernel: str, dtb_path: str, ram_mib: int, append: str,
         timeout: float, initrd: str | None = None) -> Run:
    argv = [qemu, *machine.argv(ram_mib)[1:], "-kernel", kernel, "-dtb", dtb_path, "-append", append]
    if initrd:
        argv += ["-initrd", initrd]
    return run(argv, timeout)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
