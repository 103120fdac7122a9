"""The event-stream composer: same values as PyYAML's safe_load, right positions, bounded cost."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dtgen.yamlsrc import YMap, YSeq, parse

keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: k not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
)
scalars = st.one_of(
    st.integers(-(1 << 70), 1 << 70),
    st.booleans(),
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


def plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=5), st.booleans())
def test_same_values_as_safe_load(doc: dict[str, object], flow: bool) -> None:
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    parsed = parse(text.encode(), "f.yaml")
    assert parsed.diagnostics == ()
    assert plain(parsed.value) == yaml.safe_load(text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=5))
def test_key_positions_point_at_the_key(doc: dict[str, object]) -> None:
    text = yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True, sort_keys=False)
    lines = text.splitlines()
    parsed = parse(text.encode(), "f.yaml")

    def walk(node: object) -> None:
        if isinstance(node, YMap):
            for key, value in node.items():
                span = node.key_spans[key]
                assert lines[span.line - 1][span.col - 1 :].startswith(key)
                walk(value)
        elif isinstance(node, YSeq):
            for value in node:
                walk(value)

    walk(parsed.value)


def test_alias_bomb_is_refused_fast() -> None:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    # 9^10 values if expanded; the composer stops counting at MAX_NODES instead.
    parsed = parse("\n".join(lines).encode(), "bomb.yaml")
    assert [d.rule for d in parsed.diagnostics] == ["yaml-too-large"]


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    # libyaml's own composer crashes the process (SIGSEGV) on this; ours reports it.
    for text in ("[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x"):
        parsed = parse(text.encode(), "deep.yaml")
        assert [(d.rule, d.span.line) for d in parsed.diagnostics] == [("yaml-too-deep", 1)]


def test_merge_keys_follow_yaml_rules() -> None:
    text = "d: &d {size: 1, align: 2}\nr: {<<: *d, size: 3}\nq: {size: 4, <<: [*d]}\n"
    parsed = parse(text.encode(), "m.yaml")
    assert plain(parsed.value) == yaml.safe_load(text)
