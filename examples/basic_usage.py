"""Load a configuration, read typed values, explain options, print the cluster hash.

    python examples/basic_usage.py [CONFIG.toml]

Without an argument it loads the reference option file
(../shared/reference/config_schema.toml next to this repository). The file
says `environment = "production"` and points TLS and key options at
/etc/butterfly paths that a fresh machine does not have, so the example checks
it as `development`, where missing files are warnings rather than errors.
Environment variables `BUTTERFLY_*` apply as they would for a node.

Exit 0 on success; 1 (or 2 for a missing file) with a readable message if the
configuration is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ButterflyError
from butterfly_config.loader import ConfigLoader
from butterfly_config.schema import registry

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO.parent / "shared" / "reference" / "config_schema.toml"


def explain(config: ButterflyConfig, path: str) -> None:
    """What `butterfly config explain` tells: meaning, category, value and where it came from."""
    info = registry.option_info(path)
    if info is None:
        raise KeyError(path)
    unit = f" ({info.unit})" if info.unit else ""
    print(f"{path}{unit}: {info.description}")
    print(f"  scope={info.scope} mutability={info.mutability} -> {info.category}")
    print(f"  default={info.default!r} value={config.get_value(path)!r}")
    print(f"  source: {config.provenance(path).describe()}")


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_CONFIG
    try:
        config = ConfigLoader().add_file(path).set_environment("development").load()
    except ButterflyError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    print(f"loaded {path} (checked as development): {len(config.warnings)} warning(s)")
    for warning in config.warnings[:3]:
        print(f"  {warning.render().splitlines()[0]}")

    # Typed access: the model is a frozen pydantic object, so mypy knows every type.
    model = config.model
    f_value: int = model.byzantine.f_value
    listen_addr: str = model.network.listen_addr
    max_message: int = model.network.buffers.max_message_size_bytes
    print(f"cluster {model.metadata.cluster_name!r}, node {model.node.node_id!r} "
          f"({model.node.role}), listens on {listen_addr}")
    print(f"tolerates f = {f_value} Byzantine member(s); messages up to {max_message} bytes")
    print(f"compression: {config.get_value('network.compression.algorithm')}")

    print()
    explain(config, "network.compression.algorithm")  # dynamic-consensus: changed by the cluster
    explain(config, "node.node_id")  # static-local: this node only, restart to change
    explain(config, "metadata.environment")

    print()
    print(f"cluster_hash: {config.cluster_hash}")
    print(f"full_hash:    {config.full_hash}")
    # Node-local options are outside the cluster hash: every node may differ there.
    moved = config.with_values({"network.listen_addr": "0.0.0.0:7999"})
    same = moved.cluster_hash == config.cluster_hash
    print(f"another listen_addr keeps the cluster_hash: {same}; "
          f"changes the full_hash: {moved.full_hash != config.full_hash}")
    return 0 if same and moved.full_hash != config.full_hash else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
