"""`ButterflyConfig`: typed access, with_values, diff, hashes, TOML round trip, redaction."""

from __future__ import annotations

import base64
import datetime
import tomllib
from pathlib import Path

import pytest

from butterfly_config import ButterflyConfig, ConfigLoader
from butterfly_config.canonical import canonical_bytes, cluster_hash, digest, full_hash
from butterfly_config.config import ConfigChange
from butterfly_config.errors import ConfigError
from butterfly_config.redact import MASK, redact_text, redact_tree, redact_value
from butterfly_config.schema import registry
from butterfly_config.sources import Source

DEV = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> ButterflyConfig:
    return ConfigLoader().add_file(reference_dir / "config_schema.toml").set_environ(DEV).load()


def test_get_value_leaf_section_and_unknown(reference: ButterflyConfig) -> None:
    assert reference.get_value("byzantine.f_value") == 1
    section = reference.get_value("network.connection")
    assert section.max_connections == 1000
    with pytest.raises(KeyError, match=r"did you mean byzantine\.f_value"):
        reference.get_value("byzantine.f_valu")


def test_with_values_returns_a_new_validated_config(reference: ButterflyConfig) -> None:
    changed = reference.with_values({"scheduling.policy": "least_loaded",
                                     "network.connection.max_connections": "2000"}, revision=7)
    assert changed.get_value("scheduling.policy") == "least_loaded"
    assert changed.get_value("network.connection.max_connections") == 2000  # text parsed by type
    assert reference.get_value("scheduling.policy") == "predictive"  # unchanged
    assert changed.provenance("scheduling.policy") == Source("runtime", "revision 7")
    assert changed.provenance("network.protocol").kind == "file"  # other origins kept
    assert changed.cluster_hash != reference.cluster_hash


def test_with_values_keeps_every_other_origin(reference: ButterflyConfig) -> None:
    changes = {"scheduling.policy": "least_loaded", "network.compression.level": 4}
    changed = reference.with_values(changes, revision=3)
    expected = {**reference.origins, **dict.fromkeys(changes, Source("runtime", "revision 3"))}
    assert changed.origins == expected
    again = changed.with_values({"network.compression.level": 5}, revision=4)
    assert again.origins == {**expected, "network.compression.level": Source("runtime",
                                                                             "revision 4")}


def test_with_values_reports_every_issue(reference: ButterflyConfig) -> None:
    with pytest.raises(ConfigError) as caught:
        reference.with_values({"byzantine.f_value": 0, "network.protocol": "udp", "no.such": 1})
    paths = {i.path for i in caught.value.errors if i.severity == "error"}
    assert paths == {"byzantine.f_value", "network.protocol", "no.such"}


def test_config_is_immutable(reference: ButterflyConfig) -> None:
    with pytest.raises(AttributeError):
        reference._model = None  # type: ignore[assignment]


def test_diff_lists_changed_paths_with_category(reference: ButterflyConfig) -> None:
    other = reference.with_values({"scheduling.policy": "least_loaded", "node.role": "observer"})
    assert reference.diff(other) == [
        ConfigChange("node.role", "compute", "observer", "static-local"),
        ConfigChange("scheduling.policy", "predictive", "least_loaded", "dynamic-consensus"),
    ]
    assert reference.diff(reference) == []


def test_cluster_hash_ignores_node_local_options(reference: ButterflyConfig) -> None:
    local = reference.with_values(
        {"node.node_id": "node-002", "observability.logging.level": "debug"}
    )
    assert local.cluster_hash == reference.cluster_hash
    assert local.full_hash != reference.full_hash


def test_hash_functions_agree_with_cached_properties(reference: ButterflyConfig) -> None:
    assert reference.cluster_hash == cluster_hash(reference.model)
    assert reference.full_hash == full_hash(reference.model)
    assert len(reference.cluster_hash) == 64


def test_the_cluster_document_hashes_to_the_cluster_hash(reference: ButterflyConfig) -> None:
    fresh = reference.with_values({"network.compression.level": 2})
    document = fresh.cluster_document()  # keeps the hash it implies
    assert document == canonical_bytes(fresh.model, cluster_only=True)
    assert fresh.cluster_hash == cluster_hash(fresh.model) == digest(document)
    assert fresh.full_hash == full_hash(fresh.model)


def test_canonical_bytes_are_sorted_compact_utf8(reference: ButterflyConfig) -> None:
    data = canonical_bytes(reference.model)
    assert b" " not in data.replace(b'" ', b"").split(b'":')[0]
    assert b'"include"' not in data
    assert data.startswith(b'{"advanced":')
    data.decode("utf-8")


def test_integral_floats_in_free_form_tables_hash_like_integers() -> None:
    a = ButterflyConfig.defaults().with_values({"partition.model_hints": {"m": {"n": 8}}})
    b = ButterflyConfig.defaults().with_values({"partition.model_hints": {"m": {"n": 8.0}}})
    assert a.cluster_hash == b.cluster_hash


def test_cluster_view_holds_only_cluster_scope(reference: ButterflyConfig) -> None:
    view = reference.cluster_view()
    assert view["byzantine"]["f_value"] == 1
    assert "node" not in view
    scopes = {registry.options()[p].scope for p in _leaves(view)}
    assert scopes == {"cluster"}


