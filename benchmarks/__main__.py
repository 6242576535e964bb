"""`make bench` / `python -m benchmarks [--quick] [--only NAME] [--write]`.

Runs each suite, prints Markdown tables, and with --write replaces the
figures section of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

from benchmarks.report import table

SUITES = [
    ("config_load", "Loading, validation and hashing"),
    ("consensus_sim", "Consensus core (simulated network)"),
    ("consensus_crypto", "Consensus signatures and state machine"),
    ("manager_memory", "Manager memory (in-process)"),
    ("node_cluster", "Real node processes on 127.0.0.1"),
    ("hot_reload", "Hot reload on real node processes"),
    ("view_change", "Coordinator failure on real node processes"),
]
README = Path(__file__).resolve().parent / "README.md"
MARK = "<!-- figures -->"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer runs (smoke test)")
    parser.add_argument("--only", action="append", default=[], help="suite name(s) to run")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    command = " ".join(["python -m benchmarks", *sys.argv[1:]])
    sections = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"Python {platform.python_version()}, `{command}`.\n"
    ]
    failed = False
    for name, title in SUITES:
        if args.only and name not in args.only:
            continue
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            continue
        try:
            figures = module.run(quick=args.quick)
        except Exception as exc:  # a broken suite is reported, the others still run
            print(f"{name}: FAILED: {exc!r}", file=sys.stderr)
            failed = True
            continue
        section = table(title, figures)
        print(section)
        sections.append(section)
    if args.write:
        text = README.read_text(encoding="utf-8") if README.exists() else MARK + "\n"
        head = text.split(MARK)[0]
        README.write_text(head + MARK + "\n\n" + "\n".join(sections), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
