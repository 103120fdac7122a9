"""The rule table: every check has a stable id (also its CLI flag and its fixture's name), a
severity, a one-line summary and the rules that must have passed before it runs (dtc's
`WARNING(name, fn, data, &prereq...)`), so that one mistake gives one message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from dtgen.diagnostics import Diagnostic, Severity
from dtgen.model import Board

Check = Callable[[Board], Iterable[Diagnostic]]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: Severity
    summary: str
    stage: str  # load | schema | semantic | resolve | emit | import
    check: Check | None = None
    needs: tuple[str, ...] = ()


TABLE: dict[str, RuleInfo] = {}
STAGES = ("load", "schema", "base", "semantic", "resolve", "emit", "import")


def all_rules() -> dict[str, RuleInfo]:
    """Every rule by id: the rows below and the semantic rules, which dtgen/validate/rules.py
    registers (each function with its @rule) as it is imported; asking here imports it, so no
    caller depends on someone else having imported it first."""
    from dtgen.validate import rules  # noqa: F401

    return TABLE


def register(info: RuleInfo) -> None:
    if info.id in TABLE:
        raise ValueError(f"rule {info.id} registered twice")  # a bug in dtgen, not user input
    TABLE[info.id] = info


def rule(id: str, severity: Severity, summary: str, needs: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    def wrap(fn: Check) -> Check:
        register(RuleInfo(id, severity, summary, "semantic", fn, needs))
        return fn

    return wrap


E, W = Severity.ERROR, Severity.WARNING

# Findings made while reading and shape-checking the file; listed so `dtgen rules`, -W/--disable
# and the fixture test know them. Their checks live in yamlsrc, load, build and validate.schema.
for _id, _sev, _summary, _stage in (
    ("io-error", E, "the board file cannot be read (exit 2)", "load"),
    ("yaml-syntax", E, "not valid YAML: syntax, tabs, several documents (exit 2)", "load"),
    ("yaml-encoding", E, "not UTF-8 text: UTF-16, NUL or control characters, binary (exit 2)", "load"),
    ("yaml-too-deep", E, "nesting deeper than 64 levels (exit 2)", "load"),
    ("yaml-too-large", E, "file over 2 MiB or alias expansion over 200,000 values (exit 2)", "load"),
    ("yaml-tag", E, "YAML tags or types board files do not use (!!python/..., timestamps)", "load"),
    ("yaml-duplicate-key", E, "the same key twice in one mapping", "load"),
    ("yaml-key-type", E, "a key that YAML reads as a boolean or number (on:, 1:)", "load"),
    ("include-missing", E, "an include that does not exist or cannot be read", "load"),
    ("include-cycle", E, "includes that include each other", "load"),
    ("include-outside-root", E, "an include outside the include root, or an absolute path", "load"),
    ("path-outside-root", E, "devicetree.base or include_dirs outside the include root, or absolute", "load"),
    ("kconfig-syntax", E, "a --kconfig line that is not CONFIG_X=value", "load"),
    ("board-not-mapping", E, "the file is empty or not a mapping", "schema"),
    ("schema", E, "the board file does not have the shape of schemas/board.schema.json", "schema"),
    ("name-identifier", E, "names that are not lower-case C identifiers (or device names)", "schema"),
    ("size-syntax", E, "sizes and addresses that are not numbers with K/M/G/T suffixes", "schema"),
    ("version-number", E, "kernel.version written as a number (YAML reads 6.10 as 6.1)", "schema"),
    ("map-and-cma-map", E, "both `map` and `cma_map` given", "schema"),
    ("size-value", E, "zero or negative sizes, values past 64 bits, ranges past the address space", "schema"),
    ("map-pattern", E, "malformed device/kind patterns or cma_map strings", "schema"),
    ("base-unreadable", E, "devicetree.base that does not exist, or that cpp or dtc cannot read", "base"),
    ("base-unchecked", W, "devicetree.base not read: a kernel-tree base without --kernel-tree, or no dtc", "base"),
    ("base-node-missing", E, "a device `node` or region `replaces` the base tree does not have (dtc: Label or path not found)", "base"),
    ("base-compatible", E, "a device `compatible` its node in the base tree does not have", "base"),
    ("base-cells", E, "address_cells, size_cells or base_has_reserved_memory unlike the base tree's", "base"),
    ("base-node-duplicate", E, "a region whose node name or label the base's /reserved-memory already has, without `replaces`", "base"),
    ("base-dynamic-unowned", W, "a dynamic /reserved-memory node of the base that the board does not describe (placement leaves it out)", "base"),
    ("base-memory", W, "banks unlike the base tree's /memory (bootloaders may rewrite it)", "base"),
    ("base-dma-ranges", E, "a device DMA window unlike its bus's dma-ranges in the base tree", "base"),
    ("place-failed", E, "a region the kernel cannot place (resolve)", "resolve"),
    ("dma-reach-default", W, "a device-tree device whose default CMA area lands beyond its DMA mask: it never gets that memory (resolve)", "resolve"),
    ("default-area-unplaced", W, "the Kconfig default CMA area does not fit: the kernel boots without it (resolve)", "resolve"),
    ("scenario-fails", E, "emit refuses a board whose scenarios do not meet their `expect` (dtgen check tells why)", "emit"),
    ("emit-not-applicable", E, "--only names an output the board has nothing for (legacy-c on a mainline kernel, ...)", "emit"),
    ("emit-node-name", E, "two reserved-memory nodes with one name (the name is the CMA area's name)", "emit"),
    ("emit-cells", E, "an address or size that does not fit the tree's #address-cells/#size-cells", "emit"),
    ("emit-consumer", E, "a device whose memory-region entries would shift: a kind without a device-tree region before one with", "emit"),
    ("emit-helper-device", E,
     "a helper device the generated C cannot recognise at run time (a label without a compatible, a shared compatible)", "emit"),
    ("emit-helper-region", E, "a helper chain naming a region cma_alloc() cannot use (a coherent pool, a plain reservation)", "emit"),
    ("emit-version", E, "platform C asked of a kernel version dtgen does not write it for", "emit"),
    ("legacy-unexpressible", E, "a rule, region or limit the chosen 2010 CMA patch version cannot express", "emit"),
    ("template", E, "a template (yours, with --templates) that does not parse or render (exit 2)", "emit"),
    ("dts-syntax", E, "device-tree source cpp or dtc rejects, at dtc's file:line (exit 2)", "import"),
    ("dts-include", E, "an #include or /include/ not found in the include directories (exit 2)", "import"),
    ("dtb-format", E, "an import input that is neither source nor a sound DTB: truncated, damaged (exit 2)", "import"),
    ("import-tool", E, "cpp or dtc missing where the source needs them", "import"),
    ("import-memory", E, "a tree without a usable /memory and no fixed address to guess a bank from", "import"),
    ("import-memory-assumed", W, "no usable /memory (the bootloader fills it in): one bank guessed from the tree's fixed addresses", "import"),
    ("import-memory-size", W, "a /memory entry of size 0 (the bootloader fills it in)", "import"),
    ("reserved-memory-format", E, "a /reserved-memory the kernel ignores whole (no empty ranges, cell counts unlike the root's)", "import"),
    ("import-unrepresentable", W, "a reserved-memory node or property the board file cannot say (kept as a comment)", "import"),
    ("import-reference", W, "a memory-region user left out: an entry that is not an imported region", "import"),
):
    register(RuleInfo(_id, _sev, _summary, _stage))
