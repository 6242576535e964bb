"""The node's HTTP API (DESIGN 1.9): FastAPI app over the `ConfigService` seam."""

from butterfly_config.node.api.app import create_app
from butterfly_config.node.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
