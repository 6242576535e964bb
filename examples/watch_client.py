"""Follow a node's configuration revisions and print each change.

    python examples/watch_client.py --url http://127.0.0.1:8080 --count 3 --timeout 60

Each committed revision prints one line with its number, hash prefix, action,
initiator and changed options. The watch is a long-poll: one request waits up
to --poll seconds on the node, so changes show up as soon as they commit
without busy polling. Stops after --count changes (exit 0) or when --timeout
seconds pass first (exit 1). Connection and credential problems print one
message and exit 2, like the CLI.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from butterfly_config.client import ButterflyClient
from butterfly_config.errors import ButterflyError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BUTTERFLY_API_URL",
                                                        "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("BUTTERFLY_API_TOKEN"))
    parser.add_argument("--count", type=int, default=0,
                        help="stop after this many changes (0: until --timeout)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="stop after this many seconds in total")
    parser.add_argument("--poll", type=float, default=25.0,
                        help="longest single long-poll, in seconds")
    return parser.parse_args(argv)


def describe(client: ButterflyClient, revision: int) -> str:
    """The history entry of `revision`, as one line (falls back to the number alone)."""
    for entry in client.history(limit=5):
        if entry.get("revision") == revision:
            changes = entry.get("changed_paths") or [
                c.get("path") for c in entry.get("changes", []) if isinstance(c, dict)]
            changed = ", ".join(str(p) for p in changes) or "-"
            return (f"action={entry.get('action', '-')} "
                    f"by={entry.get('initiator', '-')} changed={changed}")
    return ""


def watch(client: ButterflyClient, count: int, timeout: float, poll: float) -> int:
    deadline = time.monotonic() + timeout
    _document, revision, etag = client.get()
    print(f"watching {client.url}: revision {revision} hash {etag.strip(chr(34))[:12]}",
          flush=True)
    seen = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return 1 if count else 0
        result = client.watch(after=revision, timeout=max(0.05, min(poll, remaining)))
        if not result.get("changed"):
            continue
        new_revision = int(result["revision"])
        for committed in range(revision + 1, new_revision + 1):
            seen += 1
            detail = describe(client, committed)
            shown = str(result["cluster_hash"])[:12] if committed == new_revision else "-"
            print(f"revision {committed} hash {shown} {detail}".rstrip(), flush=True)
            if count and seen >= count:
                return 0
        revision = new_revision


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with ButterflyClient(args.url, token=args.token) as client:
            return watch(client, args.count, args.timeout, args.poll)
    except ButterflyError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
