"""Keep secrets out of everything an operator or a log sees.

One place decides what is secret: options marked `secret` in the schema show
as `***`, and credentials inside URLs (`scheme://user:pass@host`) lose their
password. Errors, `show`, `explain`, `diff` and logs all go through here.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<secret>[^@\s/]*)@")


def redact_text(text: str) -> str:
    """`text` with the password of every `scheme://user:pass@host` replaced by `***`."""
    if "://" not in text:
        return text
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}:{MASK}@", text)


def is_secret(path: str) -> bool:
    """True when the option at `path` (or the one containing it) is marked secret."""
    from butterfly_config.schema import registry

    info = registry.option_info(path)
    while info is None and "." in path:
        path = path.rsplit(".", 1)[0]
        info = registry.option_info(path)
    return info is not None and info.secret


def redact_value(path: str, value: Any) -> Any:
    """What may be shown of `value` at `path`: `***` for secrets, URLs without passwords."""
    if is_secret(path):
        return MASK
    return redact_any(value)


def redact_any(value: Any) -> Any:
    """Remove URL credentials from strings anywhere inside `value` (dicts, lists, tuples)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_any(v) for v in value)
    return value


def redact_tree(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of a nested config dict with every secret masked (for show and export)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and not is_secret(path) and _is_section(path):
            out[key] = redact_tree(value, f"{path}.")
        else:
            out[key] = redact_value(path, value)
    return out


def _is_section(path: str) -> bool:
    from butterfly_config.schema import registry

    return registry.is_section(path)
