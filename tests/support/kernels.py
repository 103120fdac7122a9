"""The QEMU proving ground's kernels (issue 16): real Linux 6.12 kernels, provisioned by the
project's own files, and QEMU to boot them.

- `minimal_arm64()`: built from Debian's linux-source-6.12 tree (realtools.kernel_tree()):
  `allnoconfig`, the committed fragment tests/kernel/minimal-arm64.config merged with
  scripts/kconfig/merge_config.sh, `olddefconfig`, then `make Image` only, through ccache when it
  is installed. Every line of the fragment is checked in the final .config.
- `replay_arm64(files)`: the minimal kernel with the scenario replay driver
  (tests/kernel/replay/) and the replayed boards' generated helpers built in (issue 20), from the
  same build directory: only those objects are compiled and vmlinux linked again.
- `debian("cloud-arm64")`, `debian("armmp-lpae")`: Debian's prebuilt kernels, fetched with apt's
  ordinary client through a private APT_CONFIG (its own sources, lists, state and cache under the
  kernel cache; the machine's Debian mirrors and suites, with the foreign architecture), never
  `dpkg --add-architecture` or any change to the machine's apt state; /boot's image and config are
  extracted with `dpkg-deb -x`.
- `boot(kernel, ...)`: one QEMU `virt` boot, its serial log returned; a time limit, after which
  QEMU's process group is killed. No QEMU outlives the call.

Results are cached outside the repository (they outlive checkouts: CI runs in a fresh clone) in
`$DTGEN_KERNEL_CACHE`, else ~/.cache/dtgen/kernels: one directory per kernel and key, made under
another name and renamed when complete, under a file lock. A missing tool, tarball or network
skips the test with the reason, and fails it under CI=true (realtools.need()).

`python -m tests.support.kernels [--minimal] [--debian] [--replay] [--all]` provisions them (all by default) and
prints one line per kernel: what scripts/test runs as root before the tests, so that a cold build
shows in CI's log as itself rather than as one slow test.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support import realtools
from tests.support.realtools import ToolError, need

FRAGMENT = Path(__file__).resolve().parent.parent / "kernel" / "minimal-arm64.config"
SERIES = realtools.KERNEL_PACKAGE.rsplit("-", 1)[1]  # "6.12"
# Part of every cache key: bump it when a build or extraction step below changes.
RECIPE = "1"

# Kernel architecture -> (QEMU binary, CPU for -M virt, Debian architecture, cross compiler prefix).
ARCHES: dict[str, tuple[str, str, str, str]] = {
    "arm64": ("qemu-system-aarch64", "cortex-a57", "arm64", "aarch64-linux-gnu-"),
    "arm": ("qemu-system-arm", "cortex-a15", "armhf", "arm-linux-gnueabihf-"),
}
# Debian flavour -> kernel architecture.
FLAVOURS: dict[str, str] = {"cloud-arm64": "arm64", "armmp-lpae": "arm"}

# `earlycon=pl011,0x9000000`, not bare `earlycon`: on a kernel with ACPI (Debian's) bare earlycon
# starts from the tree's stdout-path too late, and the reservation lines are lost. panic=-1:
# the kernel reboots at once when it finds no root file system, and -no-reboot ends QEMU then.
DEFAULT_APPEND = "console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1"

# Time limits, in seconds (cold, on 2 loaded cores: the minimal build takes 4-6 min there).
T_CONFIG = 300
T_BUILD = 2400
T_APT = 600
T_EXTRACT = 300
T_BOOT = 120  # measured: ~1 s minimal, 2-3 s Debian arm64, 6-8 s ARM32
T_QUICK = 30
LISTS_FRESH = 6 * 3600  # the private apt lists are refreshed when older than this
APT_RETRIES = 3  # apt's own default, with its back-off (7 s in all when the mirror refuses)

_MEMO: dict[object, object] = {}


@dataclass(frozen=True)
class Kernel:
    """A kernel QEMU can boot: its image (arm64 `Image`, ARM32 `zImage`) and .config."""

    arch: str  # "arm64" | "arm"
    name: str  # "minimal" | "cloud-arm64" | "armmp-lpae"
    image: Path
    config: Path
    version: str  # the stable release, "6.12.118"


# --------------------------------------------------------------------------------------------
# Running, locking, the cache


def _say(message: str) -> None:
    """Progress, only before a slow step (a build, a download): quiet when all is cached."""
    print(f"tests.support.kernels: {message}", file=sys.stderr, flush=True)


class _Finished(NamedTuple):
    code: int | None  # None: killed at the time limit
    stdout: bytes
    stderr: bytes
    pid: int


def _spawn(
    argv: Sequence[str | Path],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> _Finished:
    """Run a command in its own process group, to its end or the time limit. The whole group is
    killed on the time limit and on any exception (an interrupt, say), so that neither make's
    compilers nor QEMU outlive the call."""
    proc = subprocess.Popen(
        [str(a) for a in argv], cwd=cwd, env=dict(env) if env is not None else realtools._env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
            return _Finished(proc.returncode, out, err, proc.pid)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=T_QUICK)  # what it printed before it was killed
            except subprocess.TimeoutExpired:  # a process that left the group holds the pipe
                out, err = b"", b""
            return _Finished(None, out, err, proc.pid)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run(
    argv: Sequence[str | Path],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """A tool's stdout; ToolError (with the end of its output) on failure or the time limit."""
    code, out, err, _pid = _spawn(argv, timeout=timeout, env=env, cwd=cwd)
    text, errors = out.decode(errors="replace"), err.decode(errors="replace")
    command = " ".join(str(a) for a in argv)
    if code is None or code != 0:
        what = f"timed out after {timeout:.0f} s" if code is None else f"exit {code}"
        raise ToolError(f"{what}: {command}\n{realtools._tail(text)}{realtools._tail(errors)}")
    return text


