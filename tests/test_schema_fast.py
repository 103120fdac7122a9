"""The schema validator generated ahead of time (dtgen/validate/fastgen.py) is current, and it
accepts exactly what jsonschema accepts: on every board file the repository holds, and on
random mutations of the example boards. Where they disagreed, a file jsonschema rejects would pass
the schema unworded, or a sound file would pay for jsonschema."""

from __future__ import annotations

import copy
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.validate import fastgen
from dtgen.validate.schema import _fast, _fast_accepts, _validator
from dtgen.yamlsrc import YMap, YSeq, parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in [*ROOT.glob("boards/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")] if p.is_file())


def test_the_generated_validator_is_current() -> None:
    assert fastgen.TARGET.read_text(encoding="utf-8") == fastgen.render(), "run: python -m dtgen.validate.fastgen --write"
    assert _fast() is not None  # generated from the schema that is installed


def _agree(tree: object) -> tuple[bool, bool]:
    return _fast_accepts(tree), not any(True for _ in _validator().iter_errors(tree))  # type: ignore[arg-type]


def test_it_accepts_what_jsonschema_accepts_on_every_board_file() -> None:
    checked = accepted = 0
    for path in FILES:
        tree = parse(path.read_bytes(), str(path)).value
        if not isinstance(tree, YMap):
            continue
        fast, slow = _agree(tree)
        assert fast == slow, f"{path}: generated {'accepts' if fast else 'rejects'}, jsonschema does not"
        checked += 1
        accepted += fast
    # Not vacuous: both kinds of file are there in numbers.
    assert checked > 150 and accepted > 20 and checked - accepted > 20, (checked, accepted)


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


EXAMPLES = [_plain(parse(p.read_bytes(), str(p)).value) for p in sorted(ROOT.glob("boards/*.yaml"))]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**65), st.text(max_size=8),
                    st.sampled_from(["4K", "16M", "0x40000000", "64Mb", "devicetree", "helper", "arm64", "6.12", "&x"]))


def _paths(value: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(EXAMPLES))), st.data())
def test_it_accepts_what_jsonschema_accepts_on_mutated_boards(which: int, data: st.DataObject) -> None:
    tree = copy.deepcopy(EXAMPLES[which])
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(_paths(tree)[1:]))
        parent = tree
        for step in target[:-1]:
            parent = parent[step]  # type: ignore[index]
        key = target[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = data.draw(SCALARS)  # type: ignore[index]
        elif action == "delete":
            del parent[key]  # type: ignore[arg-type]
            break  # later paths may be gone
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["extra", "size", "name", "kinds", "base_in", "checks"]))] = data.draw(SCALARS)
    fast, slow = _agree(_ymap(tree))
    assert fast == slow, tree


def _ymap(value: object) -> object:
    """The shapes the loader hands the schema check (YMap/YSeq are dict/list subclasses)."""
    if isinstance(value, dict):
        out = YMap()
        for k, v in value.items():
            out[k] = _ymap(v)
        return out
    if isinstance(value, list):
        return YSeq(_ymap(v) for v in value)
    return value
