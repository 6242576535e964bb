"""Components inside a node that react to configuration changes.

A subscriber may veto a proposed configuration (`before_config_change` returns
a reason); the node then answers the coordinator with PREPARE_REJECT and the
update aborts everywhere. After a change is applied, `on_config_changed` gets
the old and new immutable snapshots. A subscriber that raises never blocks the
others: a crash in the veto check counts as a veto (safe side), a crash after
the change is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from butterfly_config.config import ButterflyConfig

log = logging.getLogger("butterfly.subscribers")


class ConfigSubscriber:
    """Base class: override what you need; the defaults accept every change."""

    name: str = "subscriber"

    def before_config_change(self, proposed: ButterflyConfig) -> str | None:
        """Return a reason to refuse `proposed`, or None to accept it."""
        return None

    def on_config_changed(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        """Called once a change is applied and persisted."""
        return None


class SubscriberSet:
    """The node's subscribers, called in registration order."""

    def __init__(self) -> None:
        self._subscribers: list[ConfigSubscriber] = []

    def add(self, subscriber: ConfigSubscriber) -> None:
        self._subscribers.append(subscriber)

    def remove(self, subscriber: ConfigSubscriber) -> None:
        self._subscribers = [s for s in self._subscribers if s is not subscriber]

    def __len__(self) -> int:
        return len(self._subscribers)

    def veto(self, proposed: ButterflyConfig) -> str | None:
        """The first subscriber's reason to refuse, prefixed by its name."""
        for subscriber in self._subscribers:
            try:
                reason = subscriber.before_config_change(proposed)
            except Exception as exc:
                log.exception("subscriber %s failed in before_config_change", subscriber.name)
                return f"{subscriber.name}: check failed ({type(exc).__name__})"
            if reason:
                return f"{subscriber.name}: {reason}"
        return None

    def notify(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber.on_config_changed(old, new)
            except Exception:
                log.exception("subscriber %s failed in on_config_changed", subscriber.name)