def cache_root() -> Path:
    """$DTGEN_KERNEL_CACHE, else ~/.cache/dtgen/kernels: outside the repository, so that a fresh
    clone (CI's) finds the kernels built or fetched before."""
    configured = os.environ.get("DTGEN_KERNEL_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "dtgen" / "kernels"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _locked(name: str) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock over this cache, shared by every process."""
    return realtools.lock_in(cache_root(), name)


def _entry(arch: str, name: str, folder: Path) -> Kernel:
    """The Kernel a complete cache entry holds (image, config, version: written by _store)."""
    image = folder / ("Image" if arch == "arm64" else "zImage")
    return Kernel(arch, name, image, folder / "config", (folder / "version").read_text().strip())


def _store(folder: Path, arch: str, image: bytes, config: Path, version: str) -> None:
    """Write a cache entry in a scratch directory and rename it into place: an entry exists only
    once complete, whoever was killed half-way."""
    made_for = config_version(config.read_text(errors="replace"))
    if made_for != version:
        raise ToolError(f"{config}: a configuration for {made_for}, not {version}")
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))
    try:
        partial.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        (partial / ("Image" if arch == "arm64" else "zImage")).write_bytes(_bootable(arch, image))
        shutil.copyfile(config, partial / "config")
        (partial / "version").write_text(version + "\n")
        os.rename(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _bootable(arch: str, image: bytes) -> bytes:
    """The image as QEMU 7.2's -kernel takes it: an arm64 Image uncompressed (QEMU reads a
    gzip-compressed Image.gz only from 8.x on; Debian's vmlinuz may be one), checked by its
    header magic (arm64: "ARM\\x64" at 56; ARM32 zImage: 0x016f2818 at 0x24)."""
    if arch == "arm64":
        if image[:2] == b"\x1f\x8b":
            image = gzip.decompress(image)
        if image[56:60] != b"ARM\x64":
            raise ToolError("not an arm64 Image (no ARM\\x64 magic at offset 56)")
    elif len(image) < 0x28 or struct.unpack_from("<I", image, 0x24)[0] != 0x016F2818:
        raise ToolError("not an ARM zImage (no 0x016f2818 magic at offset 0x24)")
    return image


_CONFIG_VERSION = re.compile(r"^# Linux/\S+ (\S+) Kernel Configuration$", re.M)


def config_version(config: str) -> str | None:
    """The release a .config was made for, from its header (`# Linux/arm64 6.12.118 Kernel
    Configuration`)."""
    found = _CONFIG_VERSION.search(config)
    return found.group(1) if found else None


def _source_version() -> str | None:
    """The installed linux-source-6.12 package's version (None with another tarball)."""
    if "source-version" not in _MEMO:
        version = None
        if shutil.which("dpkg-query") is not None:
            with contextlib.suppress(ToolError):
                query = ["dpkg-query", "-W", "-f=${Version}", realtools.KERNEL_PACKAGE]
                version = _run(query, timeout=T_QUICK).strip()
        _MEMO["source-version"] = version or None
    return _MEMO["source-version"]  # type: ignore[return-value]


def _upstream(debian_version: str) -> str:
    """The kernel release of a Debian package version: 6.12.118 of 6.12.118-1~deb12u1."""
    return debian_version.split(":", 1)[-1].split("-", 1)[0]


# --------------------------------------------------------------------------------------------
# QEMU


def qemu(arch: str) -> Path:
    """qemu-system-aarch64 or qemu-system-arm (Debian's qemu-system-arm has both)."""
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}: one of {sorted(ARCHES)}")
    return Path(need(ARCHES[arch][0]))


