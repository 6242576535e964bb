"""Hypothesis strategies for small TOML request bodies, shared by the API fuzz tests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st


def toml_scalar(value: object) -> str:
    """A TOML literal for a bool, int or (sanitised) string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + re.sub(r'["\\\x00-\x1f\x7f]', "", str(value)) + '"'


def toml_documents(sections: Sequence[str], keys: Sequence[str],
                   values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """Up to three `[section]` tables of up to three `key = value` lines each."""
    return st.dictionaries(
        st.sampled_from(list(sections)),
        st.dictionaries(st.sampled_from(list(keys)), values, max_size=3),
        max_size=3,
    ).map(lambda doc: "\n".join(
        f"[{section}]\n" + "\n".join(f"{k} = {toml_scalar(v)}" for k, v in table.items())
        for section, table in doc.items()))
