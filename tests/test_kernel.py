"""Kernel facts, each checked against arithmetic worked from the kernel sources by hand."""

from __future__ import annotations

import pytest

from dtgen import kernel as k
from dtgen.model import Kernel

MiB = 1 << 20


def kern(arch: str, version: tuple[int, ...], page: int = 4096, **config: object) -> Kernel:
    return Kernel(arch, version, page, tuple(sorted(config.items())))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [
        # arm64 4K, hugetlb: pageblock_order = HUGETLB_PAGE_ORDER = PMD_SHIFT 21 - PAGE_SHIFT 12
        # = 9; 4 KiB << 9 = 2 MiB (since 5.19, 11ac3e87ce09).
        (kern("arm64", (6, 12), CONFIG_HUGETLB_PAGE=True), 2 * MiB),
        # Before 5.19: PAGE_SIZE << max(MAX_ORDER - 1, pageblock_order) = 4 KiB << 10 = 4 MiB.
        (kern("arm64", (5, 15), CONFIG_HUGETLB_PAGE=True), 4 * MiB),
        # arm64 4K without hugetlb or THP: pageblock_order = MAX_PAGE_ORDER = 10 -> 4 MiB.
        (kern("arm64", (6, 12)), 4 * MiB),
        # THP alone lowers it to HPAGE_PMD_ORDER 9 only from 6.10 on.
        (kern("arm64", (6, 9), CONFIG_TRANSPARENT_HUGEPAGE=True), 4 * MiB),
        (kern("arm64", (6, 10), CONFIG_TRANSPARENT_HUGEPAGE=True), 2 * MiB),
        # arm64 16K: PMD_SHIFT 25 - 14 = 11, 16 KiB << 11 = 32 MiB; 64K: 29 - 16 = 13 -> 512 MiB.
        (kern("arm64", (6, 12), 16384, CONFIG_HUGETLB_PAGE=True), 32 * MiB),
        (kern("arm64", (6, 12), 65536, CONFIG_HUGETLB_PAGE=True), 512 * MiB),
        # ARM32 without LPAE: no huge pages; MAX_ORDER 10 (inclusive, 6.4+) -> 4 MiB.
        (kern("arm", (6, 1), CONFIG_HUGETLB_PAGE=True), 4 * MiB),
        # ARM32 LPAE with hugetlb: 2 MiB sections, order 9 -> 2 MiB.
        (kern("arm", (6, 12), CONFIG_ARM_LPAE=True, CONFIG_HUGETLB_PAGE=True), 2 * MiB),
    ],
)
def test_cma_min_alignment(kernel: Kernel, expected: int) -> None:
    assert k.cma_min_alignment(kernel).size == expected


@pytest.mark.parametrize(
    ("version", "config", "slots"),
    [
        ((6, 8), {}, 8),  # 1 + CONFIG_CMA_AREAS (default 7)
        ((6, 9), {}, 8),  # CONFIG_CMA_AREAS (default 8)
        ((6, 1), {"CONFIG_CMA_AREAS": 7}, 8),
        ((6, 12), {"CONFIG_CMA_AREAS": 7}, 7),  # the trap of an old .config on 6.9+
        ((6, 12), {"CONFIG_CMA_AREAS": 20}, 20),
    ],
)
def test_max_cma_areas(version: tuple[int, int], config: dict[str, object], slots: int) -> None:
    assert k.max_cma_areas(kern("arm64", version, **config)) == slots


def test_max_reserved_regions_by_version() -> None:
    assert k.max_reserved_regions(kern("arm", (4, 14))) == (16, "all")
    assert k.max_reserved_regions(kern("arm", (5, 4))) == (32, "all")
    assert k.max_reserved_regions(kern("arm", (6, 12))) == (64, "all")
    assert k.max_reserved_regions(kern("arm", (6, 13))) == (64, "dynamic")


def test_arm32_lowmem() -> None:
    # 0xff800000 - 240 MiB - 8 MiB = 0xf0000000; less PAGE_OFFSET 0xc0000000 = 0x30000000 (768 MiB).
    assert k.arm32_lowmem_size(kern("arm", (6, 1))) == 768 * MiB
    assert k.arm32_lowmem_size(kern("arm", (6, 1), CONFIG_VMSPLIT_2G=True)) == 0x70000000
    limits = k.zone_limits(kern("arm", (6, 1), CONFIG_HIGHMEM=True), 0x40000000, 0xC0000000)
    assert [at for at, _ in limits] == [0x70000000]
    assert k.zone_limits(kern("arm64", (6, 12)), 0x80000000, 0x880000000)[0][0] == 1 << 32


def test_default_area_size_by_kconfig_choice() -> None:
    from dtgen.kernel import default_area_size, makes_default_area

    gib = 1 << 30
    assert default_area_size(kern("arm64", (6, 12)), gib) == 16 << 20  # the Kconfig default, MBYTES
    percent = kern("arm64", (6, 12), CONFIG_CMA_SIZE_MBYTES=0, CONFIG_CMA_SIZE_SEL_PERCENTAGE=True)
    # 10 % of 262144 pages = 26214 pages
    assert default_area_size(percent, gib) == 26214 * 4096
    assert makes_default_area(percent, cmdline=False, dt_default=False, memory_bytes=gib)
    none = kern("arm64", (6, 12), CONFIG_CMA_SIZE_MBYTES=0)
    assert not makes_default_area(none, cmdline=False, dt_default=False, memory_bytes=gib)
    assert makes_default_area(none, cmdline=True, dt_default=False, memory_bytes=gib)
    assert not makes_default_area(kern("arm64", (6, 12)), cmdline=False, dt_default=True, memory_bytes=gib)
    assert not makes_default_area(kern("arm64", (6, 12), CONFIG_DMA_CMA=False), cmdline=True, dt_default=False,
                                  memory_bytes=gib)
    mn = kern("arm64", (6, 12), CONFIG_CMA_SIZE_SEL_MIN=True)
    assert default_area_size(mn, gib) == 16 << 20
    mx = kern("arm64", (6, 12), CONFIG_CMA_SIZE_SEL_MAX=True)
    assert default_area_size(mx, gib) == 26214 * 4096