class BootError(ToolError):
    """QEMU failed, or was killed at the time limit; `log` is the serial output until then,
    `pid` the process QEMU was (gone by now)."""

    def __init__(self, message: str, log: str, pid: int) -> None:
        super().__init__(message)
        self.log = log
        self.pid = pid


def boot(
    kernel: Kernel,
    dtb: Path | None = None,
    memory: str = "2G",
    append: str = DEFAULT_APPEND,
    initrd: Path | None = None,
    timeout: float = T_BOOT,
) -> str:
    """Boot `kernel` on QEMU's `virt` machine (QEMU's own tree unless `dtb`), and return the
    serial log once QEMU exits (a panic with panic=-1 under -no-reboot, or a poweroff). Raises
    BootError, carrying the log so far, if QEMU fails or is still running after `timeout`
    seconds (its process group is killed then). `-nic none`: scripts/test installs QEMU without
    recommends, so without the network ROMs the default NIC needs."""
    binary, cpu = qemu(kernel.arch), ARCHES[kernel.arch][1]
    argv: list[str | Path] = [
        binary, "-M", "virt", "-cpu", cpu, "-m", memory, "-nographic", "-nic", "none", "-no-reboot",
        "-display", "none", "-kernel", kernel.image, "-append", append,
    ]
    if dtb is not None:
        argv += ["-dtb", dtb]
    if initrd is not None:
        argv += ["-initrd", initrd]
    code, out, err, pid = _spawn(argv, timeout=timeout)
    log = out.decode(errors="replace").replace("\r\n", "\n")
    if code is None:
        message = f"QEMU still running after {timeout:.0f} s, killed\n{realtools._tail(log, 20)}"
        raise BootError(f"{kernel.name}: {message}", log, pid)
    if code != 0:
        raise BootError(f"{kernel.name}: QEMU exit {code}: {err.decode(errors='replace').strip()}", log, pid)
    return log


# --------------------------------------------------------------------------------------------
# The minimal arm64 kernel


_FRAGMENT_LINE = re.compile(r"^(CONFIG_\w+)=(.*)$|^# (CONFIG_\w+) is not set$")


