"""[metadata]: what this configuration is, for whom, and which schema version it follows."""

from __future__ import annotations

from typing import Literal

from .base import Section
from .options import option
from .types import Email, NonEmptyStr, SemVer

Environment = Literal["production", "staging", "development", "test"]


class MetadataSection(Section):
    """Identity and versioning of the configuration itself."""

    config_version: SemVer = option(
        "1.0.0", scope="cluster", mutability="static",
        description="Schema version of this document; nodes compare it to decide compatibility.",
    )
    environment: Environment = option(
        "development", scope="cluster", mutability="static",
        description="Deployment stage; staging and production make missing files and keys errors.",
    )
    cluster_name: NonEmptyStr = option(
        "butterfly-main", scope="cluster", mutability="static",
        description="Name shared by every node of one cluster; tells clusters apart.",
    )
    description: str | None = option(
        None, scope="cluster", mutability="dynamic",
        description="Free text saying what this configuration is for.",
        example="Inference cluster for the chat service",
    )
    operator_email: Email | None = option(
        None, scope="cluster", mutability="dynamic",
        description="Who to contact about this cluster.",
        example="ops@example.com",
    )