def _leaves(document: dict[str, object], prefix: str = "") -> list[str]:
    out = []
    for key, value in document.items():
        path = prefix + key
        if registry.option_info(path) is not None:
            out.append(path)
        elif isinstance(value, dict):
            out.extend(_leaves(value, path + "."))
    return out


def test_to_toml_round_trips(reference: ButterflyConfig, tmp_path: Path) -> None:
    text = reference.to_toml()
    assert tomllib.loads(text) == reference.to_dict()
    path = tmp_path / "again.toml"
    path.write_text(text)
    again = ConfigLoader().add_file(path).set_environ(DEV).load()
    assert again == reference and again.full_hash == reference.full_hash


def test_canonical_bytes_round_trip(reference: ButterflyConfig) -> None:
    data = reference.to_canonical()
    again = ButterflyConfig.from_canonical(data)
    assert again == reference
    assert again.full_hash == reference.full_hash and again.cluster_hash == reference.cluster_hash
    assert len(data) < 16 * 1024
    with pytest.raises(ConfigError):
        ButterflyConfig.from_canonical(b'{"byzantine": {"f_value": "one"}}')


def test_to_toml_writes_members_as_array_of_tables() -> None:
    members = [
        {"node_id": f"n{i}", "addr": f"10.0.0.{i}:7890", "api_addr": f"10.0.0.{i}:8080",
         "public_key": base64.b64encode(bytes([i]) * 32).decode()}
        for i in range(1, 5)
    ]
    config = ButterflyConfig.defaults().with_values({"cluster.members": members})
    assert config.to_toml().count("[[cluster.members]]") == 4
    assert tomllib.loads(config.to_toml())["cluster"]["members"] == members


def test_redaction() -> None:
    assert redact_text("otlp://user:hunter2@collector:4317/x") == "otlp://user:***@collector:4317/x"
    assert redact_text("no secrets here") == "no secrets here"
    assert redact_value("observability.tracing.endpoint", "http://a:b@h") == "http://a:***@h"
    tree = redact_tree({"observability": {"tracing": {"endpoint": "http://a:b@h"}}})
    assert tree == {"observability": {"tracing": {"endpoint": f"http://a:{MASK}@h"}}}


def test_secret_options_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    import butterfly_config.redact as redact

    monkeypatch.setattr(redact, "is_secret", lambda path: path == "metadata.description")
    assert redact.redact_value("metadata.description", "s3cret") == MASK
    assert redact.redact_tree({"metadata": {"description": "s3cret", "cluster_name": "c"}}) == {
        "metadata": {"description": MASK, "cluster_name": "c"}
    }


def test_url_credentials_never_reach_an_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        ConfigLoader().set_environ({}).override_value(
            "observability.tracing.endpoint", "http://user:hunter2@collector"
        ).override_value("byzantine.f_value", 0).load()
    rendered = "\n".join(i.render() for i in caught.value.errors)
    assert "hunter2" not in rendered


def test_shared_field_sets_are_read_only_and_copies_are_not(reference: ButterflyConfig) -> None:
    section = reference.model.network.connection
    with pytest.raises(TypeError):
        section.model_fields_set.add("x")
    other = ConfigLoader().set_environ({}).load()
    copied = other.model.network.model_copy(update={"protocol": "tcp"})
    assert copied.protocol == "tcp" and "protocol" in copied.model_fields_set
    fresh = reference.with_values({"network.protocol": "tcp"})
    assert fresh.model.network.connection.model_fields_set is section.model_fields_set


def test_integral_floats_in_free_form_tables_are_held_as_integers() -> None:
    # the agreed document writes 8.0 as 8, so that is what every other member holds
    config = ButterflyConfig.defaults().with_values(
        {"partition.model_hints": {"m": {"n": 8.0, "xs": [2.0, 2.5]}}})
    hints = config.model.partition.model_hints["m"]
    assert hints["n"] == 8 and type(hints["n"]) is int
    assert hints["xs"] == [2, 2.5] and type(hints["xs"][0]) is int


@pytest.mark.parametrize(("value", "says"), [
    (2**70, "integers are 64-bit"),
    (float("inf"), "must be a finite number"),
    (float("nan"), "must be a finite number"),
    (datetime.date(2026, 1, 2), "a date cannot be agreed on by the cluster; write it as a string"),
    (None, "TOML has no null; leave the key out"),
])
def test_free_form_values_json_cannot_carry_are_refused(value: object, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ButterflyConfig.defaults().with_values({"partition.model_hints": {"m": {"n": value}}})
    issue = caught.value.errors[0]
    assert issue.path == "partition.model_hints"
    assert issue.message.startswith(f"m.n: {says}")


def test_infinite_floats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("[byzantine]\ntimeout_multiplier = inf\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        ConfigLoader().add_file(path).set_environ({}).load()
    errors = [i for i in caught.value.errors if i.severity == "error"]
    assert [(i.path, i.line) for i in errors] == [("byzantine.timeout_multiplier", 2)]
    assert "finite number" in errors[0].message
