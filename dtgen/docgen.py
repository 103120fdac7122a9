"""The README's reference sections, generated from the schema and the rule table so that the
documentation cannot drift from the contract.

`python -m dtgen.docgen` prints both; tests/test_readme.py checks the README holds them verbatim.
"""

from __future__ import annotations

from typing import Any, Iterator

from dtgen.validate.schema import schema

Node = dict[str, Any]  # a JSON Schema node: JSON, whose values are any JSON


def _resolve(node: Node, root: Node) -> Node:
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        merged = dict(target)
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


def _type_text(node: Node, root: Node) -> str:
    node = _resolve(node, root)
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if node.get("x-rule") == "size-syntax" or node.get("anyOf") and node.get("description", "").startswith("Bytes"):
        return "size"
    if node.get("x-rule") == "name-identifier":
        return "identifier" if node.get("pattern", "").startswith("^(?!") else "name"
    kind = node.get("type")
    if kind == "array":
        items = node.get("items", {})
        return f"list of {_type_text(items, root)}"
    if kind == "object":
        return "mapping"
    if isinstance(kind, list):
        return " \\| ".join(kind)
    if "anyOf" in node:
        return " or ".join(_type_text(n, root) for n in node["anyOf"])
    return str(kind or "see below")


def _rows(node: Node, root: Node, prefix: str) -> Iterator[str]:
    node = _resolve(node, root)
    required = set(node.get("required", ()))
    for key, child in node.get("properties", {}).items():
        child = _resolve(child, root)
        path = f"{prefix}{key}"
        default = child.get("default")
        default_text = f"`{str(default).lower() if isinstance(default, bool) else default}`" if default is not None else ""
        need = "yes" if key in required else ""
        text = str(child.get("description", "")).replace("|", "\\|").replace("\n", " ")
        yield f"| `{path}` | {_type_text(child, root)} | {need} | {default_text} | {text} |"
        target = child
        suffix = "."
        if child.get("type") == "array":
            target = _resolve(child.get("items", {}), root)
            suffix = "[]."
        if target.get("type") == "object" and "properties" in target:
            yield from _rows(target, root, f"{path}{suffix}")
        elif "oneOf" in target:
            for branch in target["oneOf"]:
                yield from _rows(branch, root, f"{path}{suffix}")


def markdown() -> str:
    root = schema()
    lines = ["| key | type | required | default | meaning |", "|---|---|---|---|---|"]
    lines.extend(_rows(root, root, ""))
    return "\n".join(lines) + "\n"


def rules_markdown() -> str:
    from dtgen.validate.registry import STAGES, all_rules

    lines = ["| rule | severity | stage | what it reports |", "|---|---|---|---|"]
    for info in sorted(all_rules().values(), key=lambda r: (STAGES.index(r.stage), r.id)):
        summary = info.summary.replace("|", "\\|")
        lines.append(f"| `{info.id}` | {info.severity.value} | {info.stage} | {summary} |")
    return "\n".join(lines) + "\n"


SECTIONS = {"board-file": markdown, "rules": rules_markdown}


def render_into(readme: str) -> str:
    """The README with every `<!-- generated:NAME -->...<!-- end:NAME -->` block regenerated."""
    for name, make in SECTIONS.items():
        start, end = f"<!-- generated:{name} -->\n", f"<!-- end:{name} -->"
        head, found, rest = readme.partition(start)
        if not found:
            continue
        _, found_end, tail = rest.partition(end)
        if found_end:
            readme = head + start + make() + end + tail
    return readme


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        with open("README.md", encoding="utf-8") as f:
            text = f.read()
        with open("README.md", "w", encoding="utf-8") as f:
            f.write(render_into(text))
    else:
        print(markdown() + "\n" + rules_markdown(), end="")
