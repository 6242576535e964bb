"""Per-member reputation (byzantine.reputation) as this replica judges it.

Scores start at initial_score, recover by recovery_rate for every vote that
ends up in a commit certificate (capped at initial_score), lose decay_rate
for a failed operation (an unverifiable veto) and critical_failure_penalty
for proven misbehaviour (evidence). Below suspect_threshold a member is
`suspect`; below isolate_threshold it is `isolated` and the replica ignores
its messages (the quorum size does not change). With reputation disabled,
scores never move and nobody is isolated.
"""

from __future__ import annotations

from collections.abc import Iterable

from butterfly_config.consensus.params import ReputationParams
from butterfly_config.consensus.state import MemberState


class Reputation:
    def __init__(
        self,
        params: ReputationParams,
        members: Iterable[str],
        saved: Iterable[tuple[str, float]] = (),
    ) -> None:
        self.params = params
        self._scores = {m: params.initial_score for m in members}
        for member, score in saved:
            if member in self._scores:
                self._scores[member] = score

    def score(self, member: str) -> float:
        return self._scores.get(member, self.params.initial_score)

    def state(self, member: str) -> MemberState:
        if not self.params.enabled:
            return "trusted"
        score = self.score(member)
        if score < self.params.isolate_threshold:
            return "isolated"
        if score < self.params.suspect_threshold:
            return "suspect"
        return "trusted"

    def is_isolated(self, member: str) -> bool:
        return self.state(member) == "isolated"

    def penalize(self, member: str, critical: bool) -> bool:
        """Lower a score; True when it changed."""
        amount = self.params.critical_failure_penalty if critical else self.params.decay_rate
        return self._set(member, self.score(member) - amount)

    def reward(self, member: str) -> bool:
        target = min(self.params.initial_score, self.score(member) + self.params.recovery_rate)
        return self._set(member, target)

    def reset(self, member: str) -> bool:
        return self._set(member, self.params.initial_score)

    def _set(self, member: str, score: float) -> bool:
        if not self.params.enabled or member not in self._scores:
            return False
        if score == self._scores[member]:
            return False
        self._scores[member] = score
        return True

    def snapshot(self) -> tuple[tuple[str, float], ...]:
        return tuple(sorted(self._scores.items()))
