"""Rules on [cluster]: distinct members, coordinator among them, this node a member, key files."""

from __future__ import annotations

from pathlib import Path

import pytest
from validation_helpers import make_files, make_model, member_tables, paths_of, run_rule

from butterfly_config.validation.rules.cluster import public_key_is_path


def test_distinct_members_pass() -> None:
    model = make_model(cluster={"members": member_tables(4)})
    assert run_rule("cluster.unique-members", model) == []


@pytest.mark.parametrize(
    ("index", "field", "value", "earlier"),
    [
        (2, "node_id", "node-000", "cluster.members[0].node_id"),
        (3, "addr", "10.0.0.2:7890", "cluster.members[1].addr"),
        (3, "addr", "10.0.0.1:8080", "cluster.members[0].api_addr"),
        (1, "api_addr", "10.0.0.2:7890", "cluster.members[1].addr"),
        (2, "public_key", "a2V5LW9mLW5vZGUt0000", "cluster.members[0].public_key"),
    ],
)
def test_duplicates_are_errors_naming_the_first_owner(
    index: int, field: str, value: str, earlier: str
) -> None:
    members = member_tables(4)
    members[index][field] = value
    (issue,) = run_rule("cluster.unique-members", make_model(cluster={"members": members}))
    assert issue.path == f"cluster.members[{index}].{field}"
    assert issue.severity == "error"
    assert f"is already used by {earlier}" in issue.message


def test_duplicate_key_message_says_why_it_matters() -> None:
    members = member_tables(4)
    members[3]["public_key"] = members[1]["public_key"]
    (issue,) = run_rule("cluster.unique-members", make_model(cluster={"members": members}))
    assert issue.message.endswith("one signer would count as two votes in every quorum")


def test_coordinator_addr_should_be_a_member() -> None:
    members = member_tables(4)
    matching = make_model(
        {"network.coordinator_addr": "10.0.0.3:7890"}, cluster={"members": members}
    )
    assert run_rule("cluster.coordinator-member", matching) == []
    assert run_rule("cluster.coordinator-member", make_model()) == []  # standalone
    (issue,) = run_rule("cluster.coordinator-member", make_model(cluster={"members": members}))
    assert issue.severity == "warning"
    assert issue.path == "network.coordinator_addr"
    assert issue.message == (
        "'127.0.0.1:7890' is not the addr of any cluster member, so the first member "
        "'node-000' (10.0.0.1:7890) coordinates view 0"
    )


def test_this_node_should_be_a_member() -> None:
    members = member_tables(4)
    assert run_rule("cluster.node-membership", make_model(cluster={"members": members})) == []
    member = make_model({"node.node_id": "node-002"}, cluster={"members": members})
    assert run_rule("cluster.node-membership", member) == []
    stranger = make_model({"node.node_id": "node-999"}, cluster={"members": members})
    (issue,) = run_rule("cluster.node-membership", stranger)
    assert issue.severity == "warning"
    assert issue.path == "node.node_id"
    assert "node-000, node-001, node-002, node-003" in issue.message


@pytest.mark.parametrize(
    ("value", "is_path"),
    [
        ("/etc/butterfly/keys/node-001.pub", True),
        ("./keys/a", True),
        ("keys/node.pem", True),
        ("node.pub", True),
        ("~/keys/x", True),
        ("not base64!", True),
        ("MCowBQYDK2VwAyEA3Jx1vN3ZbC0oJ7lYw6h0Zt9t1H1dQm1c6jz7c1x0Q7M=", False),
        ("a2V5LW9mLW5vZGUt0000", False),
        # base64 keys may start with "/": a raw ed25519 key is a key whatever its first byte
        ("/UYTsPJfjkInVooGuZmgATFLRIYYU9N41zgJ6mV7uIk=", False),
        ("/etc/keys/abcd", True),
    ],
)
def test_public_key_paths_are_told_from_base64(value: str, is_path: bool) -> None:
    assert public_key_is_path(value) is is_path


def test_member_key_files_must_exist(tmp_path: Path) -> None:
    files = make_files(tmp_path, "keys/node-000.pub")
    members = member_tables(4)
    members[0]["public_key"] = files["keys/node-000.pub"]
    members[1]["public_key"] = "keys/node-000.pub"  # relative: resolved against base_dir
    members[2]["public_key"] = "keys/node-002.pub"
    model = make_model(cluster={"members": members})
    (issue,) = run_rule("cluster.member-keys", model, base_dir=tmp_path)
    assert issue.path == "cluster.members[2].public_key"
    assert issue.severity == "warning"
    assert issue.message == (
        f"public key file of member 'node-002' 'keys/node-002.pub' (resolved to "
        f"'{tmp_path}/keys/node-002.pub') does not exist"
    )
    (strict,) = run_rule("cluster.member-keys", model, base_dir=tmp_path, environment="staging")
    assert strict.severity == "error"
    assert run_rule("cluster.member-keys", model, check_paths=False) == []
    assert paths_of(run_rule("cluster.member-keys", model)) == [  # relative to the cwd
        "cluster.members[1].public_key",
        "cluster.members[2].public_key",
    ]
