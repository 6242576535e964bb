"""[node]: who this node is and where it keeps its files."""

from __future__ import annotations

from typing import Literal

from .base import Section
from .options import option
from .types import NodeId, NonEmptyStr, PathText

NodeRole = Literal["coordinator", "compute", "observer"]


class NodeSection(Section):
    """Identity, role and directories of this node."""

    node_id: NodeId | None = option(
        None, scope="node", mutability="static",
        description="Unique id of this node; generated and kept per data_dir if unset.",
        example="node-001",
    )
    role: NodeRole = option(
        "compute", scope="node", mutability="static",
        description="What the node does: coordinates work, computes, or only observes.",
    )
    data_dir: PathText = option(
        "/var/lib/butterfly", scope="node", mutability="static",
        description="Directory for persistent state: weights, checkpoints, configuration history.",
    )
    log_dir: NonEmptyStr = option(
        "/var/log/butterfly", scope="node", mutability="static",
        description="Directory for log files.",
    )
    temp_dir: NonEmptyStr = option(
        "/tmp/butterfly", scope="node", mutability="static",
        description="Scratch space, safe to wipe between runs.",
    )
    work_dir: NonEmptyStr | None = option(
        None, scope="node", mutability="static",
        description="Working directory of the process; the current directory if unset.",
        example="/opt/butterfly",
    )
