"""Command line: `butterfly ...` (argparse, handlers imported lazily to keep start-up fast)."""
