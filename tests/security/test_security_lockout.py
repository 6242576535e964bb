"""Failed-auth lockout: a timeline driven by an injected clock."""

from __future__ import annotations

import pytest

from butterfly_config.node.security import AuthLockout, LockedOut


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lockout_timeline() -> None:
    clock = Clock()
    lockout = AuthLockout(3, 300, clock=clock)
    assert not lockout.record_failure("10.0.0.1")
    clock.now += 10
    assert not lockout.record_failure("10.0.0.1")
    lockout.check("10.0.0.1")  # two failures: not yet locked
    clock.now += 10
    assert lockout.record_failure("10.0.0.1")  # third within the window locks
    with pytest.raises(LockedOut) as info:
        lockout.check("10.0.0.1")
    assert info.value.http_status == 429
    assert info.value.retry_after_secs == 300
    lockout.check("10.0.0.2")  # other addresses are unaffected
    clock.now += 299
    assert lockout.retry_after("10.0.0.1") == pytest.approx(1)
    assert not lockout.record_failure("10.0.0.1")  # failures while locked do not extend it
    clock.now += 1
    lockout.check("10.0.0.1")  # lock over
    assert not lockout.record_failure("10.0.0.1")  # counting starts again from zero


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    lockout = AuthLockout(3, 300, window_secs=60, clock=clock)
    lockout.record_failure("a")
    lockout.record_failure("a")
    clock.now += 61
    assert not lockout.record_failure("a")  # the first two expired
    assert not lockout.record_failure("a")
    assert lockout.record_failure("a")


def test_success_resets_the_count() -> None:
    clock = Clock()
    lockout = AuthLockout(3, 300, clock=clock)
    lockout.record_failure("a")
    lockout.record_failure("a")
    lockout.record_success("a")
    assert not lockout.record_failure("a")
    assert not lockout.record_failure("a")
    assert lockout.record_failure("a")


def test_success_does_not_lift_an_active_lock() -> None:
    clock = Clock()
    lockout = AuthLockout(1, 300, clock=clock)
    assert lockout.record_failure("a")
    lockout.record_success("a")
    assert lockout.retry_after("a") is not None


def test_zero_attempts_disables_lockout() -> None:
    lockout = AuthLockout(0, 300, clock=Clock())
    for _ in range(100):
        assert not lockout.record_failure("a")
    lockout.check("a")
    assert len(lockout) == 0


def test_memory_is_bounded_and_locked_addresses_survive_floods() -> None:
    clock = Clock()
    lockout = AuthLockout(2, 300, max_tracked=100, clock=clock)
    lockout.record_failure("attacker")
    lockout.record_failure("attacker")
    for i in range(10_000):
        lockout.record_failure(f"10.1.{i // 256}.{i % 256}")
    assert len(lockout) <= 100
    with pytest.raises(LockedOut):
        lockout.check("attacker")
