"""The whole configuration document: one field per section, in file order."""

from __future__ import annotations

from pydantic import Field

from .advanced import AdvancedSection
from .base import Section
from .byzantine import ByzantineSection
from .cluster import ClusterSection
from .include import IncludeSection
from .metadata import MetadataSection
from .network import NetworkSection
from .node import NodeSection
from .observability import ObservabilitySection
from .partition import PartitionSection
from .resources import ResourcesSection
from .scheduling import SchedulingSection
from .security import SecuritySection


class ConfigModel(Section):
    """A complete Butterfly node configuration."""

    metadata: MetadataSection = Field(default_factory=MetadataSection)
    include: IncludeSection = Field(default_factory=IncludeSection)
    node: NodeSection = Field(default_factory=NodeSection)
    network: NetworkSection = Field(default_factory=NetworkSection)
    byzantine: ByzantineSection = Field(default_factory=ByzantineSection)
    partition: PartitionSection = Field(default_factory=PartitionSection)
    scheduling: SchedulingSection = Field(default_factory=SchedulingSection)
    resources: ResourcesSection = Field(default_factory=ResourcesSection)
    observability: ObservabilitySection = Field(default_factory=ObservabilitySection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    advanced: AdvancedSection = Field(default_factory=AdvancedSection)
    cluster: ClusterSection = Field(default_factory=ClusterSection)


SECTION_NAMES: tuple[str, ...] = tuple(ConfigModel.model_fields)
