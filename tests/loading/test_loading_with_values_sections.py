"""`with_values` re-validates only the sections a change touches; the result must be
exactly what validating the whole document gives, issues and provenance included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butterfly_config import ButterflyConfig, ConfigLoader
from butterfly_config.errors import ConfigError
from butterfly_config.schema import registry
from butterfly_config.sources.overrides import runtime_layer
from odd_option_values import ODD_VALUES

DEV = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}
PATHS = sorted(path for path in registry.options() if not path.startswith("include."))


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> ButterflyConfig:
    return ConfigLoader().add_file(reference_dir / "config_schema.toml").set_environ(DEV).load()


def _value_for(path: str, reference: ButterflyConfig) -> st.SearchStrategy[Any]:
    current = reference.get_value(path)
    plain = current.model_dump(mode="json") if hasattr(current, "model_dump") else current
    near: list[Any] = [plain, registry.options()[path].default]
    if isinstance(plain, bool):
        near.append(not plain)
    elif isinstance(plain, int):
        near += [plain + 1, plain - 1, str(plain + 1)]
    elif isinstance(plain, float):
        near += [plain * 2, plain + 0.25]
    return st.sampled_from(near) | st.sampled_from(ODD_VALUES)


@st.composite
def _changes(draw: st.DrawFn, reference: ButterflyConfig) -> dict[str, Any]:
    paths = draw(st.lists(st.sampled_from(PATHS), min_size=0, max_size=4, unique=True))
    return {path: draw(_value_for(path, reference)) for path in paths}


def _outcome(build: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        config = build(*args, **kwargs)
    except ConfigError as exc:
        return "refused", [(i.path, i.message, i.rule, i.severity, i.file, i.line)
                           for i in exc.errors]
    # whatever is accepted can be hashed, written and agreed on
    assert len(config.cluster_hash) == 64 and len(config.full_hash) == 64
    config.to_toml()
    return "built", (config.to_canonical(), config.origins, config.warnings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_section_builds_equal_whole_builds(reference: ButterflyConfig, data: st.DataObject) -> None:
    changes = data.draw(_changes(reference))
    for revision in (None, 7):
        quick = _outcome(reference.with_values, changes, revision=revision)
        whole = _outcome(reference._with_layer, runtime_layer(changes, revision))
        assert quick == whole


def test_section_builds_keep_untouched_sections_shared(reference: ButterflyConfig) -> None:
    changed = reference.with_values({"network.compression.level": 2})
    assert changed.model.network.compression.level == 2
    assert changed.model.security is reference.model.security
    assert changed.model.network is not reference.model.network


def test_section_builds_chain_like_whole_builds(reference: ButterflyConfig) -> None:
    quick, whole = reference, reference
    for step, changes in enumerate([{"network.compression.level": 2},
                                    {"scheduling.policy": "least_loaded"},
                                    {"network.compression.level": 4, "node.role": "observer"}]):
        quick = quick.with_values(changes, revision=step)
        whole = whole._with_layer(runtime_layer(changes, step))
        assert quick.to_canonical() == whole.to_canonical()
        assert quick.origins == whole.origins
        assert quick.cluster_hash == whole.cluster_hash


def test_the_root_model_has_no_validators_of_its_own() -> None:
    # what makes validating only the touched sections exact: add a root validator and
    # `with_values` must validate the whole model again
    from butterfly_config.schema.root import ConfigModel

    decorators = ConfigModel.__pydantic_decorators__
    assert not decorators.model_validators and not decorators.field_validators
    for name, field in ConfigModel.model_fields.items():
        assert field.metadata == [], name
        assert isinstance(field.annotation, type), name
