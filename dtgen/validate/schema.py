"""The JSON Schema check: one message per mistake, at the key or value it is about.

jsonschema reports a mistake inside `anyOf`/`oneOf` once per branch, plus the wrapper; this module
keeps the most specific error per place (its `best_match` relevance, descending into branch
context), names unknown keys one by one with a did-you-mean, and lets the schema name a rule id and
message (`x-rule`, `x-message`) where a plain "does not match '^...'" would help nobody.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from dtgen.diagnostics import Diagnostic, Span, error
from dtgen.yamlsrc import Value, YMap, YSeq

if TYPE_CHECKING:
    from jsonschema import Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "schemas" / "board.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, object]:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        loaded: dict[str, object] = json.load(f)
    return loaded


@lru_cache(maxsize=1)
def _validator() -> Validator:
    # Built once per process: `dtgen validate a.yaml b.yaml ...` pays for it once.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


@lru_cache(maxsize=1)
def _fast():  # type: ignore[no-untyped-def]
    """The validator generated ahead of time (fastgen.py), or None when it was generated from
    another schema than the one installed (then jsonschema decides alone)."""
    from dtgen.validate import _fast_board
    from dtgen.validate.fastgen import schema_digest

    return _fast_board.validate if _fast_board.SCHEMA_SHA256 == schema_digest(SCHEMA_PATH.read_bytes()) else None


def _fast_accepts(tree: Value) -> bool:
    """Whether the generated validator accepts the tree: most files in a hook are sound, and for
    them this is all the schema check costs. Anything it rejects (or trips on) goes to jsonschema,
    which words the errors."""
    fast = _fast()
    if fast is None:
        return False
    try:
        fast(tree)
    except Exception:  # its JsonSchemaValueException, or anything unexpected: let jsonschema speak
        return False
    return True


def check(tree: Value, root_span: Span) -> list[Diagnostic]:
    """Diagnostics for everything in `tree` that the schema refuses."""
    if not isinstance(tree, YMap):
        what = "empty" if tree is None else f"a {_kind(tree)}"
        return [
            error(
                "board-not-mapping",
                f"a board file is a mapping of keys (board, kernel, memory, ...); this one is {what}",
                root_span,
                "",
            )
        ]
    if _fast_accepts(tree):
        return []
    errors = list(_validator().iter_errors(tree))
    chosen: dict[tuple[str | int, ...], ValidationError] = {}
    missing: dict[tuple[str | int, ...], list[ValidationError]] = {}
    for err in errors:
        leaf = _most_specific(err)
        place = tuple(leaf.absolute_path)
        if leaf.validator == "required" and err is leaf:
            # Every missing key is its own mistake: all of them in one run, not one per round.
            missing.setdefault(place, []).append(leaf)
        if place not in chosen or _relevance(leaf) < _relevance(chosen[place]):
            chosen[place] = leaf
    found: list[Diagnostic] = []
    # A mistake in a child explains the parent's failure: keep only the deepest places. (A set
    # of ancestors, not a scan per place: a list of 5,000 wrong items made that quadratic.)
    ancestors = {place[:k] for place in chosen for k in range(len(place))}
    for place in sorted(chosen, key=lambda p: tuple(str(x) for x in p)):
        leaf = chosen[place]
        if leaf.validator == "required" and place in missing:
            continue  # said below, with every other key missing there
        if place in ancestors and leaf.validator not in ("additionalProperties", "unevaluatedProperties"):
            continue  # a branch that failed because of its child: the child's message says it
        found.extend(_diagnose(leaf, tree))
    # A missing key is a mistake of its own even where a child has another one; unless a worse
    # mistake at the same place explains it (an unknown key is usually the missing one misspelt).
    for place in sorted(missing, key=lambda p: tuple(str(x) for x in p)):
        if chosen[place].validator != "required":
            continue
        for err in missing[place]:
            found.extend(_diagnose(err, tree))
    return found


def _most_specific(err: ValidationError) -> ValidationError:
    from jsonschema.exceptions import best_match, relevance

    while err.context:
        deeper = best_match(_selected_branch(err), key=relevance)
        if deeper is None or len(deeper.absolute_path) < len(err.absolute_path):
            break
        # An anyOf of types (size: integer or string) says more as one error at its own level.
        if err.validator in ("anyOf", "oneOf") and all(
            len(e.absolute_path) == len(err.absolute_path) for e in err.context
        ) and _has_x(err):
            break
        err = deeper
    return err


def _selected_branch(err: ValidationError) -> list[ValidationError]:
    """The errors of the `oneOf`/`anyOf` branch the instance chose by its keys.

    A step `free: {x: 1}` chose the `free` branch; the `alloc` branch's "unknown key free" would
    mislead. A branch is chosen when every key it requires is present.
    """
    branches = err.validator_value if isinstance(err.validator_value, list) else []
    instance = err.instance
    if not isinstance(instance, dict):
        return list(err.context)
    chosen = {
        i
        for i, branch in enumerate(branches)
        if isinstance(branch, dict) and branch.get("required") and all(k in instance for k in branch["required"])
    }
    picked = [e for e in err.context if e.schema_path and e.schema_path[0] in chosen]
    return picked or list(err.context)


def _has_x(err: ValidationError) -> bool:
    return isinstance(err.schema, dict) and "x-rule" in err.schema


def _relevance(err: ValidationError) -> tuple[int, int]:
    # Prefer errors the schema gave a rule to, then the ones further down the path.
    return (0 if _has_x(err) else 1, -len(err.absolute_path))


def _diagnose(err: ValidationError, tree: YMap) -> Iterable[Diagnostic]:
    path = list(err.absolute_path)
    pointer = _pointer(path)
    where = describe(tree, path)
    value_span, key_span = locate(tree, path)
    schema_node = err.schema if isinstance(err.schema, dict) else {}
    rule = str(schema_node.get("x-rule", "schema"))
    value = err.instance
    if "x-message" in schema_node and err.validator not in ("required", "additionalProperties") and not (
        err.validator == "type" and isinstance(value, (dict, list))
    ):
        message = str(schema_node["x-message"]).format(value=_show(value), where=where or "value")
        yield error(rule, message, value_span, pointer)
        return
    if err.validator == "additionalProperties" and isinstance(value, YMap):
        allowed = sorted(err.schema.get("properties", {})) if isinstance(err.schema, dict) else []
        for key in value:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(allowed)}"
            yield error(
                "schema",
                f"unknown key `{key}` in {where or 'the board file'}",
                value.key_spans.get(key, value_span),
                _pointer([*path, key]),
                hint,
            )
        return
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        yield error("schema", f"{where or 'the board file'} is missing `{missing}`", value_span, pointer)
        return
    if err.validator == "type":
        wanted = err.validator_value
        names = [_JSON_TYPES.get(str(w), str(w)) for w in (wanted if isinstance(wanted, list) else [wanted])]
        wanted_text = " or ".join(names)
        yield error(
            "schema" if isinstance(value, (dict, list)) else rule,
            f"{where} must be {_article(wanted_text)}, not {_article(_kind(value))}",
            value_span,
            pointer,
        )
        return
    if err.validator == "enum":
        options = ", ".join(str(o) for o in err.validator_value)  # type: ignore[union-attr]  # an enum's value is its list
        yield error(rule, f"{where} must be one of {options}; got {_show(value)}", value_span, pointer)
        return
    negated = err.validator_value if isinstance(err.validator_value, dict) else {}
    if err.validator == "not" and "x-message" in negated:
        # The `not` schema names both keys; point at the second one the user wrote.
        keys = [k for k in negated.get("required", []) if isinstance(value, YMap) and k in value]
        at = max((value.key_spans[k] for k in keys), default=value_span) if isinstance(value, YMap) else value_span
        message = str(negated["x-message"]).format(where=where or "value", value=_show(value))
        yield error(str(negated.get("x-rule", rule)), message, at, pointer)
        return
    if err.validator in ("oneOf", "anyOf") and path and path[-2:-1] == ["steps"]:
        yield error(
            rule,
            f"{where} must be one step: `alloc: {{...}}` or `free: NAME`",
            value_span,
            pointer,
        )
        return
    if err.validator == "oneOf" and isinstance(value, YMap) and {"size", "buffer"} <= set(value):
        yield error(rule, f"{where} gives both `size` and `buffer`; give one", value_span, pointer)
        return
    if err.validator in ("oneOf", "anyOf") and isinstance(value, YMap):
        options = _required_options(err.validator_value)
        yield error(rule, f"{where} needs {options}", value_span, pointer)
        return
    yield error(rule, f"{where}: {_plain(err)}" if where else _plain(err), value_span, pointer)


def _required_options(branches: object) -> str:
    names: list[str] = []
    if isinstance(branches, list):
        for branch in branches:
            if isinstance(branch, dict):
                names.extend(f"`{n}`" for n in branch.get("required", []))
    return "one of " + " or ".join(names) if names else "a different shape"


def _plain(err: ValidationError) -> str:
    v = err.validator
    if v == "minItems":
        return f"needs at least {err.validator_value} item(s)"
    if v == "maxItems":
        return f"takes at most {err.validator_value} item(s)"
    if v == "minimum":
        return f"{_show(err.instance)} is below the minimum {err.validator_value}"
    if v == "maximum":
        return f"{_show(err.instance)} is above the maximum {err.validator_value}"
    if v == "pattern":
        return f"{_show(err.instance)} has characters or a form not allowed here"
    if v == "uniqueItems":
        return "lists the same item twice"
    if v == "minLength":
        return "must not be empty"
    if v == "propertyNames":
        return f"{_show(err.instance)} is not an allowed name here"
    return str(err.message)


_JSON_TYPES = {"array": "list", "object": "mapping", "null": "null", "integer": "integer", "string": "string", "boolean": "boolean",
               "number": "number"}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, YSeq)):
        return "list"
    if isinstance(value, (dict, YMap)):
        return "mapping"
    return "null" if value is None else type(value).__name__


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _show(value: object) -> str:
    if isinstance(value, str):
        return f"`{value}`" if len(value) <= 60 else f"`{value[:57]}...`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return "`null`"
    if isinstance(value, (int, float)):
        return f"`{value}`"
    return _article(_kind(value))


def _pointer(path: Sequence[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


_ITEM_NOUN = {
    "banks": "bank",
    "occupied": "occupied range",
    "regions": "region",
    "devices": "device",
    "map": "map rule",
    "scenarios": "scenario",
    "steps": "step",
    "alloc_ranges": "alloc range",
    "kinds": "kind",
    "include": "include",
}


def describe(tree: YMap, path: Sequence[object]) -> str:
    """`region \\`gfx\\`.size`, `scenario \\`hd\\` step 2.alloc`: where a path points, in words."""
    parts: list[str] = []
    nouns: list[str] = []
    node: object = tree
    parent_key = ""
    for step in path:
        if isinstance(step, int) and isinstance(node, list):
            noun = _ITEM_NOUN.get(parent_key, parent_key or "item")
            nouns.append(noun)
            item = node[step] if step < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            label = f"{noun} `{name}`" if isinstance(name, str) and _is_name(name) else f"{noun} {step + 1}"
            if parts and parts[-1] == parent_key:
                parts[-1] = label
            else:
                parts.append(label)
            node = item
        else:
            key = str(step)
            parts.append(key)
            parent_key = key
            node = node.get(key) if isinstance(node, dict) else None
    if len(parts) >= 2 and parts[-1] == "name" and nouns and parts[-2].startswith(nouns[-1]):
        parts[-2:] = [nouns[-1] + " name"]
    text = ""
    for part in parts:
        text = part if not text else (f"{text} {part}" if " " in part or part[0].isdigit() else f"{text}.{part}")
    return text


def _is_name(text: str) -> bool:
    return len(text) <= 64 and text.isprintable() and "`" not in text


def locate(tree: YMap, path: Sequence[object]) -> tuple[Span, Span]:
    """Spans of the value at `path` and of the key that names it (the same for list items)."""
    node: object = tree
    value_span = key_span = tree.span
    for step in path:
        if isinstance(node, YMap) and isinstance(step, str) and step in node:
            key_span = node.key_spans.get(step, value_span)
            value_span = node.value_spans.get(step, key_span)
            node = node[step]
        elif isinstance(node, YSeq) and isinstance(step, int) and step < len(node):
            value_span = key_span = node.item_spans[step]
            node = node[step]
        else:
            break
    if isinstance(node, YMap):
        # A mapping's own span is its first key; errors about the whole mapping point there.
        value_span = node.span
    return value_span, key_span
