"""Rules on [cluster] and this node's place in it: unique members, coordinator, keys."""

from __future__ import annotations

from collections.abc import Iterator

from butterfly_config.errors import ConfigIssue
from butterfly_config.key_text import public_key_is_path
from butterfly_config.schema.root import ConfigModel

from ..base import rule
from ..context import ValidationContext
from ..files import required_file_issue
from .network import split_address


@rule("cluster.unique-members")
def members_are_distinct(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Each member has its own node_id, addresses and key; one key must not vote twice.

    Peer and API addresses share one namespace: no two listeners anywhere in
    the member list may be the same host:port.
    """
    first_seen: dict[tuple[str, object], str] = {}
    for index, member in enumerate(config.cluster.members):
        prefix = f"cluster.members[{index}]"
        fields: tuple[tuple[str, str, object], ...] = (
            ("node_id", "node_id", member.node_id),
            ("addr", "address", split_address(member.addr)),
            ("api_addr", "address", split_address(member.api_addr)),
            ("public_key", "public_key", member.public_key.strip()),
        )
        for field, namespace, key in fields:
            owner = f"{prefix}.{field}"
            earlier = first_seen.setdefault((namespace, key), owner)
            if earlier == owner:
                continue
            consequence = (
                "one signer would count as two votes in every quorum"
                if field == "public_key"
                else "every member and listener must be told apart"
            )
            yield ConfigIssue(
                path=owner,
                message=f"'{getattr(member, field)}' is already used by {earlier}: {consequence}",
                hint=f"give every member its own {field}"
                + (" (and a port of its own for each listener)" if namespace == "address" else ""),
            )


@rule("cluster.coordinator-member")
def coordinator_is_a_member(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """coordinator_addr picks the first coordinator; matching no member falls back to index 0."""
    members = config.cluster.members
    if not members:
        return
    wanted = split_address(config.network.coordinator_addr)
    if any(split_address(member.addr) == wanted for member in members):
        return
    yield ConfigIssue(
        path="network.coordinator_addr",
        message=(
            f"'{config.network.coordinator_addr}' is not the addr of any cluster member, so "
            f"the first member '{members[0].node_id}' ({members[0].addr}) coordinates view 0"
        ),
        hint="set network.coordinator_addr to the addr of the member that should coordinate",
        severity="warning",
    )


@rule("cluster.node-membership")
def node_is_a_member(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """A node that is not in the member list cannot vote; usually a typo in node_id."""
    node_id = config.node.node_id
    members = config.cluster.members
    if node_id is None or not members:
        return
    if any(member.node_id == node_id for member in members):
        return
    known = ", ".join(member.node_id for member in members)
    yield ConfigIssue(
        path="node.node_id",
        message=(
            f"node '{node_id}' is not in cluster.members ({known}): it can follow the "
            "cluster but takes no part in agreement"
        ),
        hint="add this node to cluster.members or correct node.node_id",
        severity="warning",
    )


@rule("cluster.member-keys")
def member_key_files_exist(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    """Members whose public_key is a PEM path need that file on this machine."""
    if not ctx.check_paths:
        return
    for index, member in enumerate(config.cluster.members):
        if not public_key_is_path(member.public_key):
            continue
        found = required_file_issue(
            config,
            ctx,
            path=f"cluster.members[{index}].public_key",
            raw=member.public_key.strip(),
            what=f"public key file of member '{member.node_id}'",
            hint=(
                "copy the member's .pub file there, or paste the base64 public_key that "
                "`butterfly keys generate` printed for it"
            ),
        )
        if found is not None:
            yield found


RULES = (
    members_are_distinct,
    coordinator_is_a_member,
    node_is_a_member,
    member_key_files_exist,
)
