"""Values of every kind and edge, for property tests that set options at random:
valid and invalid for most options, and the ones the agreed encoding or TOML
cannot carry as they are (inf, integers beyond 64 bits, NUL, non-UTF-8 text,
integral floats, deep nesting)."""

from __future__ import annotations

from typing import Any

ODD_VALUES: list[Any] = [
    0, 1, -1, 2, 3, 7, 100, 10**6, 2**62, 2**70, 0.5, 1.0, 2.0, -0.0, float("inf"), 1e309,
    True, False, "", "x", "tcp", "least_loaded", "debug", "30s", "1GiB", "10.0.0.1:7000",
    "a\x00b", "a\udcffb", [], ["a"], [1, 2], [1.0, 2.5], {}, {"k": 1}, None,
    {"m": {"n": 8.0}}, {"m": {"n": [[[[1]]]]}},
]
