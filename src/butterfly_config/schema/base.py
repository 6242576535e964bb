"""The base of every schema model: immutable, and strict about its keys.

Unknown keys are stripped and reported by the loader (with file and line)
before validation, so a key that still reaches a model is a bug to refuse.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A table of the configuration file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
