"""The QEMU proving ground's kernels (tests/support/kernels.py, issue 16): each of the three boots on
QEMU's `virt` machine with QEMU's own tree and gets as far as looking for a root file system,
having printed its version and command line, and placed the default CMA area. QEMU never
outlives a boot. The pure helpers (the fragment check, reading apt sources) are tested on text.

Locally, a missing QEMU, cross compiler, kernel tarball or network skips with the reason; under
CI=true it fails (scripts/test installs and provisions everything as root)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.support import kernels, realtools
from tests.support.kernels import AptSource, BootError

PROVIDERS = kernels.PROVIDERS
ARCH = {"minimal": "arm64", "cloud-arm64": "arm64", "armmp-lpae": "arm", "replay": "arm64"}


@pytest.mark.parametrize("name", PROVIDERS)
def test_boots_to_the_root_fs(name: str) -> None:
    kernel = PROVIDERS[name]()
    assert (kernel.arch, kernel.name) == (ARCH[name], name)
    assert re.fullmatch(r"6\.12\.\d+", kernel.version), kernel.version
    started = time.monotonic()
    log = kernels.boot(kernel)
    took = time.monotonic() - started
    lines = log.splitlines()

    def first(pattern: str) -> int:
        found = [n for n, line in enumerate(lines) if re.search(pattern, line)]
        assert found, f"{name}: no line matching {pattern!r} in {took:.1f} s of boot log:\n" + "\n".join(lines[-30:])
        return found[0]

    banner = first(r"\] Linux version 6\.12")
    assert f"Linux version {kernel.version}" in lines[banner], lines[banner]
    command_line = first(r"Kernel command line: " + re.escape(kernels.DEFAULT_APPEND))
    cma = first(r"cma: Reserved \d+ MiB at 0x")  # every one has DMA_CMA and a default area size
    root_fs = first(r"VFS: Unable to mount root fs|Kernel panic - not syncing: No working init")
    assert banner < command_line < root_fs and cma < root_fs


@pytest.mark.parametrize("name", PROVIDERS)
def test_kernel_files(name: str) -> None:
    kernel = PROVIDERS[name]()
    config = kernels.config_options(kernel.config.read_text())
    assert kernels.config_version(kernel.config.read_text()) == kernel.version
    assert config.get("CONFIG_CMA") == "y" and config.get("CONFIG_DMA_CMA") == "y"
    head = kernel.image.read_bytes()[:64]
    if kernel.arch == "arm64":
        assert head[56:60] == b"ARM\x64"  # uncompressed: what QEMU 7.2's -kernel boots
    if name == "minimal":
        fragment = kernels.config_options(kernels.FRAGMENT.read_text())
        assert fragment.items() <= config.items()
        assert config["CONFIG_CMA_DEBUGFS"] == "y"
    if name == "replay":  # the minimal kernel's configuration: the driver adds objects, not options
        assert kernel.config.read_text() == kernels.minimal_arm64().config.read_text()
        assert kernel.image.read_bytes() != kernels.minimal_arm64().image.read_bytes()


def test_time_limit_kills_qemu() -> None:
    """panic=0 makes the kernel wait for ever after its panic: the time limit ends QEMU, and the
    log printed until then comes back with the error."""
    kernel = kernels.minimal_arm64()
    with pytest.raises(BootError) as raised:
        kernels.boot(kernel, append="console=ttyAMA0 earlycon=pl011,0x9000000 panic=0", timeout=10)
    assert "still running after 10 s" in str(raised.value)
    assert "Kernel panic" in raised.value.log
    with pytest.raises(ProcessLookupError):
        os.kill(raised.value.pid, 0)  # killed and reaped


@pytest.mark.parametrize("in_ci", [False, True])
def test_no_network_skips_locally_and_fails_in_ci(
    in_ci: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Debian mirror that cannot be reached and no lists from before: the test skips with the
    reason, and fails under CI=true (realtools.need()). Nothing is cached."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        realtools.need(tool)
    monkeypatch.setenv("DTGEN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(kernels, "_MEMO", {})
    monkeypatch.setattr(realtools, "IN_CI", in_ci)
    monkeypatch.setattr(kernels, "APT_RETRIES", 0)
    # Port 9 (discard) on the loopback: refused at once.
    unreachable = "deb http://127.0.0.1:9/debian bookworm main\n"
    monkeypatch.setattr(kernels, "_machine_sources", lambda: [("x.list", unreachable)])
    outcome = pytest.fail.Exception if in_ci else pytest.skip.Exception
    with pytest.raises(outcome, match="apt-get update for Debian's kernels failed"):
        kernels.debian("armmp-lpae")
    assert not list(tmp_path.glob("armmp-lpae-*"))


def test_unmet_options() -> None:
    fragment = "CONFIG_CMA=y\nCONFIG_CMA_AREAS=20\n# CONFIG_SWAP is not set\nCONFIG_DMA_CMA=y\n"
    config = "# comment\nCONFIG_CMA=y\nCONFIG_CMA_AREAS=8\nCONFIG_SWAP=y\n"
    assert kernels.unmet_options(fragment, config) == [
        "CONFIG_CMA_AREAS=20 (got 8)",
        "CONFIG_SWAP=n (got y)",
        "CONFIG_DMA_CMA=y (got n)",
    ]
    assert kernels.unmet_options("CONFIG_CMA=y\n# CONFIG_SWAP is not set\n", "CONFIG_CMA=y\n") == []


def test_debian_sources() -> None:
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    deb822 = (
        "Types: deb\n# a snapshot\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
        f"Components: main\nSigned-By: {keyring}\n\n"
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security/\nSuites: bookworm-security\n"
        "Components: main contrib\nEnabled: no\n\n"
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n"
        "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n xyz\n"
    )
    one_line = (
        "deb [arch=amd64 signed-by=/k.gpg] http://proxy.local:3142/debian-security bookworm-security main  # x\n"
        "# deb http://deb.debian.org/debian bookworm main\n"
        "deb http://deb.debian.org/debian bookworm contrib\n"
        "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"
    )
    found = kernels.debian_sources([("debian.sources", deb822), ("sources.list", one_line)])
    assert found == [
        AptSource("http://deb.debian.org/debian", "bookworm bookworm-updates", keyring),
        AptSource("http://proxy.local:3142/debian-security", "bookworm-security", "/k.gpg"),
    ]
