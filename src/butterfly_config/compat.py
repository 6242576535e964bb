"""Whether a node's configuration version fits the cluster's (semantic versioning).

`metadata.config_version` is MAJOR.MINOR.PATCH:
- a different MAJOR is incompatible: the layout or meaning of options changed;
- a different MINOR is compatible, but the newer side may know options the
  older one does not (a warning names which side is newer and what follows);
- a different PATCH is informational only.
While MAJOR is 0 (initial development) the MINOR plays the role of MAJOR, as
semantic versioning allows anything to change before 1.0.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from butterfly_config.errors import UsageError

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

Verdict = Literal["same", "compatible", "incompatible"]


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A parsed semantic version; ordering ignores pre-release and build labels."""

    major: int
    minor: int
    patch: int
    prerelease: str = field(default="", compare=False)
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str, what: str = "version") -> Version:
    """Parse X.Y.Z (with optional -pre and +build); anything else is a usage error."""
    match = _SEMVER.match(text.strip())
    if match is None:
        raise UsageError(
            f"{what} {text!r} is not a semantic version MAJOR.MINOR.PATCH",
            hint="write it like 1.0.0 (three non-negative integers, no leading zeros)",
        )
    return Version(int(match["major"]), int(match["minor"]), int(match["patch"]),
                   match["pre"] or "", text.strip())


@dataclass(frozen=True, slots=True)
class Compatibility:
    """The verdict and the sentences that explain it (warnings are compatible but worth reading)."""

    node: Version
    cluster: Version
    verdict: Verdict
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    hint: str = ""

    @property
    def compatible(self) -> bool:
        return self.verdict != "incompatible"


def _breaking_part(v: Version) -> tuple[int, ...]:
    return (v.major, v.minor) if v.major == 0 else (v.major,)


def check(node: Version, cluster: Version) -> Compatibility:
    """Compare the configuration's version (`node`) with the cluster's."""
    if _breaking_part(node) != _breaking_part(cluster):
        level = "minor (major 0 is initial development)" if node.major == cluster.major else "major"
        line = _breaking_part(cluster)
        return Compatibility(
            node, cluster, "incompatible",
            (f"configuration version {node} and cluster version {cluster} differ in the "
             f"{level} version: options may have been renamed, removed or changed meaning",),
            hint=(f"migrate the configuration with `butterfly config migrate`, or run a "
                  f"configuration of the cluster's version {'.'.join(map(str, line))}.x"),
        )
    reasons: list[str] = []
    warnings: list[str] = []
    if node.minor != cluster.minor:
        if node.minor > cluster.minor:
            warnings.append(
                f"the configuration ({node}) is newer than the cluster ({cluster}): it may set "
                "options the cluster's nodes do not know; those are ignored by them with a "
                "warning and cannot be agreed on cluster-wide until the cluster is upgraded"
            )
        else:
            warnings.append(
                f"the cluster ({cluster}) is newer than the configuration ({node}): options "
                "added since take their defaults on this node; upgrade the configuration to "
                "use them"
            )
    elif node.patch != cluster.patch:
        newer = "configuration" if node.patch > cluster.patch else "cluster"
        reasons.append(
            f"patch versions differ ({node} vs {cluster}, the {newer} is newer): fixes only, "
            "no change to the set of options"
        )
    if node.prerelease or cluster.prerelease:
        reasons.append("a pre-release version is involved: compatibility is not guaranteed "
                       "between pre-releases")
    same = node.text == cluster.text or (node == cluster and not reasons)
    verdict: Verdict = "same" if same and not warnings else "compatible"
    if verdict == "same":
        reasons.insert(0, f"configuration version {node} equals the cluster version")
    else:
        reasons.insert(0, f"major version {node.major} matches: compatible")
    return Compatibility(node, cluster, verdict, tuple(reasons), tuple(warnings))
