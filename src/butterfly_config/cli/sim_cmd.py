"""`butterfly sim`: run the deterministic consensus simulator over a range of seeds.

Exit 0 only when no seed broke an invariant and none failed liveness; every
failing seed is printed so it can be replayed alone with `--seed-start SEED
--seeds 1 --trace`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from butterfly_config.errors import UsageError


def run(args: argparse.Namespace) -> int:
    from butterfly_config.consensus.sim.byzantine import STRATEGY_NAMES
    from butterfly_config.consensus.sim.network import PROFILES
    from butterfly_config.consensus.sim.runner import SimParams, run_seeds

    nodes, faulty, seeds = args.nodes, args.faulty, args.seeds
    if not 4 <= nodes <= 31:
        raise UsageError(f"--nodes {nodes} is out of range", hint="simulate 4 to 31 members")
    if faulty < 0 or 3 * faulty + 1 > nodes:
        raise UsageError(
            f"--faulty {faulty} does not fit --nodes {nodes}",
            hint=f"Byzantine tolerance needs n >= 3f+1: at most f={(nodes - 1) // 3} for n={nodes}",
        )
    if seeds < 1 or args.seed_start < 0:
        raise UsageError("--seeds must be at least 1 and --seed-start not negative")
    choices = ("all", "none", *STRATEGY_NAMES)
    if args.byzantine not in choices:
        raise UsageError(
            f"unknown Byzantine strategy {args.byzantine!r}",
            hint="choose one of: " + ", ".join(choices),
        )
    params = SimParams(
        nodes=nodes,
        faulty=faulty,
        byzantine=args.byzantine,
        network=PROFILES[args.network],
    )
    progress = _progress_printer(seeds) if not args.json and sys.stderr.isatty() else None
    summary = run_seeds(params, range(args.seed_start, args.seed_start + seeds), progress)
    if args.json:
        out = summary.as_dict()
        out["failures"] = [
            {
                "seed": r.seed,
                "byzantine": r.byzantine,
                "violations": r.violations,
                "liveness_failure": r.liveness_failure,
                **({"trace": r.trace} if args.trace else {}),
            }
            for r in summary.failures
        ]
        print(json.dumps(out, indent=2))
    else:
        print(
            f"simulated n={nodes} f={faulty} byzantine={args.byzantine} "
            f"network={args.network} seeds {args.seed_start}..{args.seed_start + seeds - 1}"
        )
        for result in summary.failures:
            if args.trace:
                print(result.describe())
            else:
                first = result.violations[0] if result.violations else result.liveness_failure
                print(f"seed {result.seed} FAILED: {first}")
        print(summary.render())
        if summary.failures and not args.trace:
            seed = summary.failures[0].seed
            print(
                f"replay one: butterfly sim --nodes {nodes} --faulty {faulty} "
                f"--byzantine {args.byzantine} --network {args.network} "
                f"--seed-start {seed} --seeds 1 --trace"
            )
    return 0 if summary.ok else 1


def _progress_printer(total: int) -> Callable[[int], None]:
    step = max(1, total // 100)

    def report(done: int) -> None:
        if done % step == 0 or done == total:
            print(f"\r{done}/{total} seeds", end="" if done < total else "\n", file=sys.stderr)

    return report
