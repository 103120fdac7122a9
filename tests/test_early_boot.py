"""dtgen/early_boot.py: the page-table count against a walker that visits every 1 GiB and 2 MiB
slot the way map_mem()'s alloc_init_pud()/init_pmd() do (the first version of the model, which
the real boots confirmed to the page: 1003 tables on Debian's cloud kernel), and the counts on
memory far too large to walk slot by slot."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.early_boot import _minus, page_table_pages, sections
from dtgen.memblock import round_down, round_up

MiB, GiB = 1 << 20, 1 << 30
PAGE = 4096


def walked(memory: list[tuple[int, int]], nomap: list[tuple[int, int]], text: int, text_end: int,
           granular: bool, levels: int) -> int:
    loop = [(round_up(s, PAGE), round_down(e, PAGE)) for s, e in _minus(memory, [*nomap, (text, text_end)])]
    pud: set[int] = set()
    pmd: set[int] = set()
    pte: set[int] = set()

    def walk(start: int, end: int, no_block: bool) -> None:
        at = start
        while at < end:
            giga_end = min(round_down(at, GiB) + GiB, end)
            pud.add(at >> 39)
            if no_block or at % GiB or giga_end % GiB:
                pmd.add(at >> 30)
                low = at
                while low < giga_end:
                    two_end = min(round_down(low, 2 * MiB) + 2 * MiB, giga_end)
                    if no_block or low % (2 * MiB) or two_end % (2 * MiB):
                        pte.add(low >> 21)
                    low = two_end
            at = giga_end

    for start, end in loop:
        if start < end:
            walk(start, end, granular)
    walk(text, text_end, False)
    return len(pte) + len(pmd) + (len(pud) if levels >= 4 else 0)


_mib = st.integers(0, 6 * 1024)  # MiB offsets inside 6 GiB above 1 GiB


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int, int]:
    banks = sorted(draw(st.lists(st.tuples(_mib, st.integers(1, 2048)), min_size=1, max_size=3)))
    memory = [(GiB + a * MiB, GiB + (a + n) * MiB) for a, n in banks]
    holes = [(GiB + a * MiB + o * PAGE, GiB + a * MiB + o * PAGE + n * PAGE)
             for a, o, n in draw(st.lists(st.tuples(_mib, st.integers(0, 511), st.integers(1, 4096)), max_size=4))]
    text = memory[0][0] + 2 * MiB
    return memory, holes, text, text + draw(st.integers(1, 40)) * MiB + draw(st.integers(0, 511)) * PAGE


@settings(max_examples=300, deadline=None)
@given(layout=layouts(), granular=st.booleans(), levels=st.sampled_from([3, 4]))
def test_counting_spans_equals_walking_slots(layout: tuple[list[tuple[int, int]], list[tuple[int, int]], int, int],
                                            granular: bool, levels: int) -> None:
    memory, nomap, text, text_end = layout
    assert page_table_pages(memory, nomap, text, text_end, granular, levels) == walked(
        memory, nomap, text, text_end, granular, levels)


def test_worked_numbers() -> None:
    # 2 GiB at 0x40000000, the kernel's text 0x40200000-0x41a00000 (12 full 2 MiB slots): a
    # page-granular map needs 1024 - 12 PTE tables, 2 PMD tables and 1 PUD table; with blocks, the
    # PUD and the PMD of the first GiB (it has the kernel hole) and no PTE table at all (the hole's
    # ends are 2 MiB aligned).
    memory = [(0x40000000, 0xC0000000)]
    assert page_table_pages(memory, [], 0x40200000, 0x41A00000, True, 4) == 1015
    assert page_table_pages(memory, [], 0x40200000, 0x41A00000, False, 4) == 2
    # A kernel text end inside a 2 MiB slot adds that slot's PTE table.
    assert page_table_pages(memory, [], 0x40200000, 0x41A10000, False, 4) == 3
    assert sections(memory) == 16


def test_huge_memory_is_counted_not_walked() -> None:
    # 256 TiB from 4 GiB, the kernel's text its first 32 MiB: 2^27 - 16 PTE tables (the text is
    # block-mapped), 2^18 PMD tables, and 513 PUD tables (512 GiB slots 0 to 512: it starts 4 GiB
    # into slot 0). A slot-by-slot walk would take hours.
    memory = [(1 << 32, (1 << 32) + (1 << 48))]
    pages = page_table_pages(memory, [], 1 << 32, (1 << 32) + 32 * MiB, True, 4)
    assert pages == (1 << 27) - 16 + (1 << 18) + 513
    assert sections(memory) == 1 << 21
