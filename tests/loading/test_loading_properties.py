"""Property tests: round trips, merge algebra, idempotent validation, hash invariance, env."""

from __future__ import annotations

import json
import random
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from loading_strategies import leaf_strategies, leaf_values, nested
from pydantic import ValidationError

from butterfly_config.canonical import cluster_hash, full_hash
from butterfly_config.config import ButterflyConfig, LoadSettings, build_config
from butterfly_config.errors import ValidationFailed
from butterfly_config.merge import merge_layers
from butterfly_config.schema import registry
from butterfly_config.schema.root import ConfigModel
from butterfly_config.sources import Layer, Source, env_layer, file_layers, get_path
from butterfly_config.sources.schema_map import leaf_kind
from butterfly_config.sources.toml_writer import key as toml_key
from butterfly_config.sources.toml_writer import value as toml_value

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
NO_PATHS = LoadSettings(check_paths=False, gpu_count=0)


def valid_model(flat: dict[str, Any]) -> ConfigModel:
    try:
        return ConfigModel.model_validate(nested(flat))
    except ValidationError:
        assume(False)
        raise


def model_from_files(main: Path) -> ConfigModel:
    """Files -> layers -> merge -> model: the loader's path, minus the machine-dependent rules."""
    includes, top = file_layers(main)
    values, _ = merge_layers([*includes, top])
    return ConfigModel.model_validate(values)


# -- TOML round trip -------------------------------------------------------------------
@PROPERTY
@given(leaf_values(max_size=12))
def test_toml_round_trip_of_arbitrary_valid_configs(flat: dict[str, Any]) -> None:
    model = valid_model(flat)
    text = ButterflyConfig(model).to_toml()
    again = ConfigModel.model_validate(tomllib.loads(text))
    assert again == model
    assert full_hash(again) == full_hash(model)


# -- merge -----------------------------------------------------------------------------
def _layer(flat: dict[str, Any], name: str) -> Layer:
    source = Source("file", name)
    return Layer(nested(flat), {path: source for path in flat})


def _as_layer(merged: tuple[dict[str, Any], dict[str, Source]]) -> Layer:
    return Layer(merged[0], merged[1])


