"""Known migration steps and how to chain them from one version to another.

Versions are layout names: "0.9" (alias "legacy") is the older node layout;
"1.0.0" (alias "1.0") is the current schema. A request is answered with the
shortest chain of steps; an unknown pair is a usage error that lists every
supported step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from butterfly_config.errors import UsageError
from butterfly_config.migrations import legacy_0_9
from butterfly_config.migrations.rules import MigrationStep

ALIASES: dict[str, str] = {"legacy": "0.9", "0.9.0": "0.9", "1.0": "1.0.0", "1": "1.0.0"}

STEP_FACTORIES: tuple[Callable[[], MigrationStep], ...] = (legacy_0_9.step,)


def canonical_version(version: str) -> str:
    """"legacy" -> "0.9", "1.0" -> "1.0.0"; other spellings are returned stripped."""
    text = version.strip().lower().removeprefix("v")
    return ALIASES.get(text, text)


def steps() -> list[MigrationStep]:
    return [factory() for factory in STEP_FACTORIES]


def supported_steps_text() -> str:
    lines = [f"  {s.from_version} -> {s.to_version}: {s.title}" for s in steps()]
    aliases = '  ("legacy" is an alias of 0.9, "1.0" of 1.0.0)'
    return "supported steps:\n" + "\n".join([*lines, aliases])


def plan(from_version: str, to_version: str) -> list[MigrationStep]:
    """The shortest chain of steps from `from_version` to `to_version` (breadth-first)."""
    start, goal = canonical_version(from_version), canonical_version(to_version)
    if start == goal:
        raise UsageError(
            f"--from and --to are the same version ({goal}): nothing to migrate",
            hint=supported_steps_text(),
        )
    by_source: dict[str, list[MigrationStep]] = {}
    for s in steps():
        by_source.setdefault(s.from_version, []).append(s)
    queue: deque[tuple[str, list[MigrationStep]]] = deque([(start, [])])
    seen = {start}
    while queue:
        version, chain = queue.popleft()
        for s in by_source.get(version, []):
            if s.to_version == goal:
                return [*chain, s]
            if s.to_version not in seen:
                seen.add(s.to_version)
                queue.append((s.to_version, [*chain, s]))
    raise UsageError(
        f"no migration from {from_version!r} to {to_version!r}",
        hint=supported_steps_text(),
    )
