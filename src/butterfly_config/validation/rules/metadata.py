"""Rules on [metadata]: the cluster name that every node must share exactly.

Emptiness and the node_id format are schema constraints; this catches names
that look right to a person but compare differently between nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext


@rule("metadata.cluster-name")
def cluster_name_is_clean(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """A blank name, or one with surrounding spaces, silently splits a cluster."""
    name = config.metadata.cluster_name
    if not name.strip():
        yield ConfigIssue(
            path="metadata.cluster_name",
            message="the cluster name is blank",
            hint=(
                'name the cluster, e.g. cluster_name = "butterfly-main", '
                "identically on every node"
            ),
        )
    elif name != name.strip():
        yield ConfigIssue(
            path="metadata.cluster_name",
            message=(
                f"'{name}' has leading or trailing whitespace: nodes that write it without "
                "would belong to a different cluster"
            ),
            hint=f'write it as cluster_name = "{name.strip()}" on every node',
        )


RULES = (cluster_name_is_clean,)