@PROPERTY
@given(leaf_values(10), leaf_values(10), leaf_values(10))
def test_merge_is_associative(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    la, lb, lc = _layer(a, "a"), _layer(b, "b"), _layer(c, "c")
    before = json.dumps([la.values, lb.values, lc.values], sort_keys=True, default=str)
    left = merge_layers([_as_layer(merge_layers([la, lb])), lc])
    right = merge_layers([la, _as_layer(merge_layers([lb, lc]))])
    flat = merge_layers([la, lb, lc])
    assert left == right == flat
    expected = {**a, **b, **c}
    for path, value in expected.items():
        assert get_path(flat[0], path) == value
        assert flat[1][path].name == ("c" if path in c else "b" if path in b else "a")
    after = json.dumps([la.values, lb.values, lc.values], sort_keys=True, default=str)
    assert before == after  # inputs untouched


# -- validation ------------------------------------------------------------------------
def _outcome(values: dict[str, Any]) -> tuple[str, Any]:
    try:
        config = build_config(values, {}, [], NO_PATHS)
    except ValidationFailed as exc:
        return "refused", [i.render() for i in exc.errors]
    return "valid", (config.model, [w.render() for w in config.warnings])


@PROPERTY
@given(leaf_values(max_size=12))
def test_validation_is_idempotent(flat: dict[str, Any]) -> None:
    values = nested(flat)
    first = _outcome(values)
    assert _outcome(values) == first
    if first[0] == "valid":
        model = first[1][0]
        again = _outcome(model.model_dump(exclude_none=True))
        assert again == first


# -- hash invariance -------------------------------------------------------------------
def _dotted_lines(flat: dict[str, Any], rng: random.Random) -> list[str]:
    lines = []
    for path, value in flat.items():
        dotted = ".".join(toml_key(part) for part in path.split("."))
        spaces = " " * rng.randint(0, 3)
        lines.append(f"{spaces}{dotted}{spaces}={' ' * rng.randint(1, 3)}{toml_value(value)}")
        if rng.random() < 0.3:
            lines.append(f"# comment {rng.random()}")
        if rng.random() < 0.3:
            lines.append("")
    rng.shuffle(lines)
    return lines


@PROPERTY
@given(leaf_values(max_size=14), st.randoms(use_true_random=False))
def test_hash_is_invariant_under_layout_order_comments_and_include_splitting(
    flat: dict[str, Any], rng: random.Random
) -> None:
    model = valid_model(flat)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = root / "plain.toml"
        plain.write_text(ButterflyConfig(model).to_toml(), encoding="utf-8")
        # the same options: shuffled, dotted keys, comments and blank lines, split in two files
        paths = list(flat)
        rng.shuffle(paths)
        cut = rng.randint(0, len(paths))
        included = {p: flat[p] for p in paths[:cut]}
        own = {p: flat[p] for p in paths[cut:]}
        (root / "part.toml").write_text("\n".join(_dotted_lines(included, rng)) + "\n")
        main = root / "main.toml"
        main.write_text("# split\n" + "\n".join(_dotted_lines(own, rng))
                        + "\n\n[include]\nfiles = ['part.toml']\n", encoding="utf-8")
        first, second = model_from_files(plain), model_from_files(main)
    assert cluster_hash(first) == cluster_hash(second) == cluster_hash(model)
    assert full_hash(first) == full_hash(second) == full_hash(model)


# -- environment -----------------------------------------------------------------------
def _env_text(value: Any, path: str, rng: random.Random) -> str:
    kind = leaf_kind(path)
    assert kind is not None
    if kind.name == "bool":
        return rng.choice(["true", "1", "yes", "on"] if value else ["false", "0", "no", "off"])
    if kind.name in ("int", "float"):
        return repr(value)
    if kind.name == "str":
        return str(value)
    if kind.name == "list":
        items = kind.item
        if items is not None and items.name in ("int", "float") and value and rng.random() < 0.5:
            return ",".join(repr(v) for v in value)
        return json.dumps(value)
    return json.dumps(value)


def _env_name(path: str, rng: random.Random) -> str:
    parts = path.upper().split(".")
    separators = [rng.choice(["_", "__"]) for _ in parts[1:]] + [""]
    return "BUTTERFLY_" + "".join(part + sep for part, sep in zip(parts, separators, strict=True))


LEAVES = sorted(leaf_strategies())


@PROPERTY
@given(st.sampled_from(LEAVES).flatmap(lambda p: st.tuples(st.just(p), leaf_strategies()[p])),
       st.randoms(use_true_random=False))
def test_every_leaf_is_settable_through_its_environment_variable(
    case: tuple[str, Any], rng: random.Random
) -> None:
    path, value = case
    expected = valid_model({path: value})
    name = _env_name(path, rng)
    layer = env_layer({name: _env_text(value, path, rng)})
    assert layer.issues == []
    assert layer.origins == {path: Source("env", name)}
    model = ConfigModel.model_validate(merge_layers([layer])[0])
    assert model == expected


def test_every_leaf_has_a_strategy() -> None:
    missing = [p for p in registry.options() if p not in leaf_strategies()]
    assert missing == ["include.files"]


@pytest.mark.parametrize("path", ["observability.logging.filters", "partition.model_hints"])
def test_free_form_tables_are_replaced_whole(path: str) -> None:
    first = Layer(nested({path: {"a": {"x": 1}} if "hints" in path else {"a": "debug"}}))
    second = Layer(nested({path: {"b": {"y": 2}} if "hints" in path else {"b": "info"}}))
    merged, _ = merge_layers([first, second])
    assert get_path(merged, path) == get_path(second.values, path)
