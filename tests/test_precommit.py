"""The pre-commit hook this repository offers (.pre-commit-hooks.yaml), run by the real pre-commit.

A scratch board repository uses this checkout as its hook repository, exactly as a user's
`.pre-commit-config.yaml` would: pre-commit clones it, builds a virtualenv, pip-installs dtgen
into it (this needs the package index, as it does for every user), and runs `dtgen validate` on
the staged board files when `git commit` runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.common import ROOT, need_tool

# arm64 with 4K pages since ≈v5.19: CMA_MIN_ALIGNMENT_BYTES = PAGE_SIZE << pageblock_order, and
# pageblock_order is 9 with CONFIG_HUGETLB_PAGE (arm64 defconfig has it), 10 without: 2 or
# 4 MiB. 64 MiB is a multiple of either, so this board is clean whatever the configuration.
GOOD_BOARD = """\
board: precommit-good
kernel:
  arch: arm64
  version: "6.12"
memory:
  banks:
    - {name: dram, base: 0x40000000, size: 1G}
regions:
  - {name: common, size: 64M, reusable: true, default: true}
"""

# ARM32 6.1 without hugetlb: pageblock_order = MAX_ORDER - 1 = 10 (include/linux/pageblock-flags.h),
# so a CMA area must be a multiple of 4K << 10 = 4 MiB; 34 MiB = 8.5 x 4 MiB is not, and
# rmem_cma_setup() rejects it at boot. (36 MiB = 9 x 4 MiB would be fine.)
BAD_BOARD = """\
board: precommit-bad
kernel:
  arch: arm
  version: "6.1"
  config: {CONFIG_HUGETLB_PAGE: false}
memory:
  banks:
    - {name: dram, base: 0x40000000, size: 1G}
regions:
  - {name: common, size: 34M, reusable: true, default: true}
