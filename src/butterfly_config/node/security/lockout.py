"""Failed-authentication lockout per client address (`security.api`).

`max_failed_auth_attempts` failures from one address within `window_secs`
lock that address for `lockout_duration_secs`; while locked, requests get
HTTP 429 before any credential is checked. A successful authentication
clears the address's failures. The window defaults to the lockout duration
(the configuration has no separate option for it).

Memory is bounded: at most `max_tracked` addresses are remembered. When full,
the least recently seen unlocked address is forgotten (a locked one only when
every tracked address is locked), so a flood of new addresses cannot grow memory without
limit. The clock is injected (monotonic seconds) so tests control time.
Methods take an internal lock, so request handlers on several threads may
share one instance.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from butterfly_config.node.security.errors import LockedOut


@dataclass(slots=True)
class _Tracked:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class AuthLockout:
    """Counts failures per address and answers whether an address is locked."""

    def __init__(
        self,
        max_failures: int,
        lockout_duration_secs: float,
        *,
        window_secs: float | None = None,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lockout_duration_secs < 0 or max_tracked < 1:
            raise ValueError("lockout duration must be >= 0 and max_tracked >= 1")
        self.max_failures = max_failures
        self.lockout_duration = float(lockout_duration_secs)
        self.window = float(lockout_duration_secs if window_secs is None else window_secs)
        self.max_tracked = max_tracked
        self._clock = clock
        self._tracked: OrderedDict[str, _Tracked] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """A limit of 0 (or less) or a zero duration disables the lockout."""
        return self.max_failures > 0 and self.lockout_duration > 0

    def __len__(self) -> int:
        return len(self._tracked)

    def retry_after(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it is not locked."""
        with self._lock:
            entry = self._tracked.get(address)
            if entry is None:
                return None
            remaining = entry.locked_until - self._clock()
            return remaining if remaining > 0 else None

    def check(self, address: str) -> None:
        """Raise `LockedOut` (HTTP 429) while `address` is locked."""
        remaining = self.retry_after(address)
        if remaining is not None:
            raise LockedOut(address, remaining)

    def record_failure(self, address: str) -> bool:
        """Count one failed attempt; True when this failure locks the address."""
        if not self.enabled:
            return False
        with self._lock:
            return self._record_failure(address, self._clock())

    def _record_failure(self, address: str, now: float) -> bool:
        entry = self._tracked.pop(address, None) or _Tracked()
        self._tracked[address] = entry
        if entry.locked_until > now:
            return False
        while entry.failures and entry.failures[0] <= now - self.window:
            entry.failures.popleft()
        entry.failures.append(now)
        locked = len(entry.failures) >= self.max_failures
        if locked:
            entry.locked_until = now + self.lockout_duration
            entry.failures.clear()
        self._evict(now)
        return locked

    def record_success(self, address: str) -> None:
        """Forget the address's failures (it proved it holds valid credentials)."""
        with self._lock:
            entry = self._tracked.get(address)
            if entry is not None and entry.locked_until <= self._clock():
                del self._tracked[address]

    def _evict(self, now: float) -> None:
        """Drop the least recently seen unlocked address (a locked one only if all are)."""
        while len(self._tracked) > self.max_tracked:
            victim = next((a for a, e in self._tracked.items() if e.locked_until <= now), None)
            if victim is None:
                victim = next(iter(self._tracked))
            del self._tracked[victim]