def config_options(text: str) -> dict[str, str]:
    """A .config or fragment as {CONFIG_X: value}; `# CONFIG_X is not set` is "n"."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        found = _FRAGMENT_LINE.match(line.strip())
        if found:
            if found.group(1):
                options[found.group(1)] = found.group(2)
            else:
                options[found.group(3)] = "n"
    return options


def unmet_options(fragment: str, config: str) -> list[str]:
    """What the fragment asks for that the final .config does not have (Kconfig drops a symbol
    whose dependencies are unmet, silently): `CONFIG_X=y (got n)` per option."""
    final = config_options(config)
    return [
        f"{name}={wanted} (got {final.get(name, 'n')})"
        for name, wanted in config_options(fragment).items()
        if final.get(name, "n") != wanted
    ]


def minimal_arm64() -> Kernel:
    """The minimal arm64 kernel built from linux-source-6.12 with tests/kernel/minimal-arm64.config;
    cached per source package version (and tarball), fragment, cross compiler and binutils."""
    if "minimal" in _MEMO:
        return _MEMO["minimal"]  # type: ignore[return-value]
    cross = ARCHES["arm64"][3]
    for tool in ("make", "gcc", cross + "gcc", cross + "ld", "bison", "flex", "bc"):
        need(tool)
    key = realtools._key(
        RECIPE, _source_version(), realtools._tarball_key(), hashlib.sha256(FRAGMENT.read_bytes()).hexdigest(),
        realtools._tool_version(cross + "gcc"), realtools._tool_version(cross + "ld"),
    )
    root = cache_root()
    folder = root / f"minimal-arm64-{key}"
    with _locked("minimal-arm64"):
        if not folder.is_dir():
            realtools._prune(root, "minimal-arm64-", keep=folder.name)
            started = time.monotonic()
            tree = realtools.kernel_tree()  # unpacked only to build: a cached kernel needs no tree
            ccache = _ccache() or "not installed"
            _say(f"building the minimal arm64 kernel (4-6 min on 2 cores; under a minute with ccache warm: {ccache})")
            with realtools._locked("minimal-arm64-obj"):  # its build directory is in the tree
                image, config, version = _build_minimal(tree, cross)
            _store(folder, "arm64", image, config, version)
            _say(f"built in {time.monotonic() - started:.0f} s")
    kernel = _entry("arm64", "minimal", realtools._used(folder))
    _MEMO["minimal"] = kernel
    return kernel


def _ccache() -> str | None:
    return shutil.which("ccache")


def _build_minimal(tree: Path, cross: str) -> tuple[bytes, Path, str]:
    """allnoconfig + fragment + olddefconfig, then `make Image`; (Image, .config, version).

    The build directory (O=) is kept, for an incremental build when the fragment changes, and it
    sits directly inside the source tree: kbuild then names the tree `..` in every command and
    preprocessor line, so ccache's entries hold no absolute path and a fresh clone elsewhere (CI)
    hits them too. It lives and is pruned with the tree."""
    obj = tree / ".dtgen-minimal-arm64"
    obj.mkdir(exist_ok=True)
    ccache = _ccache()
    extra = {
        # The banner's user, host, build number and date: the same Image from the same inputs.
        "KBUILD_BUILD_USER": "dtgen",
        "KBUILD_BUILD_HOST": "dtgen",
        "KBUILD_BUILD_VERSION": "1",
        "KBUILD_BUILD_TIMESTAMP": time.strftime(
            "%a %b %d %H:%M:%S UTC %Y", time.gmtime(realtools.KERNEL_TARBALL.stat().st_mtime)
        ),
    }
    if ccache:
        extra.update({"CCACHE_DIR": str(cache_root() / "ccache"), "CCACHE_MAXSIZE": "2G"})
    env = realtools._env(extra)
    make: list[str | Path] = ["make", "-C", tree, f"O={obj}", "ARCH=arm64", f"CROSS_COMPILE={cross}", "-s"]
    if ccache:
        make.append(f"CC={ccache} {cross}gcc")  # in every step: kconfig records CC, reconfigures on a change
    try:
        _run([*make, "allnoconfig"], timeout=T_CONFIG, env=env)
        # merge_config.sh writes its temporary files into the current directory.
        _run([tree / "scripts" / "kconfig" / "merge_config.sh", "-m", "-O", obj, obj / ".config", FRAGMENT],
             timeout=T_CONFIG, env=env, cwd=obj)
        _run([*make, "olddefconfig"], timeout=T_CONFIG, env=env)
        unmet = unmet_options(FRAGMENT.read_text(), (obj / ".config").read_text())
        if not unmet:
            _run([*make, f"-j{os.cpu_count() or 1}", "Image"], timeout=T_BUILD, env=env)
            version = _run([*make, "--no-print-directory", "kernelversion"], timeout=T_CONFIG, env=env).strip()
    except ToolError:
        # A build directory a failure (or the time limit's kill) left may be inconsistent: the
        # next try starts from scratch, which ccache makes cheap.
        shutil.rmtree(obj, ignore_errors=True)
        raise
    if unmet:
        raise ToolError(
            f"{FRAGMENT}: Kconfig did not keep {', '.join(unmet)} in {obj / '.config'} "
            "(a dependency is not met: enable it in the fragment too)"
        )
    return (obj / "arch" / "arm64" / "boot" / "Image").read_bytes(), obj / ".config", version


REPLAY_SOURCES = Path(__file__).resolve().parent.parent / "kernel" / "replay"
REPLAY_DIR = "dtgen_replay"  # in the source tree, as kbuild needs; linked in with drivers-y=
REPLAY_RECIPE = "2"  # part of the replay kernel's key: bump it when _build_replay() changes


def replay_arm64(generated: Mapping[str, str]) -> Kernel:
    """The minimal kernel with the scenario replay driver built in (tests/kernel/replay/, and
    `generated`: {file name: text}, the replayed boards' helper files and their table): the same
    configuration and build directory as minimal_arm64(), so that only the new objects are
    compiled and vmlinux linked again. kbuild links a directory in only when a Makefile names it:
    `drivers-y=dtgen_replay/` on make's command line adds it to the top Makefile's drivers-y, which
    arm64's Makefile leaves empty. Cached per minimal kernel key and every source's text."""
    memo = ("replay", tuple(sorted(generated.items())))
    if memo in _MEMO:
        return _MEMO[memo]  # type: ignore[return-value]
    minimal = minimal_arm64()
    files = {p.name: p.read_text() for p in sorted(REPLAY_SOURCES.iterdir()) if p.suffix in (".c", ".h")}
    clash = set(files) & set(generated)
    if clash:
        raise ValueError(f"generated files named like the driver's: {sorted(clash)}")
    files.update(generated)
    for name in files:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.[ch]", name):
            raise ValueError(f"{name!r}: a plain .c or .h file name")
    key = realtools._key(RECIPE, REPLAY_RECIPE, minimal.image.parent.name, *(f"{n}\0{t}" for n, t in sorted(files.items())))
    root = cache_root()
    folder = root / f"replay-arm64-{key}"
    cross = ARCHES["arm64"][3]
    with _locked("replay-arm64"):
        if not folder.is_dir():
            realtools._prune(root, "replay-arm64-", keep=folder.name)
            started = time.monotonic()
            tree = realtools.kernel_tree()
            _say("building the replay kernel (the minimal build directory, the replay driver and the boards' helpers)")
            with realtools._locked("minimal-arm64-obj"):
                obj = tree / ".dtgen-minimal-arm64"
                if not (obj / "vmlinux").is_file():
                    _build_minimal(tree, cross)  # a fresh tree: configure and build it first (ccache helps)
                image, config, version = _build_replay(tree, obj, cross, files, minimal.config)
            _store(folder, "arm64", image, config, version)
            _say(f"built in {time.monotonic() - started:.0f} s")
    kernel = Kernel("arm64", "replay", realtools._used(folder) / "Image", folder / "config",
                    (folder / "version").read_text().strip())
    _MEMO[memo] = kernel
    return kernel


def _build_replay(tree: Path, obj: Path, cross: str, files: Mapping[str, str], config: Path) -> tuple[bytes, Path, str]:
    """`make Image` with the replay directory linked in, on the minimal kernel's very .config (the
    build directory may hold another one: an interrupted or older build)."""
    source = tree / REPLAY_DIR
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir()
    try:
        for name, text in files.items():
            (source / name).write_text(text)
        objects = " ".join(n[:-2] + ".o" for n in sorted(files) if n.endswith(".c"))
        # -Werror for these objects only: flags on make's command line would rebuild the tree.
        (source / "Makefile").write_text(f"# SPDX-License-Identifier: GPL-2.0\nccflags-y += -Werror\nobj-y += {objects}\n")
        env = realtools._env({"KBUILD_BUILD_USER": "dtgen", "KBUILD_BUILD_HOST": "dtgen", "KBUILD_BUILD_VERSION": "1",
                              "KBUILD_BUILD_TIMESTAMP": time.strftime(
                                  "%a %b %d %H:%M:%S UTC %Y", time.gmtime(realtools.KERNEL_TARBALL.stat().st_mtime))})
        make: list[str | Path] = ["make", "-C", tree, f"O={obj}", "ARCH=arm64", f"CROSS_COMPILE={cross}", "-s"]
        if _ccache():
            env.update({"CCACHE_DIR": str(cache_root() / "ccache"), "CCACHE_MAXSIZE": "2G"})
            make.append(f"CC={_ccache()} {cross}gcc")
        if (obj / ".config").read_text() != config.read_text():
            shutil.copyfile(config, obj / ".config")
            _run([*make, "olddefconfig"], timeout=T_CONFIG, env=env)
        _run([*make, f"-j{os.cpu_count() or 1}", f"drivers-y={REPLAY_DIR}/", "Image"],
             timeout=T_BUILD, env=env)
        if (obj / ".config").read_text() != config.read_text():
            raise ToolError(f"{obj / '.config'}: not the minimal kernel's configuration after the replay build")
        version = _run([*make, "--no-print-directory", "kernelversion"], timeout=T_CONFIG, env=env).strip()
        return (obj / "arch" / "arm64" / "boot" / "Image").read_bytes(), obj / ".config", version
    finally:
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(obj / REPLAY_DIR, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Debian's prebuilt kernels, through a private apt configuration


@dataclass(frozen=True)
class AptSource:
    """One Debian entry of the machine's apt sources, as deb822 fields (Signed-By verbatim:
    a path, or an inline key over several lines)."""

    uris: str
    suites: str
    signed_by: str | None = None
    trusted: str | None = None


_DEBIAN_ARCHIVES = ("debian", "debian-security")


def debian_sources(files: Iterable[tuple[str, str]]) -> list[AptSource]:
    """The machine's Debian archive entries with their main component, from (file name, text)
    pairs of sources.list (one-line format) and sources.list.d/*.sources (deb822). An entry is
    Debian's when its URI's path ends in /debian or /debian-security (any mirror or proxy), or
    it is signed by the Debian archive keyring; deb-src, disabled and third-party entries
    (nodesource, cloud SDKs) are left out."""
    found: list[AptSource] = []
    for name, text in files:
        if name.endswith(".sources"):
            for stanza in _deb822_stanzas(text):
                if "deb" not in stanza.get("types", "").split() or stanza.get("enabled", "yes").lower() == "no":
                    continue
                if "main" not in stanza.get("components", "").split():
                    continue
                source = AptSource(
                    stanza.get("uris", ""), stanza.get("suites", ""), stanza.get("signed-by"), stanza.get("trusted")
                )
                if source.uris and source.suites and _is_debian(source):
                    found.append(source)
        else:
            for line in text.splitlines():
                source = _one_line_source(line)
                if source is not None and _is_debian(source):
                    found.append(source)
    return list(dict.fromkeys(found))  # an entry listed twice would make apt warn


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, field = {}, ""
        elif line[0] in " \t" and field:
            current[field] += "\n" + line  # a continuation line (an inline Signed-By key)
        elif ":" in line:
            field, value = line.split(":", 1)
            field = field.strip().lower()
            current[field] = value.strip()
    return stanzas


def _one_line_source(line: str) -> AptSource | None:
    """`deb [opt=value ...] URI SUITE COMPONENT...` (a main component), else None."""
    line = line.split("#", 1)[0].strip()
    options: dict[str, str] = {}
    found = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
    if not found or "main" not in found.group(4).split():
        return None
    for option in (found.group(1) or "").split():
        if "=" in option:
            key, value = option.split("=", 1)
            options[key.lower()] = value
    return AptSource(found.group(2), found.group(3), options.get("signed-by"), options.get("trusted"))


def _is_debian(source: AptSource) -> bool:
    paths = [uri.rstrip("/").rsplit("/", 1)[-1] for uri in source.uris.split()]
    return any(p in _DEBIAN_ARCHIVES for p in paths) or "debian-archive-keyring" in (source.signed_by or "")


def _machine_sources() -> list[tuple[str, str]]:
    etc = Path("/etc/apt")
    files = [etc / "sources.list"] if (etc / "sources.list").is_file() else []
    if (etc / "sources.list.d").is_dir():
        files += sorted(p for p in (etc / "sources.list.d").iterdir() if p.suffix in (".list", ".sources"))
    texts: list[tuple[str, str]] = []
    for path in files:
        with contextlib.suppress(OSError):
            texts.append((path.name, path.read_text(errors="replace")))
    return texts


@dataclass(frozen=True)
class PrivateApt:
    """apt's ordinary client on a private configuration for one foreign architecture."""

    root: Path
    env: dict[str, str]  # APT_CONFIG names the configuration

    @property
    def config(self) -> Path:
        return self.root / "apt.conf"

    def argv(self, tool: str, *args: str) -> list[str]:
        """apt reads APT_CONFIG before apt.conf.d, whose settings then win over it (Docker's
        images turn the binary cache off there, PackageKit and AppStream hook `apt-get update`
        to refresh the machine's catalogues): -c reads it again after them."""
        return [tool, "-c", str(self.config), *args]

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        return _run(self.argv(tool, *args), timeout=T_APT, env=self.env, cwd=cwd)


def private_apt(debian_arch: str) -> PrivateApt:
    """The private apt for one foreign architecture, under the kernel cache: its own sources
    (the machine's Debian entries, main only, this architecture only), lists, state (an empty
    dpkg status: nothing installed), cache and preferences, none of the machine's update hooks.
    The machine's apt.conf.d still applies otherwise (proxies, keyrings). Nothing of the
    machine's apt state is read or written, and no foreign architecture is added to dpkg."""
    root = cache_root() / f"apt-{debian_arch}"
    sources = debian_sources(_machine_sources())
    if not sources:
        need("no Debian archive in /etc/apt/sources.list(.d) to fetch Debian's kernels from")
    for folder in ("state/lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "state" / "status").touch()
    stanzas = []
    for source in sources:
        lines = ["Types: deb", f"URIs: {source.uris}", f"Suites: {source.suites}", "Components: main",
                 f"Architectures: {debian_arch}"]
        if source.signed_by:
            lines.append(f"Signed-By: {source.signed_by}")
        if source.trusted:
            lines.append(f"Trusted: {source.trusted}")
        stanzas.append("\n".join(lines) + "\n")
    _write_if_changed(root / "sources.list.d" / "debian.sources", "\n".join(stanzas))
    config = [
        f'Dir::State "{root}/state";',
        'Dir::State::lists "lists/";',
        f'Dir::State::status "{root}/state/status";',
        f'Dir::Cache "{root}/cache";',
        'Dir::Cache::archives "archives/";',
        # A binary cache of the lists, or each apt-cache call parses them all again.
        'Dir::Cache::pkgcache "pkgcache.bin";',
        'Dir::Cache::srcpkgcache "srcpkgcache.bin";',
        f'Dir::Etc::SourceList "{root}/sources.list";',
        f'Dir::Etc::SourceParts "{root}/sources.list.d";',
        f'Dir::Etc::Preferences "{root}/preferences";',
        f'Dir::Etc::PreferencesParts "{root}/preferences.d";',
        f'APT::Architecture "{debian_arch}";',
        f'APT::Architectures {{ "{debian_arch}"; }};',
        'Acquire::Languages "none";',
        f'Acquire::Retries "{APT_RETRIES}";',
        "#clear APT::Update::Pre-Invoke;",
        "#clear APT::Update::Post-Invoke;",
        "#clear APT::Update::Post-Invoke-Success;",
    ]
    if os.geteuid() == 0:
        # apt drops to _apt to download, which cannot enter root's home (the default cache).
        config.append('APT::Sandbox::User "root";')
    _write_if_changed(root / "apt.conf", "\n".join(config) + "\n")
    env = realtools._env({"APT_CONFIG": str(root / "apt.conf"), "DEBIAN_FRONTEND": "noninteractive"})
    return PrivateApt(root, env)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(text)
        os.replace(partial, path)


def _apt_update(apt: PrivateApt) -> None:
    """`apt-get update` of the private lists, unless done in the last LISTS_FRESH seconds (a warm
    run needs no network). Without the network, lists from before are used, with a note; with
    none, the test skips (fails under CI)."""
    stamp = apt.root / "updated"
    sources = apt.root / "sources.list.d" / "debian.sources"
    updated = stamp.stat().st_mtime if stamp.is_file() else 0.0
    if updated >= sources.stat().st_mtime and time.time() - updated < LISTS_FRESH:
        return
    try:
        apt.run("apt-get", "-q", "update", "--error-on=any")
    except ToolError as e:
        if not any((apt.root / "state" / "lists").glob("*_Packages*")):
            need(f"apt-get update for Debian's kernels failed (no network?): {str(e).splitlines()[0]}")
        _say(f"apt-get update failed, using the lists from before: {str(e).splitlines()[0]}")
        return
    stamp.touch()


def _apt_record(apt: PrivateApt, package: str) -> dict[str, str] | None:
    """`apt-cache show --no-all-versions PACKAGE[=VERSION]`'s fields, None when there is none."""
    code, out, _err, _pid = _spawn(
        apt.argv("apt-cache", "show", "--no-all-versions", package), timeout=T_APT, env=apt.env
    )
    if code != 0:
        return None
    stanzas = _deb822_stanzas(out.decode(errors="replace"))
    return stanzas[0] if stanzas else None


def _resolve(apt: PrivateApt, flavour: str) -> tuple[str, str]:
    """(package, version) of the kernel image to fetch: the dependency of the metapackage
    linux-image-6.12-FLAVOUR (bookworm's; else linux-image-FLAVOUR when it depends on a 6.12
    image, as in trixie), at the version of the installed linux-source-6.12 when the archive
    still has it (then all three kernels run the same stable release), else its newest. The
    `-unsigned` package when there is one (arm64): the image as built, without the EFI signature."""
    image = re.compile(rf"^\s*(linux-image-{re.escape(SERIES)}\.\S+-{re.escape(flavour)})\b")
    wanted = _source_version()
    metas = (f"linux-image-{SERIES}-{flavour}", f"linux-image-{flavour}")
    for meta in metas:
        record = (_apt_record(apt, f"{meta}={wanted}") if wanted else None) or _apt_record(apt, meta)
        found = image.match(record.get("depends", "")) if record else None
        if record and found:
            package, version = found.group(1), record["version"]
            if _apt_record(apt, f"{package}-unsigned={version}") is not None:
                package += "-unsigned"
            return package, version
    need(f"no {SERIES} {flavour} kernel in the Debian archive's lists ({' or '.join(metas)})")
    raise AssertionError("need() returns only a tool's path")


def debian(flavour: str) -> Kernel:
    """Debian's prebuilt linux-image-6.12.*-FLAVOUR (cloud-arm64: arm64; armmp-lpae: ARM32 with
    LPAE), its /boot image and config extracted; cached per package and version."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}: one of {sorted(FLAVOURS)}")
    if ("debian", flavour) in _MEMO:
        return _MEMO[("debian", flavour)]  # type: ignore[return-value]
    arch = FLAVOURS[flavour]
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        need(tool)
    with _locked(f"debian-{flavour}"):
        apt = private_apt(ARCHES[arch][2])
        _apt_update(apt)
        package, version = _resolve(apt, flavour)
        folder = cache_root() / f"{flavour}-{_upstream(version)}-{realtools._key(RECIPE, package, version)}"
        if not folder.is_dir():
            realtools._prune(cache_root(), f"{flavour}-", keep=folder.name)
            started = time.monotonic()
            _say(f"fetching {package} {version}")
            _fetch(apt, package, version, folder, arch)
            _say(f"fetched in {time.monotonic() - started:.0f} s")
    kernel = _entry(arch, flavour, realtools._used(folder))
    _MEMO[("debian", flavour)] = kernel
    return kernel


def _fetch(apt: PrivateApt, package: str, version: str, folder: Path, arch: str) -> None:
    """apt-get download the package, dpkg-deb -x it, keep /boot's vmlinuz and config."""
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=cache_root()))
    try:
        try:
            apt.run("apt-get", "-q", "download", f"{package}={version}", cwd=work)
        except ToolError as e:
            need(f"apt-get download {package}={version} failed (no network?): {str(e).splitlines()[0]}")
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise ToolError(f"apt-get download {package}={version}: expected one .deb, got {debs}")
        _run(["dpkg-deb", "-x", debs[0], work / "root"], timeout=T_EXTRACT)
        boot = work / "root" / "boot"
        images, configs = sorted(boot.glob("vmlinuz-*")), sorted(boot.glob("config-*"))
        if len(images) != 1 or len(configs) != 1:
            found = [p.name for p in images + configs]
            raise ToolError(f"{debs[0].name}: expected one /boot/vmlinuz-* and one /boot/config-*, got {found}")
        _store(folder, arch, images[0].read_bytes(), configs[0], _upstream(version))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The three kernels the tests boot, by name.
def _replay() -> Kernel:
    """The scenario replay's kernel, with the helpers of the boards tests/support/scenario_replay.py
    replays (their board files are drawn into a scratch directory)."""
    from tests.support import scenario_replay

    with tempfile.TemporaryDirectory(prefix="dtgen-replay-boards-") as work:
        return scenario_replay.replay_cases(Path(work))[1]


PROVIDERS: dict[str, Callable[[], Kernel]] = {
    "minimal": minimal_arm64,
    **{f: functools.partial(debian, f) for f in FLAVOURS},
    "replay": _replay,
}


# --------------------------------------------------------------------------------------------
# python -m tests.support.kernels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.kernels",
        description="Provide the QEMU proving ground's Linux 6.12 kernels (built or fetched, or from the "
        "cache) and print where each is, with the time it took.",
    )
    parser.add_argument("--minimal", action="store_true", help="the minimal arm64 kernel (built)")
    parser.add_argument("--debian", action="store_true", help="Debian's cloud-arm64 and armmp-lpae kernels (fetched)")
    parser.add_argument("--replay", action="store_true", help="the minimal kernel with the scenario replay driver (built)")
    parser.add_argument("--all", action="store_true", help="all four (the default)")
    args = parser.parse_args(argv)
    everything = args.all or not (args.minimal or args.debian or args.replay)
    chosen = {"minimal": args.minimal, "replay": args.replay}
    wanted = [n for n in PROVIDERS if everything or chosen.get(n, args.debian)]
    status = 0
    for name in wanted:
        started = time.monotonic()
        try:
            kernel = PROVIDERS[name]()
        except pytest.skip.Exception as e:
            print(f"{name}: skipped: {e.msg}")
            continue
        except (pytest.fail.Exception, ToolError) as e:
            print(f"{name}: FAILED: {getattr(e, 'msg', None) or e}", file=sys.stderr)
            status = 1
            continue
        size = kernel.image.stat().st_size / 2**20
        print(f"{kernel.name} {kernel.arch} {kernel.version}: {kernel.image} ({size:.1f} MiB), "
              f"{kernel.config.name} beside it, {time.monotonic() - started:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
