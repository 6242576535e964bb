"""Errors of the history store and the current.toml mirror."""

from __future__ import annotations

from collections.abc import Sequence

from butterfly_config.errors import ButterflyError, ConfigIOError, UsageError


class HistoryError(ButterflyError):
    """The history store refused an operation."""


class ChainViolation(HistoryError):
    """An appended revision would break the hash chain (a gap or a wrong parent)."""


class HistoryCorrupt(ConfigIOError):
    """The database file is damaged, truncated or not a history database."""


class HistoryInUse(ConfigIOError):
    """Another process has the same history database open."""


class RevisionNotFound(UsageError):
    """No revision matches a version given by an operator."""


class AmbiguousVersion(UsageError):
    """A hash prefix matches several different configurations."""

    def __init__(self, spec: str, candidates: Sequence[str]) -> None:
        listing = "; ".join(candidates)
        super().__init__(
            f"version {spec!r} is ambiguous: it matches {listing}",
            hint="give more hash digits or the revision number",
        )
        self.candidates = tuple(candidates)


class AmbiguousConfigVersion(AmbiguousVersion):
    """A config_version carried by revisions of different configurations."""

    def __init__(self, spec: str, oldest: int, newest: int) -> None:
        UsageError.__init__(
            self,
            f"config_version {spec!r} names no single configuration: revisions {oldest} to "
            f"{newest} carry it with different contents (metadata.config_version is "
            "static-critical, so every revision since the cluster booted carries the same "
            "one)",
            hint="give the revision number or a cluster_hash prefix; `butterfly config "
                 "history` lists them",
        )
        self.candidates = ()


class MirrorCorrupt(ConfigIOError):
    """current.toml is truncated, edited or lacks its header."""
