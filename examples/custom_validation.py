"""Add site-specific validation rules to every configuration load.

    python examples/custom_validation.py

Loads a small production configuration, registers two rules with
`ConfigValidator.register`, and loads it again:

- `site.production-members` (a decorated function): production clusters must
  have at least 7 members, so that they survive two Byzantine members.
- `site.model-hint-strategy` (a class): every `partition.model_hints` entry
  must name a partitioning strategy the cluster knows, with a suggestion for
  typos.

The first load passes; the second is refused with both rules' issues, each
located at its file and line. Exits 0 when the rules behave that way, 1 if not.

In a deployment's own module, decorate at definition time instead:
`@ConfigValidator.register` above `@rule("...")` or above the class.
"""

from __future__ import annotations

import difflib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from butterfly_config.errors import ConfigIssue, ValidationFailed
from butterfly_config.loader import ConfigLoader
from butterfly_config.schema.partition import PartitionStrategy
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext, rule

PRODUCTION_MIN_MEMBERS = 7
KNOWN_STRATEGIES: tuple[str, ...] = get_args(PartitionStrategy)

CONFIG = """\
[metadata]
environment = "production"
cluster_name = "inference-eu"

[node]
node_id = "node-001"

[network]
coordinator_addr = "10.0.0.1:7890"

[partition.model_hints]
"llama-70b" = { strategy = "layer_afinity", layers_per_node = 8 }
"gpt-small" = { strategy = "load_balanced" }
""" + "".join(
    f"""
[[cluster.members]]
node_id = "node-{index:03d}"
addr = "10.0.0.{index}:7890"
api_addr = "10.0.0.{index}:8080"
public_key = "keys/node-{index:03d}.pub"
"""
    for index in range(1, 5)
)


@rule("site.production-members")
def production_has_seven_members(
    config: ConfigModel, ctx: ValidationContext
) -> Iterator[ConfigIssue]:
    """Production must survive two Byzantine members: at least 3*2+1 = 7 members."""
    members = len(config.cluster.members)
    if ctx.environment_of(config) == "production" and members < PRODUCTION_MIN_MEMBERS:
        yield ConfigIssue(
            path="cluster.members",
            message=(
                f"production clusters need at least {PRODUCTION_MIN_MEMBERS} members "
                f"(site policy: tolerate f=2), this one has {members}"
            ),
            hint=f"add {PRODUCTION_MIN_MEMBERS - members} members to cluster.members",
        )


class ModelHintStrategies:
    """Each model hint names a strategy the cluster knows."""

    name = "site.model-hint-strategy"

    def check(self, config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        for model_name, hint in config.partition.model_hints.items():
            strategy = hint.get("strategy")
            if strategy in KNOWN_STRATEGIES:
                continue
            close = difflib.get_close_matches(str(strategy), KNOWN_STRATEGIES, n=1)
            suggestion = f"did you mean '{close[0]}'?" if close else ""
            yield ConfigIssue(
                path=f"partition.model_hints.{model_name}",
                message=f"model hint '{model_name}' names unknown strategy {strategy!r}",
                hint=" ".join(
                    part for part in (suggestion, f"known: {', '.join(KNOWN_STRATEGIES)}") if part
                ),
            )


def load(path: Path) -> None:
    """Load like `butterfly config validate` would, without touching this machine's files."""
    ConfigLoader().add_file(path).set_environ({}).check_paths(False).load()


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "cluster.toml"
        path.write_text(CONFIG, encoding="utf-8")

        print("without the site rules:")
        try:
            load(path)
        except ValidationFailed as refused:
            print(refused.render())
            print("unexpected: the built-in rules alone should accept this file")
            return 1
        print("  accepted\n")

        ConfigValidator.register(production_has_seven_members)
        ConfigValidator.register(ModelHintStrategies)  # a class is instantiated once
        print("with the site rules:")
        try:
            load(path)
        except ValidationFailed as refused:
            print(refused.render())
            fired = {issue.rule for issue in refused.errors if issue.severity == "error"}
            return 0 if fired == {"site.production-members", "site.model-hint-strategy"} else 1
        print("unexpected: the site rules should refuse this file")
        return 1


if __name__ == "__main__":
    sys.exit(main())
