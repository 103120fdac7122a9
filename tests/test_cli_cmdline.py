"""`dtgen cmdline parse`: what it prints for the facts' literal examples, and its errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dtgen.cli import main


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["cmdline", "parse", *args])


def test_mainline_range_and_fixed_start() -> None:
    ranged = _run("--syntax", "mainline", "console=ttyS0 cma=64M@0-4G quiet")
    assert ranged.exit_code == 0
    assert ranged.stdout == "default CMA area: 64 MiB, anywhere in 0x0..0xffffffff\n"
    fixed = _run("--syntax", "mainline", "--format", "json", "cma=64M@512M")
    assert json.loads(fixed.stdout)["mainline"] == {"size": 64 << 20, "base": 512 << 20, "end": 576 << 20, "fixed": True}
    assert _run("--syntax", "mainline", "cma=0").stdout.splitlines()[0] == "cma=0: no default CMA area"


def test_the_aquila_strings_of_the_seed_thread() -> None:
    result = _run("--syntax", "2010-v3", "cma=-mfc_fw=1M/128K;mfc_b1=32M;mfc_b2=16M@0x40000000 "
                  "cma.map=s3c-mfc5/f=mfc_fw;s3c-mfc5/a=mfc_b1;s3c-mfc5/b=mfc_b2")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "region mfc_fw: 1 MiB, aligned 128 KiB, not an asterisk region",
        "region mfc_b1: 32 MiB, aligned 4 KiB",
        "region mfc_b2: 16 MiB, at 0x40000000, aligned 4 KiB",
        "rule s3c-mfc5/f -> mfc_fw",
        "rule s3c-mfc5/a -> mfc_b1",
        "rule s3c-mfc5/b -> mfc_b2",
    ]


@pytest.mark.parametrize(("syntax", "text", "col"), [("mainline", "cma=64X", 7), ("2010-v1", "cma=a=32M@0,b=32M@512M", 12)])
def test_malformed_text_is_a_positioned_error(syntax: str, text: str, col: int) -> None:
    result = _run("--syntax", syntax, text)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"<cmdline>:1:{col}: error: ") and result.stderr.rstrip().endswith("[cmdline-syntax]")
    assert "Traceback" not in result.stderr


def test_unknown_syntax_is_usage() -> None:
    assert _run("--syntax", "2011", "cma=1M").exit_code == 2


def test_a_newline_in_the_argument_stays_inside_one_diagnostic_line() -> None:
    # Found by tests/support/fuzzing.py: the message quotes the argument, newline and all.
    result = CliRunner().invoke(main, ["cmdline", "parse", "--syntax", "mainline", "--", 'cma=cma="\n'])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "\\n" in result.stderr and result.stderr.endswith("[cmdline-syntax]\n")


def test_megabytes_as_the_kernel_reads_them() -> None:
    # early_cma(): memparse() stops at the B and, no `@` following, the size stands: 640 MiB.
    result = CliRunner().invoke(main, ["cmdline", "parse", "--syntax", "mainline", "--format", "json", "cma=640MB"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mainline"]["size"] == 640 << 20 and any("stops at `B`" in n for n in data["notes"]), data
    # With `@` after the B the kernel ignores the placement: refused rather than read half.
    placed = CliRunner().invoke(main, ["cmdline", "parse", "--syntax", "mainline", "cma=640MB@0x80000000"])
    assert placed.exit_code == 1 and "ignores `@`" in placed.stderr
