"""docs/reference.md, generated from the schema so it can never disagree with it.

Regenerate with:  python -m butterfly_config.schema.docgen > docs/reference.md
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from .options import Category, OptionInfo
from .registry import options, section_description, section_paths

REGENERATE = "python -m butterfly_config.schema.docgen > docs/reference.md"

_CATEGORY_MEANING: tuple[tuple[Category, str, str, str], ...] = (
    ("static-critical", "cluster", "static",
     "must be equal on every node; changing it needs a coordinated restart"),
    ("static-local", "node", "static",
     "this node only; changing it needs a restart of this node"),
    ("dynamic-consensus", "cluster", "dynamic",
     "changed at runtime for the whole cluster through the agreement protocol"),
    ("dynamic-local", "node", "dynamic",
     "changed at runtime on one node, without consensus"),
)


def render_default(value: Any) -> str:
    """A default as it would be written in TOML-ish JSON; None is "unset"."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        value = [item.model_dump() if hasattr(item, "model_dump") else item for item in value]
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(info: OptionInfo, name: str) -> str:
    cells = (
        f"`{name}`",
        info.type_label,
        render_default(info.default),
        info.scope,
        info.mutability,
        info.category,
        info.unit or "",
        info.description,
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _summary(all_options: dict[str, OptionInfo]) -> list[str]:
    counts = Counter(info.category for info in all_options.values())
    lines = [
        "| Category | Scope | Mutability | Meaning | Options |",
        "| --- | --- | --- | --- | --- |",
    ]
    for category, scope, mutability, meaning in _CATEGORY_MEANING:
        lines.append(f"| {category} | {scope} | {mutability} | {meaning} | {counts[category]} |")
    return lines


def render_reference() -> str:
    """The whole reference document as Markdown."""
    all_options = dict(options())
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from the schema; do not edit. Regenerate with:",
        f"     {REGENERATE} -->",
        "",
        f"Every option of a Butterfly configuration file ({len(all_options)} options), grouped",
        "by table, with its type, default, scope, mutability and unit. *Scope* says whether",
        "the value must be the same on every node (`cluster`, part of the cluster hash) or",
        "belongs to one node (`node`); *mutability* whether a running node can adopt a new",
        "value (`dynamic`) or needs a restart (`static`). Together they give the category:",
        "",
        *_summary(all_options),
        "",
        "An option whose default is *unset* may be left out; the description says what",
        "happens then. `network.api_addr` and the `[cluster]` table extend the published",
        "option set. `butterfly config explain KEY` prints the same facts for one option,",
        "`butterfly config init --output FILE` writes an annotated file with every default,",
        "`butterfly config schema` the JSON Schema that TOML editors check files against.",
    ]
    by_table: dict[str, list[tuple[str, OptionInfo]]] = {}
    for path, info in all_options.items():
        table, _, name = path.rpartition(".")
        by_table.setdefault(table, []).append((name, info))
    for table in section_paths():
        depth = table.count(".")
        out += ["", f"{'#' * min(2 + depth, 4)} [{table}]", ""]
        description = section_description(table)
        if description:
            out += [description, ""]
        rows = by_table.get(table, [])
        if not rows:
            out.pop()
            continue
        out += [
            "| Option | Type | Default | Scope | Mutability | Category | Unit | Description |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *(_row(info, name) for name, info in rows),
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    sys.stdout.write(render_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
