"""The reference option file as real input, and the exact text operators see (golden tests)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from validation_helpers import SECURE_FILES, make_model, member_tables

from butterfly_config.errors import ValidationFailed
from butterfly_config.loader import ConfigLoader
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext


@pytest.fixture(scope="module")
def reference_model(reference_dir: Path) -> ConfigModel:
    with (reference_dir / "config_schema.toml").open("rb") as handle:
        return ConfigModel.model_validate(tomllib.load(handle))


def test_reference_in_development_gives_only_warnings(reference_model: ConfigModel) -> None:
    ctx = ValidationContext(environment="development", gpu_count=0)
    issues = ConfigValidator().validate(reference_model, ctx)
    assert issues, "the reference file names certificate files that do not exist here"
    assert {i.severity for i in issues} == {"warning"}
    paths = {i.path for i in issues}
    assert set(SECURE_FILES) <= paths
    assert "cluster.members" in paths  # standalone


def test_reference_in_production_errors_name_the_missing_files(
    reference_model: ConfigModel,
) -> None:
    issues = ConfigValidator().validate(reference_model, ValidationContext(gpu_count=0))
    errors = [i for i in issues if i.severity == "error"]
    assert {i.path for i in errors} >= set(SECURE_FILES)
    for issue in errors:
        assert issue.path in SECURE_FILES or issue.path == "observability.logging.file_path"
        assert "'/etc/butterfly/" in issue.message or "'/var/log/" in issue.message
    assert [i.path for i in issues if i.severity == "warning"] == ["cluster.members"]


def test_reference_without_path_checks_is_clean_but_standalone(
    reference_model: ConfigModel,
) -> None:
    ctx = ValidationContext(gpu_count=0, check_paths=False)
    issues = ConfigValidator().validate(reference_model, ctx)
    assert [(i.rule, i.severity) for i in issues] == [("byzantine.cluster-size", "warning")]


def test_reference_through_the_loader(reference_dir: Path) -> None:
    reference = reference_dir / "config_schema.toml"
    loaded = (
        ConfigLoader().add_file(reference).set_environ({}).set_gpu_count(0)
        .set_environment("development").load()
    )
    assert {w.rule for w in loaded.warnings} >= {"security.tls-files", "byzantine.cluster-size"}
    with pytest.raises(ValidationFailed) as refused:
        ConfigLoader().add_file(reference).set_environ({}).set_gpu_count(0).load()
    located = [i for i in refused.value.errors if i.path == "security.tls.cert_file"]
    assert located and located[0].file == str(reference)
    assert located[0].line is not None


GOLDEN_F_TOO_LARGE = """\
error: byzantine.f_value: 4 members cannot tolerate f=2 Byzantine faults: BFT agreement \
needs n >= 3f+1 = 7 members (quorum q = ceil((n+f+1)/2) = 5 of 7); '2f+1 nodes' is enough \
only for crash faults [byzantine.cluster-size]
  hint: add 3 more members to cluster.members, or lower byzantine.f_value to 1 \
(the most 4 members tolerate)"""


def test_golden_f_too_large_for_the_members() -> None:
    model = make_model({"byzantine.f_value": 2}, cluster={"members": member_tables(4)})
    ctx = ValidationContext(environment="production", check_paths=False)
    (issue,) = [i for i in ConfigValidator().validate(model, ctx) if i.severity == "error"]
    assert issue.render() == GOLDEN_F_TOO_LARGE


GOLDEN_MISSING_CERT = """\
error: security.tls.cert_file: TLS certificate file '/etc/butterfly/certs/node.crt' does not \
exist [security.tls-files]
  hint: put this node's PEM certificate there or point cert_file at it (or set \
security.tls.enabled = false for a cluster without TLS)"""


def test_golden_missing_cert_file_in_production(reference_model: ConfigModel) -> None:
    issues = ConfigValidator().validate(reference_model, ValidationContext(gpu_count=0))
    (issue,) = [i for i in issues if i.path == "security.tls.cert_file"]
    assert issue.render() == GOLDEN_MISSING_CERT
