"""Property: whatever the input, every leaf is accounted for exactly once, never dropped."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.migrations import migrate_document
from butterfly_config.migrations.engine import iter_leaves
from butterfly_config.migrations.legacy_0_9 import RULES
from butterfly_config.schema import registry

_KNOWN_PATHS = [rule.source for rule in RULES] + list(registry.options())[:60] + [
    "model.extra", "timeouts.other_ms", "node.nickname", "cluster.members",
    "observability.logging.filters", "metadata.config_version",
]

_scalars = st.one_of(
    st.integers(-5, 2**40), st.booleans(), st.text(max_size=8),
    st.sampled_from(["1GB", "512MB", "zstd", "none", "worker", "coordinator", "lz4", "2TB"]),
    st.lists(st.integers(0, 9), max_size=3),
)


def _document(paths_and_values: list[tuple[str, Any]]) -> dict[str, Any]:
    """Nest the pairs, skipping any path that would put a table under a leaf or vice versa."""
    root: dict[str, Any] = {}
    for path, value in paths_and_values:
        *sections, leaf = path.split(".")
        table = root
        ok = True
        for name in sections:
            nxt = table.setdefault(name, {})
            if not isinstance(nxt, dict):
                ok = False
                break
            table = nxt
        if ok and leaf not in table:
            table[leaf] = value
    return root


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_KNOWN_PATHS), _scalars), max_size=25))
def test_every_input_leaf_is_mapped_or_unmapped(pairs: list[tuple[str, Any]]) -> None:
    document = _document(pairs)
    result = migrate_document(document, "legacy", "1.0")
    keeps = lambda p: registry.option_info(p) is not None  # noqa: E731
    inputs = [path for path, _ in iter_leaves(document, keeps)]
    sources = [m.source for m in result.report.mapped] + [u.source for u in result.report.unmapped]
    assert sorted(sources) == sorted(inputs)
    # The output holds only schema options, each placed by exactly one input key (or the step).
    outputs = [path for path, _ in iter_leaves(result.document, keeps)]
    assert all(registry.option_info(path) is not None for path in outputs)
    assert result.document["metadata"]["config_version"] == "1.0.0"