"""

HOOK_TIMEOUT = 900  # seconds: the first commit builds the hook's virtualenv from the index


def _pre_commit() -> str:
    """pre-commit from the test extra: beside this interpreter (a venv that is not activated),
    else on PATH; missing, it skips locally and fails under CI=true."""
    beside = Path(sys.executable).parent / ("pre-commit.exe" if os.name == "nt" else "pre-commit")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return need_tool("pre-commit")


def _environment(tmp_path: Path) -> dict[str, str]:
    """No git or pre-commit state from the caller (pytest may itself run inside a git hook, with
    GIT_INDEX_FILE set), no user-wide git config (a core.hooksPath makes `pre-commit install`
    refuse), and a pre-commit cache that does not touch ~/.cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT")) and k != "SKIP"}
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = dtgen tests\n\temail = tests@dtgen.invalid\n"
        "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n"
    )
    env["GIT_CONFIG_GLOBAL"] = str(gitconfig)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _git(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = _run(["git", *args], cwd, env)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _hooks_repository(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A clone of this checkout whose last commit is the working tree as it is now, so the hook
    runs the code under test rather than the last commit. Returns the clone and that commit."""
    clone = tmp_path / "hooksrepo"
    _git(["clone", "-q", str(ROOT), str(clone)], tmp_path, env)
    listed = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env)
    for name in sorted(set(filter(None, listed.split("\0")))):
        source, target = ROOT / name, clone / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree but not yet in a commit
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # dtgen/data/* point at schemas/ and templates/
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    _git(["add", "-A"], clone, env)
    _git(["commit", "-q", "--allow-empty", "--no-verify", "-m", "working tree under test"], clone, env)
    return clone, _git(["rev-parse", "HEAD"], clone, env).strip()


def _position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first `needle` in `text`."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def test_hook_accepts_a_good_board_and_refuses_a_bad_one(tmp_path: Path) -> None:
    need_tool("git")
    pre_commit = _pre_commit()
    env = _environment(tmp_path)
    hooks, rev = _hooks_repository(tmp_path, env)

    work = tmp_path / "boards-repo"
    work.mkdir()
    _git(["init", "-q"], work, env)
    _git(["config", "user.name", "dtgen tests"], work, env)
    _git(["config", "user.email", "tests@dtgen.invalid"], work, env)
    # The hook's own `files` pattern (^boards/...) chooses the file: the config does not override it.
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: dtgen-validate\n"
    )
    installed = _run([pre_commit, "install"], work, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    board = work / "boards" / "board.yaml"
    board.parent.mkdir()
    board.write_text(GOOD_BOARD)
    _git(["add", "-A"], work, env)
    good = _run(["git", "commit", "-m", "a good board"], work, env, timeout=HOOK_TIMEOUT)
    output = good.stdout + good.stderr
    assert good.returncode == 0, output
    assert "dtgen validate" in output and "Passed" in output, output
    head = _git(["rev-parse", "HEAD"], work, env)

    # The same hook environment serves the second commit: nothing is installed again.
    board.write_text(BAD_BOARD)
    _git(["add", "-A"], work, env)
    bad = _run(["git", "commit", "-m", "a bad board"], work, env, timeout=HOOK_TIMEOUT)
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0, output
    line, col = _position(BAD_BOARD, "34M")
    assert f"boards/board.yaml:{line}:{col}: error: " in output, output
    assert "[cma-min-alignment]" in output, output
    assert _git(["rev-parse", "HEAD"], work, env) == head, "the refused commit was made"

    # The emit gate, in the same hook environment: generated files committed beside the board
    # pass; a board changed without regenerating them is refused, naming the stale file.
    board.write_text(GOOD_BOARD)
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: dtgen-validate\n"
        "      - id: dtgen-emit-check\n        args: [boards/board.yaml, -o, generated]\n"
        "        files: ^(boards|generated)/\n"
    )
    emitted = _run([sys.executable, "-m", "dtgen", "emit", "boards/board.yaml", "-o", "generated"], work,
                   {**env, "PYTHONPATH": str(ROOT)})
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    _git(["add", "-A"], work, env)
    fresh = _run(["git", "commit", "-m", "board and generated files"], work, env, timeout=HOOK_TIMEOUT)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "dtgen emit --check" in fresh.stdout + fresh.stderr
    board.write_text(GOOD_BOARD.replace("size: 64M", "size: 128M"))
    _git(["add", "-A"], work, env)
    stale = _run(["git", "commit", "-m", "board changed, outputs not"], work, env, timeout=HOOK_TIMEOUT)
    output = stale.stdout + stale.stderr
    assert stale.returncode != 0, output
    assert "generated/precommit-good-reserved-memory.dtsi: differs from what dtgen emit would write" in output, output

    # A commit that changes only an SoC file the board includes re-checks the board: the hook's
    # pattern takes boards/socs/ too, and validate turns an include-only file into its boards.
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: dtgen-validate\n"
    )
    soc = work / "boards" / "socs" / "soc.yaml"
    soc.parent.mkdir()
    soc.write_text(SOC)
    board.write_text(GOOD_BOARD.replace("board: precommit-good\n", "board: precommit-good\ninclude: [socs/soc.yaml]\n"))
    shutil.rmtree(work / "generated")
    _git(["add", "-A"], work, env)
    with_soc = _run(["git", "commit", "-m", "a board with an SoC file"], work, env, timeout=HOOK_TIMEOUT)
    assert with_soc.returncode == 0, with_soc.stdout + with_soc.stderr
    soc.write_text(SOC.replace("size: 8M", "size: 6M"))
    _git(["add", "-A"], work, env)
    only_soc = _run(["git", "commit", "-m", "the SoC file alone"], work, env, timeout=HOOK_TIMEOUT)
    output = only_soc.stdout + only_soc.stderr
    assert only_soc.returncode != 0, output
    line, col = _position(SOC.replace("size: 8M", "size: 6M"), "6M")
    assert f"boards/socs/soc.yaml:{line}:{col}: error: " in output and "[cma-min-alignment]" in output, output


# An SoC-level file: regions and nothing a board needs of its own (no `board:`).
SOC = """\
regions:
  - {name: soc_pool, size: 8M, reusable: true}
"""
