"""[include]: other files merged underneath this one.

The directive decides where values come from; it is not itself configuration
and belongs to no hash.
"""

from __future__ import annotations

from .base import Section
from .options import option
from .types import NonEmptyStr


class IncludeSection(Section):
    """Files loaded before this one, in order; this file overrides them."""

    files: tuple[NonEmptyStr, ...] = option(
        (), scope="node", mutability="dynamic",
        description="TOML files to merge first, relative to the file naming them; later ones win.",
    )
