"""Results of one simulated run and the summary over many seeds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class RunResult:
    """What one seed did, and whether it broke anything."""

    seed: int
    nodes: int
    byzantine: dict[str, str]
    commits: int = 0
    aborts: int = 0
    view_changes: int = 0
    messages: int = 0
    bytes_sent: int = 0
    events: int = 0
    end_ms: int = 0
    violations: list[str] = field(default_factory=list)
    liveness_failure: str | None = None
    trace: list[str] = field(default_factory=list)
    trace_hash: str = ""
    evidence: dict[str, int] = field(default_factory=dict)
    """How often honest members found evidence against each member."""
    crash_points: dict[str, int] = field(default_factory=dict)
    """Crashes of honest members, by when they fell (see runner.Counters)."""

    @property
    def ok(self) -> bool:
        return not self.violations and self.liveness_failure is None

    def describe(self) -> str:
        """A readable failure report: seed, setting, what broke, then the last events."""
        byz = ", ".join(f"{n}={s}" for n, s in sorted(self.byzantine.items())) or "none"
        lines = [f"seed {self.seed}: n={self.nodes} byzantine: {byz}"]
        lines += [f"  VIOLATION: {v}" for v in self.violations]
        if self.liveness_failure:
            lines.append(f"  LIVENESS: {self.liveness_failure}")
        if self.trace:
            lines.append(f"  last {len(self.trace)} events (of {self.events}):")
            lines += [f"    {line}" for line in self.trace]
        return "\n".join(lines)


@dataclass(slots=True)
class Summary:
    """Totals over a batch of seeds, as `butterfly sim` prints them."""

    runs: int = 0
    commits: int = 0
    aborts: int = 0
    view_changes: int = 0
    messages: int = 0
    bytes_sent: int = 0
    evidence_against_byzantine: int = 0
    evidence_against_honest: int = 0
    violation_seeds: list[int] = field(default_factory=list)
    liveness_seeds: list[int] = field(default_factory=list)
    failures: list[RunResult] = field(default_factory=list)
    crash_points: Counter[str] = field(default_factory=Counter)

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.crash_points.update(result.crash_points)
        self.commits += result.commits
        self.aborts += result.aborts
        self.view_changes += result.view_changes
        self.messages += result.messages
        self.bytes_sent += result.bytes_sent
        for member, count in result.evidence.items():
            if member in result.byzantine:
                self.evidence_against_byzantine += count
            else:
                self.evidence_against_honest += count
        if result.violations:
            self.violation_seeds.append(result.seed)
        if result.liveness_failure is not None:
            self.liveness_seeds.append(result.seed)
        if not result.ok:
            self.failures.append(result)

    @property
    def ok(self) -> bool:
        return not self.violation_seeds and not self.liveness_seeds

    def per_commit(self, total: int) -> float:
        return total / self.commits if self.commits else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "commits": self.commits,
            "aborts": self.aborts,
            "view_changes": self.view_changes,
            "evidence_against_byzantine": self.evidence_against_byzantine,
            "evidence_against_honest": self.evidence_against_honest,
            "invariant_violations": len(self.violation_seeds),
            "violation_seeds": self.violation_seeds,
            "liveness_failures": len(self.liveness_seeds),
            "liveness_seeds": self.liveness_seeds,
            "messages": self.messages,
            "bytes": self.bytes_sent,
            "messages_per_commit": round(self.per_commit(self.messages), 2),
            "bytes_per_commit": round(self.per_commit(self.bytes_sent), 1),
            "ok": self.ok,
        }

    def render(self) -> str:
        d = self.as_dict()
        return "\n".join(
            [
                f"runs:                 {d['runs']}",
                f"commits:              {d['commits']}",
                f"aborts:               {d['aborts']}",
                f"view changes:         {d['view_changes']}",
                f"evidence found:       {d['evidence_against_byzantine']} against Byzantine "
                f"members, {d['evidence_against_honest']} against honest ones",
                f"invariant violations: {d['invariant_violations']}"
                + (f"  seeds: {_seed_list(self.violation_seeds)}" if self.violation_seeds else ""),
                f"liveness failures:    {d['liveness_failures']}"
                + (f"  seeds: {_seed_list(self.liveness_seeds)}" if self.liveness_seeds else ""),
                f"messages per commit:  {d['messages_per_commit']}",
                f"bytes per commit:     {d['bytes_per_commit']}",
                "result:               " + ("OK" if self.ok else "FAILED"),
            ]
        )


def _seed_list(seeds: list[int], limit: int = 20) -> str:
    shown = " ".join(str(s) for s in seeds[:limit])
    return shown + (f" ... (+{len(seeds) - limit})" if len(seeds) > limit else "")
