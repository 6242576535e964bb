"""Hooks that let integration tests reach inside a real node process.

Nothing here is active unless the node runs with `BUTTERFLY_TEST_HOOKS=1`
(the variables are reserved: the environment source never reads them as
options). `BUTTERFLY_TEST_VETO="option.path=value"` registers a subscriber
that vetoes every proposed configuration in which that option has that
value, so a test can make one member answer PREPARE_REJECT the way a real
in-process component would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from butterfly_config import toml_text
from butterfly_config.errors import UsageError
from butterfly_config.node.subscribers import ConfigSubscriber

if TYPE_CHECKING:
    from butterfly_config.config import ButterflyConfig
    from butterfly_config.node.manager import ConfigManager

log = logging.getLogger("butterfly.test_hooks")

HOOKS_VARIABLE = "BUTTERFLY_TEST_HOOKS"
VETO_VARIABLE = "BUTTERFLY_TEST_VETO"




def _same(current: Any, wanted: Any) -> bool:
    return bool(current == wanted or str(current) == str(wanted))


class ValueVeto(ConfigSubscriber):
    """Refuses any configuration in which `path` equals `value`."""

    name = "test-veto"

    def __init__(self, path: str, value: Any) -> None:
        self.path = path
        self.value = value

    def before_config_change(self, proposed: ButterflyConfig) -> str | None:
        if _same(proposed.get_value(self.path), self.value):
            return f"{self.path} = {self.value!r} is vetoed ({VETO_VARIABLE})"
        return None


def veto_from(spec: str) -> ValueVeto:
    """`option.path=value` -> a `ValueVeto`; a malformed spec is a UsageError."""
    from butterfly_config.schema.registry import options, suggest

    path, sep, raw = spec.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UsageError(f"{VETO_VARIABLE} must look like option.path=value, not {spec!r}")
    if path not in options():
        close = suggest(path)
        raise UsageError(f"{VETO_VARIABLE}: {path!r} is not an option",
                         hint=f"did you mean {close}?" if close else "")
    return ValueVeto(path, toml_text.value_or_text(raw.strip()))


def install(manager: ConfigManager, environ: Mapping[str, str] | None = None) -> list[str]:
    """Register the hooks the environment asks for; returns their names (for the log)."""
    env = os.environ if environ is None else environ
    if env.get(HOOKS_VARIABLE) != "1":
        return []
    installed: list[str] = []
    spec = env.get(VETO_VARIABLE, "").strip()
    if spec:
        veto = veto_from(spec)
        manager.subscribers.add(veto)
        installed.append(f"{veto.name} ({veto.path} = {veto.value!r})")
        log.warning("test hook: vetoing proposals with %s = %r", veto.path, veto.value)
    return installed
