"""[cluster]: the members of the cluster, in their configured order.

The order matters: the coordinator of view v is members[(c + v) mod n]. An
empty list means standalone, a one-member cluster of this node alone.
"""

from __future__ import annotations

from .base import Section
from .options import option
from .types import Address, NodeId, PathText


class ClusterMember(Section):
    """One member: its id, where to reach it, and the key its signatures verify with."""

    node_id: NodeId
    addr: Address
    api_addr: Address
    public_key: PathText


class ClusterSection(Section):
    """Membership of the cluster."""

    members: tuple[ClusterMember, ...] = option(
        (), scope="cluster", mutability="static",
        description="Every member: {node_id, addr, api_addr, public_key}; empty means standalone.",
        example=(
            {
                "node_id": "node-001",
                "addr": "10.0.1.10:7890",
                "api_addr": "10.0.1.10:8080",
                "public_key": "/etc/butterfly/keys/node-001.pub",
            },
        ),
    )
